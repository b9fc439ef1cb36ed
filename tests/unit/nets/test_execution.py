"""Every execution option on CPU: fp32, bf16, channels_last, both, torch.compile.

Each variant trains a tiny run, is stopped by a real SIGTERM mid-epoch, resumes to bitwise the
weights and optimizer state of an uninterrupted run (what the README promises on CPU), and its
checkpoints give features and metrics.  The CUDA-only options are refused in one line on CPU.
Nothing here runs on a GPU: what the GPU kit checks there is in docs/operations.md#gpu.
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
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.nets import checkpoint, extract_features, layer_metrics
from deepcollapse.nets.config import EXECUTION_FIELDS, TrainConfig
from deepcollapse.nets.runtime import Normalizer, check_cuda_index, math_mode, refuse_cpu_in_gpu_job
from deepcollapse.nets.trainer import Preempted, _GraphedStep, train

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
    """A real SIGTERM to this process as 0-based `epoch` begins: seen after its first step, so the
    state is saved mid-epoch (step 1 of 10)."""
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


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_trains_resumes_bitwise_and_gives_features_and_metrics(variant, tmp_path, monkeypatch):
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


def test_precision_may_change_on_resume_and_each_segment_records_it(tmp_path, monkeypatch, capsys):
    """`precision` is an execution field (params.yaml says so): switching to bf16 for speed resumes
    the run (the workflow passes --restart-if-changed, which once deleted it and started over)."""
    run = tmp_path / "run"
    with monkeypatch.context() as mp:
        sigterm_when_epoch_begins(mp, 1)
        with pytest.raises(Preempted):
            train(from_mapping(TrainConfig, TINY), run, progress=False)
    first = checkpoint.load(checkpoint.epoch_path(run, 0))["model"]
    train(from_mapping(TrainConfig, {**TINY, "precision": "bf16"}), run, progress=False, restart_if_changed=True)
    assert "removing" not in capsys.readouterr().err
    assert all(torch.equal(a, b) for a, b in zip(first.values(), checkpoint.load(checkpoint.epoch_path(run, 0))["model"].values()))
    segments = json.loads(rundir.meta_path(run).read_text())["provenance"]["segments"]
    assert [(s["from_epoch"], s["from_step"], s["execution"]["precision"], s["math"]["autocast"]) for s in segments] == [
        (0, 0, "fp32", None), (1, 1, "bf16", "bfloat16"),
    ]
    assert "precision" in EXECUTION_FIELDS


def test_math_mode_makes_fp32_ieee_and_restores_torchs_flags():
    flags = lambda: (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.benchmark)  # noqa: E731
    before = flags()
    cuda = torch.device("cuda", 0)  # only named: the flags are process-wide and settable without a GPU
    with math_mode(cuda, "fp32", benchmark=True):
        assert flags() == ("ieee", "ieee", True)
    assert flags() == before
    with math_mode(cuda, "bf16"):
        assert flags()[:2] == ("ieee", "ieee")
    with math_mode(cuda, "tf32"):
        assert flags()[:2] == ("tf32", "tf32")
    assert flags() == before


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ({"cuda_graphs": True}, None, "key 'cuda_graphs' needs a CUDA device, but the run uses cpu"),
        ({"precision": "tf32"}, None, "key 'precision': tf32 (TensorFloat-32 tensor cores) needs a CUDA device, but the run uses cpu"),
        ({"device": "cuda"}, None, "device 'cuda' was requested but CUDA is not available"),
        ({"device": "cuda:1", "cuda_graphs": True}, None, "device 'cuda:1' was requested but CUDA is not available"),
        ({"device": "auto"}, {"CUDA_VISIBLE_DEVICES": "0"}, "device 'auto': this job was given GPU(s) CUDA_VISIBLE_DEVICES=0 but torch cannot use CUDA"),
    ],
    ids=["cuda_graphs", "tf32", "cuda", "cuda:1", "auto-in-a-gpu-job"],
)
def test_cuda_only_options_are_refused_in_one_line_on_cpu(tmp_path, capsys, monkeypatch, config, env, message):
    # a machine whose torch cannot use CUDA (this one; on a GPU machine: as after a driver mismatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**TINY, **config}))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not checkpoint.kept_epochs(tmp_path / "run")


def test_auto_in_a_job_without_gpus_is_the_cpu():
    for visible in (None, "", "-1", "NoDevFiles"):
        refuse_cpu_in_gpu_job(torch.device("cpu"), visible)
    refuse_cpu_in_gpu_job(torch.device("cuda", 0), "0")
    with pytest.raises(InputError, match="CUDA_VISIBLE_DEVICES=0,1"):
        refuse_cpu_in_gpu_job(torch.device("cpu"), "0,1")


def test_a_cuda_index_beyond_the_machine_is_one_line():
    check_cuda_index("cuda:1", 1, 2)
    with pytest.raises(InputError, match=r"^device 'cuda:2': this machine has 2 CUDA device\(s\), cuda:0..cuda:1$"):
        check_cuda_index("cuda:2", 2, 2)


def test_cuda_graph_input_is_laid_out_like_the_eager_input():
    """Under channels_last a (B, 1, H, W) batch has NHWC strides; the graph's buffer must have the
    same (the NCHW buffer `.contiguous(memory_format=channels_last)` returned did not)."""
    normalize = Normalizer((0.5,), (0.25,)).on(torch.device("cpu"), channels_last=True)
    x = normalize(torch.zeros((4, 1, 8, 8), dtype=torch.uint8))
    old = torch.zeros(x.shape).contiguous(memory_format=torch.channels_last)
    assert old.stride() != x.stride()  # the layout the graph's input once had
    assert _GraphedStep.static_like(x).stride() == x.stride()
