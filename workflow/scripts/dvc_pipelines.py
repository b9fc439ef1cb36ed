"""Write the two DVC pipelines of the project from one description, and the demo's parameter file.

    python workflow/scripts/dvc_pipelines.py           # (re)write dvc.yaml, demo/dvc.yaml, demo/params.yaml
    python workflow/scripts/dvc_pipelines.py --check   # exit 1, naming the file, if one is out of date

Two output roots, two locks, one set of stages:
* the paper run: dvc.yaml at the project root, parameters params.yaml, outputs results/ and
  reports/, lock dvc.lock (`dvc repro`);
* the CPU demo: demo/dvc.yaml, parameters demo/params.yaml = params.yaml with workflow/demo.yaml
  merged in (the same merge as Snakemake's --configfile), outputs under demo/, lock demo/dvc.lock
  (`make run` = `dvc repro demo/dvc.yaml`).
DVC runs a stage in its dvc.yaml's folder; Snakemake, started there by snakemake_stage.py, reads
`params.yaml` of that folder and writes its outputs there.  So the lock records exactly the
parameters the outputs were made with, and neither run can touch the other's lock or outputs.

Each stage's code dependencies are the package files its rules' jobs import (code_deps.py), never
listed by hand; the generated files are committed, and tests/test_pipeline_dvc.py fails when they
are out of date.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_deps import PROJECT, rule_code  # noqa: E402
from generated_files import sync  # noqa: E402

DEMO = "demo"
GENERATED = "# Generated from {source} by workflow/scripts/dvc_pipelines.py (make run runs it): do not edit.\n"

# Workflow files every stage's Snakemake run reads.
WORKFLOW = ["workflow/Snakefile", "workflow/rules/common.smk", "workflow/schemas", "workflow/scripts/snakemake_stage.py",
            "workflow/scripts/code_deps.py", "workflow/scripts/dvc_pipelines.py"]  # fmt: skip


def stage(targets, rules, rule_files, params, outs, *, after=(), metrics=(), extra_deps=()):
    return dict(targets=targets, rules=rules, rule_files=rule_files, params=params, outs=outs,
                after=list(after), metrics=list(metrics), extra_deps=list(extra_deps))  # fmt: skip


# The stages: Snakemake targets, the rules whose jobs they run, what they read and write.  `after`:
# outputs of earlier stages this one reads (DVC orders the stages by them).
STAGES = {
    "ufm": stage(["ufm_all"], ["ufm"], ["ufm.smk"], ["ufm"], ["results/ufm"]),
    "theory": stage(["theory", "dvc_metrics_theory"], ["theory"], ["theory.smk", "dvc_metrics.smk"], ["ufm"],
                    ["results/theory"], after=["results/ufm"], metrics=["results/dvc-metrics/theory.json"],
                    extra_deps=["workflow/scripts/dvc_metrics.py"]),
    "lowrank": stage(["lowrank"], ["lowrank"], ["lowrank.smk"], ["ufm"], ["results/lowrank"]),
    "train": stage(["train_all"], ["data", "train"], ["data.smk", "train.smk"], ["networks"], ["data", "results/runs"]),
    "features": stage(["features_all"], ["features"], ["features.smk"], ["networks"], ["results/features"],
                      after=["results/runs"]),
    "metrics": stage(["metrics_all", "network_summary", "dvc_metrics_networks"], ["metrics", "network_summary"],
                     ["metrics.smk", "dvc_metrics.smk"], ["networks"], ["results/metrics", "results/summary"],
                     after=["results/features"], metrics=["results/dvc-metrics/nets"],
                     extra_deps=["workflow/scripts/dvc_metrics.py"]),
    "asymptotic": stage(["asymptotic"], ["asymptotic"], ["asymptotic.smk"], ["asymptotic"], ["results/asymptotic"]),
    "reports": stage(["all"], ["report_page", "report_index", "report_math"], ["reports.smk"], ["reports"],
                     ["reports/index.html", "reports/math.html", "reports/pages", "reports/figures", "reports/data",
                      "reports/notebooks"],
                     after=["results/ufm", "results/theory", "results/lowrank", "results/summary", "results/metrics",
                            "results/asymptotic"],
                     extra_deps=["workflow/notebooks", "workflow/nbconvert", "docs/math.md"]),
}  # fmt: skip


def rules_of(name: str) -> list[str]:
    return STAGES[name]["rules"]


def code_deps(name: str) -> list[str]:
    return sorted({str(path) for rule in rules_of(name) for path in rule_code(rule)})


def pipeline(root: str) -> dict:
    """dvc.yaml of the pipeline whose dvc.yaml lies in folder `root` (relative to the project)."""
    up = os.path.relpath(".", root) if root != "." else "."

    def project(path):
        return os.path.normpath(os.path.join(up, path))

    stages = {}
    for name, spec in STAGES.items():
        deps = [project(p) for p in WORKFLOW]
        deps += [project(f"workflow/rules/{f}") for f in spec["rule_files"]]
        deps += [project(p) for p in spec["extra_deps"]]
        deps += [project(p) for p in code_deps(name)]
        deps += spec["after"]
        entry = {"cmd": f"python {project('workflow/scripts/snakemake_stage.py')} {name}", "deps": deps,
                 "params": spec["params"], "outs": [{out: {"persist": True}} for out in spec["outs"]]}  # fmt: skip
        if spec["metrics"]:
            entry["metrics"] = [{m: {"persist": True}} for m in spec["metrics"]]
        stages[name] = entry
    # `dvc plots show`: the data of every report figure (tidy CSV: panel, series, kind, x, y, value)
    # with DVC's own scatter template; the PNG/SVG files stay the report's (declaring the figure
    # folder would show every figure twice).
    return {"stages": stages, "plots": [{"reports/data": {"x": "x", "y": "y", "template": "scatter"}}]}


def merged(base: dict, overrides: dict) -> dict:
    """Snakemake's --configfile merge: nested mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def demo_params(project: Path) -> dict:
    base = yaml.safe_load((project / "params.yaml").read_text())
    return merged(base, yaml.safe_load((project / "workflow/demo.yaml").read_text()) or {})


