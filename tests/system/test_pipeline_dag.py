"""The DAG builds from params.yaml and from the demo, and a bad parameter stops it before any job."""

import json
import re

import pytest
import yaml

from tests.support.pipeline import copy_workflow, snakemake


def _jobs(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of jobs."""
    table = stdout.split("Job stats:", 1)[1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


def _expected_counts(params):
    ufm = params["ufm"]
    net = params["networks"]
    variants = (net.get("variants") or {}).values()  # runs beside the grid (issue 21)
    runs = len(net["datasets"]) * len(net["losses"]) + sum(len(v["datasets"]) * len(v["losses"]) for v in variants)
    return ufm, runs


@pytest.mark.parametrize("demo", [False, True], ids=["params.yaml", "demo"])
def test_dry_run_plans_every_job_of_the_config(workdir, demo):
    proc = snakemake(workdir, "all", options=["-n"], configfiles=["workflow/demo.yaml"] if demo else [])
    assert proc.returncode == 0, proc.stderr
    jobs = _jobs(proc.stdout)
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    if demo:
        from snakemake.utils import update_config

        update_config(params, yaml.safe_load((workdir / "workflow/demo.yaml").read_text()))
    ufm, runs = _expected_counts(params)
    assert jobs["ufm"] == len(ufm["experiments"]) + len(ufm.get("sweeps") or {})
    assert jobs["train"] == jobs["features"] == jobs["metrics"] == runs
    assert jobs["data"] == len(params["networks"]["datasets"])
    assert jobs["report_index"] == 1 and jobs["theory"] == 1 and jobs["asymptotic"] == 1
    lowrank = "lowrank" in (ufm.get("studies") or {})
    assert jobs.get("lowrank", 0) == lowrank
    theorem1 = "theorem1" in (ufm.get("studies") or {})
    assert jobs.get("theorem1", 0) == theorem1
    # + the networks page, and the comparison page when networks.compare names references; the
    # Theorem-1 map has two pages (its own and the literature page)
    compare = (runs > 0) * (1 + bool(params["networks"].get("compare")))
    assert jobs["report_page"] == len(params["reports"]["ufm_pages"]) + 3 + compare + lowrank + 2 * theorem1
    # every job receives its resolved parameters as JSON on stdin, through the package's CLI
    assert "-m deepcollapse ufm --config - --out results/ufm/" in proc.stdout


@pytest.mark.parametrize(
    "override, message",
    [
        ({"ufm": {"experiments": {"fig2a": {"lamda_W": 0.1}}}}, "ufm.experiments.fig2a: unknown key 'lamda_W'"),
        ({"ufm": {"experiments": {"fig2a": {"K": 1.5}}}}, "ufm.experiments.fig2a.K: 1.5 is not of type 'integer'"),
        ({"reports": {"dpi": "high"}}, "reports.dpi: 'high' is not of type 'integer'"),
        ({"ufm": {"sweeps": {"phase_plain": {"sweep": "lambda"}}}}, "ufm.sweeps.phase_plain.sweep: 'lambda' is not of type 'object'"),
        ({"reprots": {}}, "(top level): unknown key 'reprots'"),
    ],
    ids=["misspelt-key", "wrong-type", "reports-section", "sweep", "top-level"],
)
def test_a_bad_parameter_stops_before_any_job_naming_its_path(workdir, tmp_path, override, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps(override))
    # a dry run: the check is at parse time either way, and a broken check must not start the paper
    # run (killed at the timeout, its jobs would outlive the test)
    proc = snakemake(workdir, "all", options=["-n"], configfiles=[bad])
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert not (workdir / "results").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ({"ufm_pages": {"fig2": {"title": "x", "experiments": ["fig2z"]}}},
         "reports.ufm_pages.fig2.experiments names 'fig2z', which is not in ufm.experiments or ufm.sweeps"),
        ({"phase_diagram": {"fig2a": "lambda"}}, "reports.phase_diagram names 'fig2a', which is not in ufm.sweeps"),
        ({"phase_diagram": {"phase_plain": "lamda"}},
         "reports.phase_diagram.phase_plain draws 'lamda', which ufm.sweeps.phase_plain does not sweep (it sweeps: lambda)"),
    ],
    ids=["page-experiment", "phase-not-a-sweep", "phase-dimension"],
)
def test_report_pages_must_name_existing_experiments(workdir, tmp_path, override, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"reports": override}))
    proc = snakemake(workdir, "all", options=["-n"], configfiles=[bad])
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, proc.stdout + proc.stderr
