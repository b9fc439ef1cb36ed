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

The stages are the package's stage table (src/deepcollapse/stages.py), each described once there:
its Snakemake targets, rule files, params sections, tracked outputs and inputs (other stages'
outputs, which order the stages).  Each stage's code dependencies are the package files its
rules' jobs import (code_deps.py), never listed by hand; the generated files are committed, and
tests/unit/workflow/test_dvc_deps.py fails when they are out of date.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from code_deps import PROJECT, rule_code, stages  # noqa: E402
from generated_files import sync  # noqa: E402

Stage = stages.Stage
# The stages, each described once in the package: deepcollapse/stages.py.
STAGES = stages.STAGES

DEMO = "demo"
GENERATED = "# Generated from {source} by workflow/scripts/dvc_pipelines.py (make run runs it): do not edit.\n"

# Workflow files every stage's Snakemake run reads (the stage table too: see code_deps.DECLARATIONS).
WORKFLOW = ["workflow/Snakefile", "workflow/rules/common.smk", "workflow/schemas", "workflow/scripts/snakemake_stage.py",
            "workflow/scripts/code_deps.py", "workflow/scripts/dvc_pipelines.py", "src/deepcollapse/stages.py"]  # fmt: skip


def rules_of(name: str) -> list[str]:
    """The stage's rules whose jobs run package code (forced when that code changes)."""
    return [job.rule for job in STAGES[name].jobs if job.command.how != "script"]


def code_deps(name: str, project: Path = PROJECT) -> list[str]:
    return sorted({str(path) for rule in rules_of(name) for path in rule_code(rule, project)})


def extra_deps(stage: Stage) -> list[str]:
    """Project files the stage's jobs read that are neither package code nor rule files: the
    workflow scripts they run, the notebook folder, templates, documents."""
    found = []
    for job in stage.jobs:
        if job.command.how in ("script", "notebooks"):
            found.append(job.command.target)
        found += job.reads
    return list(dict.fromkeys(found))


def after(stage: Stage) -> list[str]:
    """What DVC orders the stages by: the tracked output of another stage that holds each input."""
    paths = stages.paths()
    found = []
    for ref in stage.inputs:
        owner = stages.stage_of(ref.partition(".")[0])
        found.append(next(t for t in owner.tracked if paths[ref] == t or paths[ref].startswith(t + "/")))
    return list(dict.fromkeys(found))


def pipeline(root: str, project: Path = PROJECT) -> dict:
    """dvc.yaml of the pipeline whose dvc.yaml lies in folder `root` (relative to the project)."""
    up = os.path.relpath(".", root) if root != "." else "."

    def up_to(path):
        return os.path.normpath(os.path.join(up, path))

    stages = {}
    for name, spec in STAGES.items():
        deps = [up_to(p) for p in WORKFLOW]
        deps += [up_to(f"workflow/rules/{f}") for f in spec.rule_files]
        deps += [up_to(p) for p in extra_deps(spec)]
        deps += [up_to(p) for p in code_deps(name, project)]
        deps += after(spec)
        entry = {"cmd": f"python {up_to('workflow/scripts/snakemake_stage.py')} {name}", "deps": deps,
                 "params": list(spec.dvc_params), "outs": [{out: {"persist": True}} for out in spec.tracked]}  # fmt: skip
        if spec.metrics:
            entry["metrics"] = [{m: {"persist": True}} for m in spec.metrics]
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
    gen = GENERATED.format(source="the stage table (src/deepcollapse/stages.py)")
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
