"""The DVC section of docs/operations.md ("Cached features: DVC remotes"), run as written: share a
demo run through a DVC remote, then a fresh clone elsewhere pulls it, opens a store, runs the example
notebook from the project root, and Snakemake and DVC both find nothing to redo.

The two fenced blocks after the marker comment of docs/operations.md ARE the script: each line runs in bash,
in the folder the previous `cd` left (tests/support/demo_run.py says what a test cannot do
literally and how it is replaced).  The first block (`make run` ... `dvc push`) is the suite's one
demo-sized run, shared with the end-to-end checks (the `demo_run` fixture); this test checks what
it printed and left, then runs the second block.  The demo's size: params.yaml and
workflow/demo.yaml both hold the suite's reduced configuration (tests/support/reduced_config.py;
overrides merge into params.yaml, so they can shrink a section's values but not drop its
experiments), so the flow is the document's and the run takes minutes.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from tests.support.demo_run import Shell, readme_blocks
from tests.support.dvc import files_under

pytestmark = pytest.mark.slow

RUN = "digits-mse"


def digests(root: Path) -> dict[str, str]:
    """Content of a store, Snakemake's marker file left out (.dvcignore: DVC neither pushes nor pulls it)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(root)
            if p.name != ".snakemake_timestamp"}  # fmt: skip


def test_readme_dvc_journey_share_clone_pull_analyse(demo_run, tmp_path):
    share, analyse = readme_blocks()
    origin, outputs = demo_run.origin, demo_run.outputs
    assert list(outputs) == share  # every line of the first block ran, in order, and succeeded
    for line in share:
        if line.startswith("git status"):  # after the demo: nothing but the new lock
            assert outputs[line].split("\n")[0:2] == ["?? demo/dvc.lock", ""], outputs[line]
        if line.startswith("dvc status"):
            assert "Data and pipelines are up to date" in outputs[line]
    assert demo_run.porcelain == ""

    # the lock records the parameters the outputs were made with: the demo's, merged
    lock = yaml.safe_load((origin / "demo/dvc.lock").read_text())
    demo = yaml.safe_load((origin / "demo/params.yaml").read_text())
    assert lock["stages"]["ufm"]["params"]["params.yaml"]["ufm"] == demo["ufm"]
    assert lock["stages"]["train"]["params"]["params.yaml"]["networks"]["train"]["epochs"] == demo_run.params["networks"]["train"]["epochs"]
    assert not (origin / "results").exists() and not (origin / "dvc.lock").exists()  # the paper run's root untouched

    # dvc metrics show fits a screen
    shown = subprocess.run(["dvc", "metrics", "show"], cwd=origin, env=demo_run.env, capture_output=True, text=True)
    assert shown.returncode == 0 and "NC1" in shown.stdout and len(shown.stdout.splitlines()) < 40, shown.stdout + shown.stderr
    assert max(map(len, shown.stdout.splitlines())) <= 160, shown.stdout  # tests/unit/workflow/test_dvc_metrics.py: the paper run's too

    # dvc plots show renders the figures' data (CSV, DVC's templates), not Snakemake's marker files
    plots = subprocess.run(["dvc", "plots", "show", "demo/dvc.yaml", "-o", str(tmp_path / "plots")], cwd=origin, env=demo_run.env,
                           capture_output=True, text=True)  # fmt: skip
    assert plots.returncode == 0 and "snakemake_timestamp" not in plots.stdout + plots.stderr, plots.stdout + plots.stderr
    assert (tmp_path / "plots/index.html").is_file()

    shell = Shell(demo_run.cwd, demo_run.env, demo_run.substitutions, tmp_path / "shell")  # where the first block left off
    analysed = [(line, shell.run(line)) for line in analyse]  # (a line may repeat one of the first block)
    clone = demo_run.home / "deepcollapse"
    assert shell.cwd == clone
    features = f"demo/results/features/{RUN}.zarr"
    assert digests(clone / features) == digests(origin / features)
    assert "Nothing to be done" in next(out for line, out in analysed if " -n " in line)
    assert analysed[-1][0].startswith("dvc status") and "Data and pipelines are up to date" in analysed[-1][1]

    # a metric recomputed from the pulled store with deepcollapse.metrics equals the stored one
    sys.path.insert(0, str(clone / "src"))
    from deepcollapse import metrics

    store = xr.open_zarr(clone / features)
    stored = xr.open_zarr(clone / f"demo/results/metrics/{RUN}.zarr")
    last = store.isel(epoch=-1)
    nc = metrics.nc(last["penultimate"].values, last["label"].values, W=last["W"].values, b=last["b"].values)
    np.testing.assert_allclose(nc["NC1"], float(stored["NC1"].sel(epoch=int(last["epoch"]), layer="penultimate")), rtol=1e-9)
    executed = json.loads((clone / "demo/reports/cached_features.ipynb").read_text())
    assert not executed["metadata"]["papermill"]["exception"]  # papermill: None when no cell raised

    timings = {key: round(sec, 1) for key, sec in {**demo_run.seconds, **shell.seconds}.items() if key.split()[0] in ("make", "dvc", "papermill")}
    print("journey timings (s):", json.dumps(timings, indent=1))
