"""The stage table (deepcollapse.stages) is the one description of the pipeline's stages.

* It is consistent: every output lies in what DVC tracks of its stage, every input is another
  stage's output, a kind has one format, a command is a module of deepcollapse.commands.
* It is light: the CLI, the Snakefile and the workflow scripts read it at start-up.
* A stage registered by this test alone — a command module written here, a table entry — reaches
  the DVC pipeline, the code dependencies, the rule files the Snakefile includes, the CLI, the
  artifact kinds and the page plan without any edit elsewhere.
"""

from __future__ import annotations

import ast
import copy
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deepcollapse import cli, outputs, stages
from deepcollapse.reports import plan
from tests.support.pipeline import ROOT
from tests.support.toy_stage import COMMAND, TOY

sys.path.insert(0, str(ROOT / "workflow/scripts"))
import code_deps  # noqa: E402
import dvc_pipelines  # noqa: E402
import snakemake_stage  # noqa: E402

PAPER = yaml.safe_load((ROOT / "params.yaml").read_text())


def _under(path: str, folders) -> bool:
    return any(path == f or path.startswith(f + "/") for f in folders)


def test_every_output_lies_in_what_dvc_tracks_of_its_stage():
    for stage in stages.STAGES.values():
        for job in stage.jobs:
            for name, out in job.outputs.items():
                assert _under(out.path, stage.tracked + stage.metrics), f"{stage.name}: {job.rule}.{name} = {out.path}"
        for tracked in stage.tracked + stage.metrics:
            assert any(_under(out.path, [tracked]) for job in stage.jobs for out in job.outputs.values()), tracked


def test_inputs_are_outputs_of_other_stages():
    paths = stages.paths()
    for stage in stages.STAGES.values():
        for ref in stage.inputs:
            assert ref in paths, f"{stage.name}: input {ref} is no output of the table"
            assert stages.stage_of(ref.split(".")[0]).name != stage.name


def test_the_reports_stage_reads_every_output_a_page_shows():
    # A stage with pages whose marked outputs are not inputs of the reports stage: DVC would
    # neither order the reports after it nor rerun them when it changes.
    reports = stages.STAGES["reports"]
    shown = {f"{job.rule}.{name}" for stage in stages.STAGES.values() if stage.pages and stage is not reports
             for job in stage.jobs for name, out in job.outputs.items() if out.kind}
    tracked_inputs = set(dvc_pipelines.after(reports))
    missing = {ref for ref in shown if ref not in reports.inputs
               and not any(stages.path(ref) == t or stages.path(ref).startswith(t + "/") for t in tracked_inputs)}
    assert not missing, f"add {sorted(missing)} to the reports stage's inputs (deepcollapse/stages.py)"


def test_rules_are_unique_and_commands_exist():
    rules = [job.rule for stage in stages.STAGES.values() for job in stage.jobs]
    assert len(rules) == len(set(rules))
    for job in stages.jobs().values():
        how, target = job.command.how, job.command.target
        if how == "cli":
            assert (ROOT / "src/deepcollapse/commands" / f"{target}.py").is_file(), target
        elif how == "module":
            assert code_deps.module_path(target) is not None, target
        else:
            assert (ROOT / target).exists(), target
        for path in job.reads:
            assert (ROOT / path).exists(), path
    for stage in stages.STAGES.values():
        for template in stage.pages:
            assert (ROOT / "workflow/notebooks" / f"{template}.ipynb").is_file(), template


def test_a_kind_has_one_format_and_the_contract_has_every_kind():
    declared = {}
    for job in stages.jobs().values():
        for out in job.outputs.values():
            if out.kind:
                assert declared.setdefault(out.kind, out.format) == out.format, out.kind
    assert {k: outputs.KINDS[k] for k in declared} == declared
    # and the commands write exactly those kinds (plus the generic ones of Python users' writes)
    written = set()
    for path in (ROOT / "src/deepcollapse").rglob("*.py"):
        written |= set(re.findall(r"(?:reserve|writing)\([^,]+, \"([\w-]+)\"", path.read_text()))
        written |= set(re.findall(r"write_\w+\([^)]*kind=\"([\w-]+)\"", path.read_text()))
    assert set(declared) <= written | {"run"}
    assert written - {"dataset"} <= set(declared)


def test_the_cli_lists_the_stage_commands_in_table_order():
    assert cli.SUBCOMMANDS == ("ufm", "theory", "asymptotic", "lowrank", "theorem1", "papers", "data", "train", "features", "metrics", "report", "info")


