"""Shared by the training tests (tests/unit/nets/test_trainer.py in process, tests/system/test_trainer_processes.py
across processes): a tiny configuration, its uninterrupted run, and how to start and watch a training process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from deepcollapse.config import from_mapping
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.trainer import train

from . import ROOT

# 300 digits (30 per class), ResNet18 at width 1/8, batches of 32: 10 steps per epoch.
TINY = {
    "dataset": "digits", "train_per_class": 30, "test_per_class": 10, "width": 0.125, "batch_size": 32,
    "epochs": 5, "checkpoints": [0, 1, 3], "device": "cpu", "threads": 1, "seed": 7, "lr_step": 2,
}
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return checkpoint.load(checkpoint.epoch_path(run_dir, 5))["model"]


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def straight_run(run: Path) -> Path:
    """TINY trained without interruption into `run` (the reference every resumed run must equal)."""
    summary = train(from_mapping(TrainConfig, TINY), run, progress=False)
    assert summary["epochs"] == 5
    return run


def start_training(run: Path, config_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "deepcollapse", "train", "--config", str(config_path), "--out", str(run), "--no-progress"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.002)


def leaves(obj, path=""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from leaves(value, f"{path}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from leaves(value, f"{path}[{i}]")
    else:
        yield path, obj
