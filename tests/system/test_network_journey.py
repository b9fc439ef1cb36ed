"""The README's real-data network example, run as written on a tiny subset: its override file
(read from the README), its Snakemake command line (targets before --configfile), the run names it
states, and what a user sees meanwhile (a log line per epoch and per checkpoint, networks.threads
reaching torch in every job, the cost estimate within its tolerance)."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from deepcollapse.config import from_mapping
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.cost import estimate
from tests.support import ROOT
from tests.support.pipeline import copy_workflow, environment

pytestmark = pytest.mark.slow

README = ROOT / "README.md"
# what the test shrinks further (the README's own run takes a few CPU-minutes); everything else,
# the dataset, its Debian root, the targets and the --configfile placement, is the README's
TINY = {"train_per_class": 10, "width": 0.0625, "epochs": 2, "checkpoints": [0, 1, 2], "batch_size": 32}
TEST_PER_CLASS = 5


def readme_example() -> tuple[str, str, list[str]]:
    """(override YAML, snakemake command, paths the text names) of the README's network section."""
    text = README.read_text()
    section = text[text.index("## Networks on real data"):]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    overrides = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    command = next(line for line in re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines() if line.startswith("snakemake"))
    named = re.findall(r"`(results/[^`]+)`", section)
    return overrides, command, named


@pytest.mark.system_package("dataset-fashion-mnist", path="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
def test_the_readme_network_example_runs_as_written(tmp_path):
    overrides, command, named = readme_example()
    params = yaml.safe_load(overrides)
    net = params["networks"]
    assert net["datasets"] == ["fashion-mnist"] and net["features"]["test"] is True
    argv = shlex.split(command)
    configfile = argv[argv.index("--configfile") + 1]
    targets = [a for a in argv[argv.index("--cores") + 2: argv.index("--configfile")]]
    assert {"train_all", "features_all", "metrics_all", "network_summary"} <= set(targets)

    net["train"].update(TINY)
    net["features"]["test_per_class"] = TEST_PER_CLASS
    work = copy_workflow(tmp_path / "w")
    (work / configfile).write_text(yaml.safe_dump(params))
    proc = subprocess.run([sys.executable, "-m", *argv], cwd=work, env=environment(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # the paths the README names exist: the pipeline's run names are the README's
    run = f"{net['datasets'][0]}-{net['losses'][0]}"
    for path in named:
        assert (work / path).exists(), path
    assert f"results/runs/{run}/" in named and f"results/features/{run}.zarr" in named

    # progress in the logs: a line per epoch, a line per checkpoint
    train_log = (work / f"results/logs/train/{run}.log").read_text()
    assert [f"epoch {e}/2" in train_log for e in (1, 2)] == [True, True] and "images/s" in train_log and "ETA" in train_log
    features_log = (work / f"results/logs/features/{run}.log").read_text()
    assert all(f"checkpoint {i}/3" in features_log for i in (1, 2, 3)), features_log

    # networks.threads reached torch in each job (train: the run's config; features and metrics: provenance)
    meta = json.loads((work / f"results/runs/{run}/run.json").read_text())
    assert meta["config"]["threads"] == min(net["threads"], int(argv[argv.index("--cores") + 1]))
    feats = xr.open_zarr(work / f"results/features/{run}.zarr")
    metrics = xr.open_zarr(work / f"results/metrics/{run}.zarr")
    assert feats.attrs["provenance"]["params"]["threads"] == meta["config"]["threads"]
    assert metrics.attrs["provenance"]["params"]["threads"] == meta["config"]["threads"]

    # each layer once, the test split subsampled by the features setting, metrics of every layer
    assert "stage4" not in feats and feats.attrs["layers"] == ["stage1", "stage2", "stage3", "penultimate"]
    np.testing.assert_array_equal(np.bincount(feats["test_label"].values), [TEST_PER_CLASS] * 10)
    assert list(metrics.layer.values) == ["stage1", "stage2", "stage3", "penultimate"]
    summary = json.loads((work / "results/summary/networks.json").read_text())
    assert run in json.dumps(summary)

    # the estimate beside what the run wrote (tolerances of tests/unit/nets/test_cost.py)
    config = from_mapping(TrainConfig, meta["config"])
    cost = estimate(config)
    checkpoints = sum(p.stat().st_size for p in (work / f"results/runs/{run}/checkpoints").iterdir())
    assert checkpoints == pytest.approx(cost.checkpoints_bytes - cost.checkpoint_bytes, rel=0.02)
    stored = sum(p.stat().st_size for p in (work / f"results/features/{run}.zarr").rglob("*") if p.is_file())
    upper = cost.train_features_bytes + cost.test_features_bytes_at(TEST_PER_CLASS, 10)
    assert 0.5 * upper <= stored <= upper