HEADER = """# DVC stages over the Snakemake DAG, {what}.
# Snakemake is the only scheduler (locally or on SLURM); each stage runs its Snakemake targets through workflow/scripts/snakemake_stage.py, which
# forces the rules whose package code changed since this lock (Snakemake alone would not see it).
# Outputs are `persist: true`: DVC must not delete them before a stage, or Snakemake would redo
# every job of it.  Where jobs run: SNAKEMAKE_PROFILE (default workflow/profiles/local).
"""


def files(project: Path = PROJECT) -> dict[Path, str]:
    """Every generated file and its content."""
    dump = lambda data: yaml.safe_dump(data, sort_keys=False, width=120)  # noqa: E731
    gen = GENERATED.format(source="its STAGES")
    return {
        project / "dvc.yaml": gen + HEADER.format(what="the paper run: params.yaml -> results/, reports/; `dvc repro`") + dump(pipeline(".")),
        project / DEMO / "dvc.yaml": gen + HEADER.format(what="the CPU demo: demo/params.yaml -> demo/; `make run`") + dump(pipeline(DEMO)),
        project / DEMO / "params.yaml": GENERATED.format(source="params.yaml + workflow/demo.yaml")
        + "# The parameters of the demo's outputs under demo/ (what demo/dvc.lock records).\n"
        + dump(demo_params(project)),
    }  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the generated files are up to date")
    args = parser.parse_args(argv)
    return sync(files(), check=args.check, root=PROJECT, command="python workflow/scripts/dvc_pipelines.py")


if __name__ == "__main__":
    sys.exit(main())