def test_the_table_imports_only_the_standard_library():
    for module in ("stages.py", "reports/plan.py"):
        tree = ast.parse((ROOT / "src/deepcollapse" / module).read_text())
        absolute = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        absolute |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        relative = {(n.module, a.name) for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level for a in n.names}
        assert absolute <= {"__future__", "dataclasses", "posixpath"}, (module, absolute)
        assert relative <= {(None, "stages"), (None, "rundir"), ("stages", "PlanError")}, (module, relative)
    code = ("import sys; import deepcollapse.stages, deepcollapse.reports.plan, deepcollapse.cli, deepcollapse.outputs;"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'xarray', 'zarr', 'numpy', 'pandas', 'yaml'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------- a stage added by a test
@pytest.fixture
def toy(monkeypatch, tmp_path):
    """The toy stage in the table, its command module in a copy of the package source (for the
    import graph) and loaded as deepcollapse.commands.toy (for the CLI)."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    command = project / "src/deepcollapse/commands/toy.py"
    command.write_text(COMMAND)
    spec = importlib.util.spec_from_file_location("deepcollapse.commands.toy", command)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    monkeypatch.setitem(stages.STAGES, TOY.name, TOY)
    # the contract's kinds are read from the table when deepcollapse.outputs is imported
    monkeypatch.setattr(outputs, "KINDS", {**outputs.KINDS, **stages.artifact_kinds()})
    return project


def test_a_registered_stage_reaches_the_dvc_pipeline(toy):
    entry = dvc_pipelines.pipeline(".", project=toy)["stages"]["toy"]
    assert entry["cmd"] == "python workflow/scripts/snakemake_stage.py toy"
    assert entry["params"] == ["toy"]
    assert entry["outs"] == [{"results/toy": {"persist": True}}]
    assert "workflow/rules/toy.smk" in entry["deps"]
    assert "results/ufm" in entry["deps"]  # its input: the ufm stage's output
    code = {d for d in entry["deps"] if d.startswith("src/")}
    assert {"src/deepcollapse/commands/toy.py", "src/deepcollapse/store.py", "src/deepcollapse/cli.py"} <= code
    assert "src/deepcollapse/ufm/solver.py" not in code  # its own import graph, not the ufm stage's
    demo = dvc_pipelines.pipeline("demo", project=toy)["stages"]["toy"]
    assert demo["cmd"] == "python ../workflow/scripts/snakemake_stage.py toy" and "../workflow/rules/toy.smk" in demo["deps"]
    # its DVC command runs its Snakemake target, and forces its rule when the command's code changed
    assert snakemake_stage.command("toy", [], ROOT)[3] == "toy"
    assert dvc_pipelines.rules_of("toy") == ["toy"]
    assert code_deps.entries(TOY.jobs[0]) == (*code_deps.CLI, "deepcollapse.commands.toy")
    # the Snakefile includes its rule file after the others
    assert stages.rule_files()[-1] == "toy.smk"


def test_a_registered_stage_is_a_subcommand(toy, capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert re.search(r"^    toy\s+write the toy table", capsys.readouterr().out, re.M)
    out = tmp_path / "results/toy/table.json"
    assert cli.main(["toy", "--runs", "b", "a", "--out", str(out)]) == 0
    assert outputs.artifact_kind(out) == "toy-table"
    assert cli.main(["toy", "--runs", "a", "--out", str(tmp_path / "project/src")]) == 2  # the output contract holds


def test_a_registered_stage_has_its_page(toy):
    config = dict(copy.deepcopy(PAPER), toy={"size": 3})
    pages = plan.pages(config)
    assert list(pages)[-1] == "toy"  # after the pages of the stages before it
    assert pages["toy"].template == "toy" and pages["toy"].inputs == {"table": "results/toy/table.json"}
    changes = [{"key": "toy.size", "params": 2, "here": 3}, {"key": "ufm.x", "params": 1, "here": 2}]
    params = plan.parameters("toy", pages["toy"], config["reports"], changes)
    assert params["table"] == "results/toy/table.json" and params["figures_dir"] == "reports/figures/toy"
    assert params["overrides"]["changes"] == changes[:1]
    assert "toy" not in plan.pages(PAPER)  # no section, no page


def test_network_variants_are_runs_beside_the_grid():
    """networks.variants (issue 21): '<dataset>-<loss>-<variant>', the grid's config of that dataset
    and loss updated by the variant's train; the grid's runs unchanged; null or absent: none."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    net = params["networks"]
    grid = {f"{d}-{l}" for d in net["datasets"] for l in net["losses"]}
    runs = stages.network_runs(params)
    variants = {f"{d}-{l}-{name}" for name, v in net["variants"].items() for d in v["datasets"] for l in v["losses"]}
    assert set(runs) == grid | variants and {"mnist-ce-head3", "cifar10-ce-head3"} <= variants
    head = runs["mnist-ce-head3"]
    assert (head["head_depth"], head["head_width"], head["bias"], head["dataset"], head["loss"]) == (3, 64, True, "mnist", "ce")
    assert {k: v for k, v in head.items() if not k.startswith("head_")} == runs["mnist-ce"]
    assert not any("head_depth" in runs[name] for name in grid)  # the grid's parameters, so its DVC/Snakemake triggers, are unchanged
    for none in (None, {}):
        assert set(stages.network_runs({**params, "networks": {**net, "variants": none}})) == grid
    # a variant's train wins over per_loss (here: the bias)
    changed = {**net, "variants": {"nobias": {"datasets": ["mnist"], "losses": ["ce"], "train": {"bias": False}}}}
    assert stages.network_runs({**params, "networks": changed})["mnist-ce-nobias"]["bias"] is False
    # a variant runs where the grid runs: narrowing the grid's datasets or losses narrows the variants
    # (no run asks for a data store the grid does not make)
    fashion = {**net, "datasets": ["fashion-mnist"]}
    assert set(stages.network_runs({**params, "networks": fashion})) == {f"fashion-mnist-{l}" for l in net["losses"]}
    mnist_mse = {**net, "datasets": ["mnist"], "losses": ["mse"]}
    assert set(stages.network_runs({**params, "networks": mnist_mse})) == {"mnist-mse"}
    assert set(stages.network_runs({**params, "networks": {**net, "datasets": ["mnist"]}})) == {"mnist-mse", "mnist-ce", "mnist-ce-head3"}
