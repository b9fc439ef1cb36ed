"""One execution variant of a tiny network run, checked end to end on CPU (tests/unit/nets/
test_execution.py runs the cheap variants, tests/system/test_execution_variants.py the ones that
cost minutes: bf16 autocast is ~9x slower than fp32 on a CPU, and torch.compile's first compile
takes minutes).

Each variant trains a tiny run, is stopped by a real SIGTERM mid-epoch, resumes to bitwise the
weights and optimizer state of an uninterrupted run (what the README promises on CPU), and its
checkpoints give features and metrics.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from deepcollapse import rundir
from deepcollapse.config import from_mapping
from deepcollapse.nets import checkpoint, extract_features, layer_metrics
from deepcollapse.nets.config import EXECUTION_FIELDS, TrainConfig
from deepcollapse.nets.trainer import Preempted, train

# 300 digits at width 1/8, batches of 32: 9 full batches and a last one of 12 (the partial batch
# is what once made torch.compile recompile with dynamic shapes), 2 epochs.
TINY = {
    "dataset": "digits", "train_per_class": 30, "test_per_class": 10, "width": 0.125, "batch_size": 32,
    "epochs": 2, "checkpoints": [0, 2], "device": "cpu", "threads": 1, "seed": 5, "lr_step": 1,
}
VARIANTS = {
    "fp32": {},
    "bf16": {"precision": "bf16"},
    "channels_last": {"channels_last": True},
    "bf16+channels_last": {"precision": "bf16", "channels_last": True},
    "compile": {"compile": "default"},
}


def sigterm_when_epoch_begins(monkeypatch, epoch: int) -> None:
    """Deliver a real SIGTERM to this process once, as 0-based `epoch` begins: a deterministic
    pre-emption point, unlike a signal sent from outside after a delay (the trainer sees it after
    the epoch's first step, so the state is saved mid-epoch; tests/unit/nets/test_trainer.py too)."""
    from deepcollapse.nets import trainer

    original, pending = trainer.epoch_order, [True]

    def order(seed: int, e: int, n: int):
        if e == epoch and pending:
            pending.clear()
            os.kill(os.getpid(), signal.SIGTERM)
        return original(seed, e, n)

    monkeypatch.setattr(trainer, "epoch_order", order)


def fresh_process_state() -> None:
    """What a new process would not have: torch.compile's compiled frames and shape history."""
    torch._dynamo.reset()


@contextlib.contextmanager
def symbolic_batch_sizes():
    """The symbols torch.compile creates for input sizes while the block runs (its "dynamic" log)."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if "create_symbol" in message and ".size()" in message:
                found.append(message[:160])

    handler, logger = Collect(), logging.getLogger("torch.fx.experimental.symbolic_shapes")
    torch._logging.set_logs(dynamic=logging.INFO)
    logger.addHandler(handler)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        torch._logging.set_logs()


def check_variant(variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Train straight and with a mid-epoch SIGTERM and resume; compare bitwise; features and metrics."""
    cfg = from_mapping(TrainConfig, {**TINY, **VARIANTS[variant]})
    straight, run = tmp_path / "straight", tmp_path / "run"
    fresh_process_state()
    with symbolic_batch_sizes() as symbols:
        train(cfg, straight, progress=False)
    # compile: the last, smaller batch gets a static graph of its own.  torch's default made it a
    # dynamic-shape graph ("create_symbol s77 = 12 for L['x'].size()[0]") that then ran every later
    # full batch, other kernels than a resumed process runs (on this CPU they happen to agree
    # bitwise, so the comparison below alone would not catch it; on a GPU they are slower too)
    assert symbols == [], symbols

    fresh_process_state()
    with monkeypatch.context() as mp:
        sigterm_when_epoch_begins(mp, 1)
        with pytest.raises(Preempted) as stopped:
            train(cfg, run, progress=False)
    assert (stopped.value.epoch, stopped.value.step) == (1, 1)  # mid-epoch
    fresh_process_state()
    train(cfg, run, progress=False)

    final = [checkpoint.load(checkpoint.epoch_path(r, 2)) for r in (straight, run)]
    for name, tensor in final[0]["model"].items():
        assert torch.equal(tensor, final[1]["model"][name]), name
    buffers = [[s["momentum_buffer"] for s in f["optimizer"]["state"].values()] for f in final]
    assert len(buffers[0]) == len(buffers[1]) > 0 and all(torch.equal(a, b) for a, b in zip(*buffers))

    # each segment of the run is recorded with its precision and math mode
    segments = json.loads(rundir.meta_path(run).read_text())["provenance"]["segments"]
    assert [(s["from_epoch"], s["from_step"]) for s in segments] == [(0, 0), (1, 1)]
    # the first ended on the signal, where the second begins; the second ran to the end
    assert segments[0]["preempted"] == {"signal": "SIGTERM", "epoch": 1, "step": 1, "checkpoint": checkpoint.RESUME_NAME}
    assert "preempted" not in segments[1]
    assert {s["execution"]["precision"] for s in segments} == {cfg.precision}
    assert all(s["math"]["autocast"] == ("bfloat16" if cfg.precision == "bf16" else None) for s in segments)
    assert set(segments[0]["execution"]) == EXECUTION_FIELDS

    features, metrics = tmp_path / "features.zarr", tmp_path / "metrics.zarr"
    extract_features(run, features, test=True, progress=False)
    layer_metrics(features, metrics, progress=False)
    ds = xr.open_zarr(features)
    assert list(ds.epoch.values) == [0, 2] and ds["penultimate"].shape == (2, 300, 64)
    assert ds.attrs["provenance"]["math"]["precision"] == "fp32"  # features: IEEE float32 for every run
    H, W, y = ds["penultimate"].values[-1], ds["W"].values[-1], ds["label"].values
    assert abs(np.mean(np.argmax(H @ W.T, axis=1) == y) - float(ds["accuracy"][-1])) <= 1 / len(y)
    history = json.loads(rundir.history_path(run).read_text())
    assert history[1]["loss"] < history[0]["loss"]  # it trained
    final = xr.open_zarr(metrics).sel(layer="penultimate").isel(epoch=-1)  # every key is defined there
    assert all(np.isfinite(float(final[key])) for key in ("NC1", "NC2_ETF", "NC2_W_ETF", "NC3_ETF", "NC4", "loss", "accuracy"))
