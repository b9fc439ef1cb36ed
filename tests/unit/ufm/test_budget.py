"""`ufm.budget.priority`: the `ufm` rule's scheduling priority is the job's estimated work, so that
Snakemake starts the longest jobs first (tests/system/test_pipeline_dag.py runs the rule's function)."""

from __future__ import annotations

import yaml

from deepcollapse.ufm import budget
from tests.support import ROOT


def test_priority_is_the_estimated_work_and_grows_with_the_problems_and_iterations():
    one = {"model": "extended", "activation": "relu", "iters": 1000}
    assert budget.priority({**one, "sweep": {"seed": [0, 1, 2, 3, 4]}}) > 2 * budget.priority(one)
    assert budget.priority({**one, "iters": 10000}) > 9 * budget.priority(one)
    assert budget.priority({"model": "plain", "iters": 1000}) < budget.priority(one)


def test_the_demos_longest_ufm_jobs_come_first():
    params = yaml.safe_load((ROOT / "demo" / "params.yaml").read_text())["ufm"]
    jobs = {**params["experiments"], **(params.get("sweeps") or {})}
    order = sorted(jobs, key=lambda name: -budget.priority(jobs[name]))
    # the three longest by measurement (docs/measurements.md: 31, 28 and 17 s of GD on a quiet core)
    assert set(order[:3]) == {"fig5b_seeds", "phase_extended", "fig9d"}, order
