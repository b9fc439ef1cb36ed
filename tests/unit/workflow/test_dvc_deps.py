"""The DVC pipelines are generated, and their code dependencies follow the import graph: every
package module a stage's jobs import is a dependency of the stage, so a change there shows in
`dvc status` and reruns the stage (and the rules that import it, see snakemake_stage.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.pipeline import ROOT

sys.path.insert(0, str(ROOT / "workflow/scripts"))
import code_deps  # noqa: E402
from deepcollapse import stages  # noqa: E402

PIPELINES = {"dvc.yaml": ".", "demo/dvc.yaml": "demo"}


def test_generated_pipelines_and_demo_params_are_current():
    proc = subprocess.run([sys.executable, "workflow/scripts/dvc_pipelines.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_demo_params_are_params_yaml_with_demo_overrides():
    demo = yaml.safe_load((ROOT / "demo/params.yaml").read_text())
    overrides = yaml.safe_load((ROOT / "workflow/demo.yaml").read_text())
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert demo["networks"]["datasets"] == overrides["networks"]["datasets"]
    assert demo["ufm"]["experiments"]["fig5b"]["iters"] == overrides["ufm"]["experiments"]["fig5b"]["iters"]
    assert demo["ufm"]["experiments"]["fig2a"] == params["ufm"]["experiments"]["fig2a"]  # untouched: params.yaml's
    assert demo["asymptotic"] == params["asymptotic"]


def rule_commands() -> dict[str, tuple[str, str]]:
    """rule name -> (rule file, what its shell runs), read from workflow/rules/*.smk themselves."""
    out = {}
    for smk in sorted((ROOT / "workflow/rules").glob("*.smk")):
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", smk.read_text(), flags=re.M | re.S):
            shell = body.partition("shell:")[2]
            if "{DC}" in shell:
                out[name] = (smk.name, "deepcollapse.commands." + re.search(r"\{DC\} (\w+)", shell).group(1))
            elif "papermill" in shell:
                out[name] = (smk.name, "notebooks:workflow/notebooks")
            elif module := re.search(r"\{PY\} -m (deepcollapse[\w.]*)", shell):
                out[name] = (smk.name, module.group(1))
    return out


def test_the_stage_table_names_the_rule_file_and_command_of_every_rule():
    """The table (deepcollapse.stages) against the rule files themselves: what each rule's shell runs."""
    jobs = stages.jobs()
    commands = rule_commands()
    assert {"ufm", "report_page", "report_index", "report_math"} <= set(commands)
    for rule, (smk, entry) in commands.items():
        assert rule in jobs, f"workflow/rules/{smk}: rule {rule} runs {entry} but is no job of the stage table"
        assert jobs[rule].file == smk, rule
        assert entry in code_deps.entries(jobs[rule]), (rule, entry)
    for rule, job in jobs.items():
        text = (ROOT / "workflow/rules" / job.file).read_text()
        assert re.search(rf"^rule {rule}:", text, re.M), f"the stage table puts rule {rule} in {job.file}, which does not define it"


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_every_stage_lists_every_module_its_jobs_import(pipeline):
    folder = ROOT / PIPELINES[pipeline]
    stages = yaml.safe_load((ROOT / pipeline).read_text())["stages"]
    commands = rule_commands()
    assert {"ufm", "train", "features", "metrics", "asymptotic", "report_page", "report_index"} <= set(commands)
    covered = set()
    for name, stage in stages.items():
        deps = {(folder / d).resolve() for d in stage["deps"]}
        rule_files = {Path(d).name for d in stage["deps"] if d.endswith(".smk")}
        for rule, (smk, entry) in commands.items():
            if smk not in rule_files or smk == "common.smk":
                continue
            covered.add(rule)
            needed = code_deps.closure([*code_deps.CLI, entry] if not entry.startswith("notebooks:") else [entry])
            missing = [str(p) for p in needed if (ROOT / p).resolve() not in deps]
            assert not missing, f"{pipeline}: stage {name} runs rule {rule} ({entry}) but does not list {missing}"
    assert covered == set(commands), f"rules no stage covers: {set(commands) - covered}"


def test_the_import_graph_has_the_edges_the_old_hand_written_deps_missed():
    asym = {str(p) for p in code_deps.rule_code("asymptotic")}
    assert {"src/deepcollapse/ufm/__init__.py", "src/deepcollapse/metrics/__init__.py"} <= asym
    assert "src/deepcollapse/data/__init__.py" in {str(p) for p in code_deps.rule_code("features")}
    for rule in code_deps.RULE_ENTRIES:
        files = {str(p) for p in code_deps.rule_code(rule)}
        assert "src/deepcollapse/__init__.py" in files
    assert "src/deepcollapse/store.py" in {str(p) for p in code_deps.rule_code("ufm")}
    assert "src/deepcollapse/config.py" in {str(p) for p in code_deps.rule_code("train")}


def test_closure_follows_relative_lazy_and_from_package_imports(tmp_path):
    pkg = tmp_path / "src/deepcollapse"
    for name, text in {
        "__init__.py": "",
        "commands/__init__.py": "",
        "commands/x.py": "def run():\n    from ..a import helper\n    from deepcollapse import b\n",
        "a/__init__.py": "from .inner import helper\n",
        "a/inner.py": "import deepcollapse.c as c\n",
        "b.py": "",
        "c.py": "",
        "unused.py": "",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    got = {str(p) for p in code_deps.closure(["deepcollapse.commands.x"], root=tmp_path)}
    expected = {f"src/deepcollapse/{n}" for n in ("__init__.py", "commands/__init__.py", "commands/x.py", "a/__init__.py", "a/inner.py", "b.py", "c.py")}
    assert got == expected


def test_the_stage_table_is_every_stages_dependency_and_no_jobs_code():
    """Editing the table (adding a stage) shows in `dvc status`, but forces no job to rerun."""
    for pipeline, folder in PIPELINES.items():
        for name, stage in yaml.safe_load((ROOT / pipeline).read_text())["stages"].items():
            assert (ROOT / "src/deepcollapse/stages.py").resolve() in {(ROOT / folder / d).resolve() for d in stage["deps"]}, name
    for rule in code_deps.RULE_ENTRIES:
        assert "src/deepcollapse/stages.py" not in {str(p) for p in code_deps.rule_code(rule)}, rule


def test_a_stage_forces_the_rules_whose_code_changed_since_its_lock(tmp_path):
    import snakemake_stage

    def lock_with(changed: str) -> Path:
        deps = [{"path": str(ROOT / p), "md5": snakemake_stage.md5(ROOT / p)} for p in [*map(str, code_deps.rule_code("ufm")), "src/deepcollapse/stages.py"]]
        for dep in deps:
            if dep["path"].endswith(changed):
                dep["md5"] = "0" * 32
        lock = tmp_path / changed.replace("/", "_") / "dvc.lock"
        lock.parent.mkdir()
        lock.write_text(yaml.safe_dump({"stages": {"ufm": {"deps": deps}}}))
        return lock

    assert snakemake_stage.rules_with_changed_code("ufm", lock_with("src/deepcollapse/ufm/solver.py")) == ["ufm"]
    assert snakemake_stage.rules_with_changed_code("ufm", lock_with("src/deepcollapse/stages.py")) == []
    assert snakemake_stage.rules_with_changed_code("ufm", tmp_path / "no-lock-yet/dvc.lock") == []  # first run: nothing forced
