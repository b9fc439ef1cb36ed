"""workflow/scripts/discard_stale_run.py: a run made with other science is removed before training,
one that only differs in how it executes (device, threads) is kept to be resumed."""

import json
import subprocess
import sys

import pytest

from deepcollapse.config import from_mapping, to_dict
from deepcollapse.nets.config import TrainConfig
from pipeline_helpers import ROOT, environment

SCRIPT = ROOT / "workflow/scripts/discard_stale_run.py"
RUN = {"dataset": "digits", "epochs": 3, "checkpoints": [0, 3], "width": 0.125, "loss": "mse", "device": "cpu"}


def _run_dir(tmp_path):
    run_dir = tmp_path / "results/runs/digits-mse"
    run_dir.mkdir(parents=True)
    config = to_dict(from_mapping(TrainConfig, RUN))
    (run_dir / "run.json").write_text(json.dumps({"config": config}))
    (run_dir / "epoch-0000.pt").write_bytes(b"checkpoint")
    return run_dir


def _discard(run_dir, config):
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(run_dir)], input=json.dumps(config), capture_output=True, text=True, env=environment()
    )


@pytest.mark.parametrize("change", [{"device": "cuda", "threads": 4}, {}], ids=["execution-only", "same"])
def test_a_resumable_run_is_kept(tmp_path, change):
    run_dir = _run_dir(tmp_path)
    proc = _discard(run_dir, {**RUN, **change})
    assert proc.returncode == 0 and proc.stderr == ""
    assert (run_dir / "epoch-0000.pt").exists()


@pytest.mark.parametrize("change, named", [({"lr": 0.01}, "lr 0.05 -> 0.01"), ({"loss": "ce", "bias": True}, "bias False -> True")])
def test_a_run_with_other_science_is_removed_saying_why(tmp_path, change, named):
    run_dir = _run_dir(tmp_path)
    proc = _discard(run_dir, {**RUN, **change})
    assert proc.returncode == 0
    assert not run_dir.exists()
    assert named in proc.stderr


def test_a_new_run_directory_is_left_alone(tmp_path):
    proc = _discard(tmp_path / "absent", RUN)
    assert proc.returncode == 0 and not (tmp_path / "absent").exists()
