"""`dvc repro` over the Snakemake DAG on a scratch copy: a changed UFM parameter reruns only the
jobs that depend on it, a changed package file reruns the rules that import it, and an unchanged
pipeline reruns nothing."""

import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.support.pipeline import copy_src, copy_workflow, environment
from tests.support.reduced_config import UFM_ITERS, keep_two_experiments

pytestmark = pytest.mark.slow


def _run(cmd, cwd, env, timeout=600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _ufm_jobs(log: str) -> list[str]:
    """Experiment names of the `ufm` jobs Snakemake ran, from its log."""
    return re.findall(r"rule ufm:\n(?:\s+\w+:.*\n)*?\s+wildcards: name=(\S+)", log)


@pytest.fixture
def repo(tmp_path):
    work = copy_workflow(tmp_path / "repo")
    copy_src(work)
    params = yaml.safe_load((work / "params.yaml").read_text())
    # two cheap experiments of the real section
    names = keep_two_experiments(params)
    ufm = params["ufm"]
    for exp in ufm["experiments"].values():
        exp.update(iters=UFM_ITERS, log_every=UFM_ITERS // 4)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = environment()
    env["PYTHONPATH"] = str(work / "src")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "scratch"]):
        _run(cmd, work, env)
    _run([sys.executable, "-m", "dvc", "init", "-q"], work, env)
    return work, env, names


def test_dvc_repro_reruns_only_the_jobs_whose_parameters_or_code_changed(repo):
    work, env, (changed, untouched) = repo
    dvc = [sys.executable, "-m", "dvc"]
    first = _run(dvc + ["repro", "theory"], work, env)
    ufm = yaml.safe_load((work / "params.yaml").read_text())["ufm"]
    assert sorted(_ufm_jobs(first)) == sorted([*ufm["experiments"], *ufm["sweeps"]])
    stores = {name: work / f"results/ufm/{name}.zarr/zarr.json" for name in (changed, untouched)}
    before = {name: path.stat().st_mtime_ns for name, path in stores.items()}
    table_before = (work / "results/theory/agreement.json").read_text()

    # nothing changed: DVC skips both stages, Snakemake is not even asked
    again = _run(dvc + ["repro", "theory"], work, env)
    assert _ufm_jobs(again) == [] and "didn't change" in again

    params = yaml.safe_load((work / "params.yaml").read_text())
    exp = params["ufm"]["experiments"][changed]
    key = "lambda_W" if exp.get("model", "plain") == "plain" else "lambda_W2"
    exp[key] = 0.5 * exp.get(key, 5e-3)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = _run(dvc + ["status"], work, env)
    assert "ufm" in status and "changed" in status

    third = _run(dvc + ["repro", "theory"], work, env)
    assert _ufm_jobs(third) == [changed]  # only the experiment whose parameter changed
    assert "rule theory" in third  # the table depends on every experiment
    assert stores[untouched].stat().st_mtime_ns == before[untouched]
    assert stores[changed].stat().st_mtime_ns != before[changed]
    assert (work / "results/theory/agreement.json").read_text() != table_before
    assert "Data and pipelines are up to date" in _run(dvc + ["status", "--with-deps", "theory"], work, env)

    # A code change: DVC sees the changed package file (a stage dependency), Snakemake alone would
    # not; the stage's command forces the rules whose jobs import it, so dvc.lock never records old
    # results as made by new code.  (Same scratch project: one first `dvc repro` serves both checks.)
    solver = work / "src/deepcollapse/ufm/solver.py"
    solver.write_text(solver.read_text() + "\n# a change of the solver\n")
    assert "changed deps" in _run(dvc + ["status", "ufm"], work, env)
    fourth = _run(dvc + ["repro", "theory"], work, env)
    assert "forcing rules ufm" in fourth
    assert sorted(_ufm_jobs(fourth)) == sorted([*ufm["experiments"], *ufm["sweeps"]])  # every ufm job, new code
    assert "rule theory" in fourth  # and what depends on them
    assert "Data and pipelines are up to date" in _run(dvc + ["status", "--with-deps", "theory"], work, env)
    fifth = _run(dvc + ["repro", "theory"], work, env)  # nothing changed since: nothing forced, nothing run
    assert _ufm_jobs(fifth) == [] and "forcing" not in fifth

