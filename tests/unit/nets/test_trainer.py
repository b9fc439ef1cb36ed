"""Training: determinism, kill-and-resume, SIGTERM pre-emption, divergence, config mismatch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deepcollapse import rundir
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.trainer import PREEMPTED_EXIT_STATUS, Preempted, TrainingDiverged, train
from tests.support import ROOT
from tests.support.execution import sigterm_when_epoch_begins

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


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("straight") / "run"
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


def test_run_directory_contents(straight):
    kept = checkpoint.kept_epochs(straight)
    assert sorted(kept) == [0, 1, 3, 5]
    assert not (straight / "checkpoints" / "resume.pt").exists()
    history = json.loads((straight / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert [h["lr"] for h in history] == pytest.approx([0.05, 0.05, 0.005, 0.005, 0.0005])  # lr/10 every lr_step=2 epochs
    meta = json.loads((straight / "run.json").read_text())
    assert meta["config"]["checkpoints"] == [0, 1, 3, 5] and meta["data"]["train_samples"] == 300
    # the layout is a contract (the docs, the workflow's declared done.json): spelled here, named
    # once in the package (deepcollapse.rundir), which every other test and module goes through
    assert sorted(p.name for p in straight.iterdir()) == ["checkpoints", "done.json", "history.json", "run.json"]
    paths = [rundir.meta_path(straight), rundir.checkpoints_path(straight), rundir.history_path(straight), rundir.done_path(straight)]
    assert paths == [straight / "run.json", straight / "checkpoints", straight / "history.json", straight / "done.json"]
    assert "git" in meta["provenance"]
    state = checkpoint.load(kept[3])
    assert state["epoch"] == 3 and state["step"] == 0 and state["config"]["seed"] == 7
    assert {"model", "optimizer", "scheduler", "rng"} <= set(state)
    # a completed run is not retrained
    mtime = kept[5].stat().st_mtime_ns
    train(from_mapping(TrainConfig, TINY), straight, progress=False)
    assert kept[5].stat().st_mtime_ns == mtime


def _leaves(obj, path=""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, f"{path}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _leaves(value, f"{path}[{i}]")
    else:
        yield path, obj


def test_two_processes_write_identical_checkpoints(straight, tmp_path):
    # Everything a checkpoint holds is a function of the config, the global Python/numpy RNG states
    # included (they were once unseeded: equal weights, different checkpoints), except the epochs'
    # wall times in its history.
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(TINY))
    other = tmp_path / "run"
    proc = start_training(other, config_path)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    for epoch in (0, 1, 3, 5):
        a = dict(_leaves(checkpoint.load(checkpoint.epoch_path(straight, epoch))))
        b = dict(_leaves(checkpoint.load(checkpoint.epoch_path(other, epoch))))
        assert a.keys() == b.keys()
        for key in a:
            if key.endswith(".seconds"):
                continue
            x, y = a[key], b[key]
            if isinstance(x, torch.Tensor):
                assert x.dtype == y.dtype and torch.equal(x, y), (epoch, key)
            elif isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (epoch, key)
            else:
                assert x == y or (x != x and y != y), (epoch, key, x, y)


def test_sigkill_after_checkpoint_then_resume_is_bitwise_equal(straight, tmp_path):
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    proc = start_training(run, config_path)
    wait_for(checkpoint.epoch_path(run, 1), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert not rundir.done_path(run).exists(), "the run finished before it could be killed"
    train(from_mapping(TrainConfig, TINY), run, progress=False)
    assert_bitwise_equal(final_weights(run), final_weights(straight))
    assert not list(rundir.checkpoints_path(run).glob(".*.tmp-*"))  # a write cut by the kill is cleaned up


def test_sigterm_saves_exits_75_and_resumes_bitwise_equal(straight, tmp_path):
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps(TINY))
    run = tmp_path / "run"
    proc = start_training(run, config_path)
    wait_for(checkpoint.epoch_path(run, 1), proc)
    time.sleep(0.05)  # land inside epoch 2 (usually mid-epoch; an epoch boundary works too)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == PREEMPTED_EXIT_STATUS == 75, stderr
    assert "SIGTERM received: state saved" in stderr
    resume = checkpoint.newest(run)
    assert resume is not None and (resume[1]["epoch"], resume[1]["step"]) > (1, 0)
    assert not rundir.done_path(run).exists()
    assert main(["train", "--config", str(config_path), "--out", str(run), "--no-progress"]) == 0
    assert_bitwise_equal(final_weights(run), final_weights(straight))


@pytest.mark.parametrize(
    ("batch_size", "stopped_at", "saved_as"),
    [(32, (1, 1), "resume.pt"), (300, (2, 0), "resume.pt"), (300, (3, 0), "epoch-0003.pt")],
    ids=["mid-epoch", "epoch-boundary", "kept-checkpoint"],
)
def test_sigterm_at_a_known_point_resumes_bitwise_equal(straight, tmp_path, monkeypatch, batch_size, stopped_at, saved_as):
    """10 steps per epoch: the signal is seen after the first step of epoch 2 and the state saved
    mid-epoch.  One step per epoch (batch 300 of 300 samples): it is seen at the epoch's end, and
    the epoch's own checkpoint (resume.pt, or the kept epoch-0003.pt) is the saved state."""
    cfg = from_mapping(TrainConfig, {**TINY, "batch_size": batch_size})
    reference = straight
    if batch_size != TINY["batch_size"]:
        reference = tmp_path / "straight"
        train(cfg, reference, progress=False)
    sigterm_when_epoch_begins(monkeypatch, stopped_at[0] - (stopped_at[1] == 0))
    with pytest.raises(Preempted) as stopped:
        train(cfg, tmp_path / "run", progress=False)
    assert (stopped.value.epoch, stopped.value.step) == stopped_at
    assert stopped.value.path.name == saved_as and stopped.value.path.is_file()
    path, state = checkpoint.newest(tmp_path / "run")
    assert path.name == saved_as and (state["epoch"], state["step"]) == stopped_at
    assert not rundir.done_path(tmp_path / "run").exists()
    train(cfg, tmp_path / "run", progress=False)
    assert_bitwise_equal(final_weights(tmp_path / "run"), final_weights(reference))
    # the resumed run's history (running loss of the interrupted epoch included) is the straight one's
    history = [json.loads(rundir.history_path(run).read_text()) for run in (tmp_path / "run", reference)]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in history[0]] == [
        {k: v for k, v in h.items() if k != "seconds"} for h in history[1]
    ]


def test_resume_uses_this_runs_optimizer_implementation(straight, tmp_path, monkeypatch):
    """A state saved by a CUDA run (fused SGD) resumed on CPU runs CPU's SGD, to the same bits."""
    cfg = from_mapping(TrainConfig, TINY)
    sigterm_when_epoch_begins(monkeypatch, 3)
    with pytest.raises(Preempted) as stopped:
        train(cfg, tmp_path / "run", progress=False)
    state = checkpoint.load(stopped.value.path)
    assert state["optimizer"]["param_groups"][0]["fused"] is None
    for group in state["optimizer"]["param_groups"]:
        group.update(fused=True, foreach=False)  # what `deepcollapse train` on CUDA saves
    checkpoint.save(stopped.value.path, state)
    train(cfg, tmp_path / "run", progress=False)
    final = checkpoint.load(checkpoint.epoch_path(tmp_path / "run", 5))
    assert {(g["fused"], g["foreach"]) for g in final["optimizer"]["param_groups"]} == {(None, None)}
    assert_bitwise_equal(final["model"], final_weights(straight))


def test_optimizer_gets_the_recipe(straight):
    groups = checkpoint.load(checkpoint.epoch_path(straight, 1))["optimizer"]["param_groups"]
    assert len(groups) == 1  # one group: weight decay applies to every parameter (BatchNorm included)
    assert {k: groups[0][k] for k in ("lr", "momentum", "weight_decay", "nesterov", "dampening")} == {
        "lr": 0.05, "momentum": 0.9, "weight_decay": 5e-4, "nesterov": False, "dampening": 0,
    }


def test_nan_loss_stops_with_a_clear_error(tmp_path, capsys):
    cfg = from_mapping(TrainConfig, {**TINY, "lr": 1e12, "epochs": 2, "checkpoints": [0]})
    with pytest.raises(TrainingDiverged, match=r"training diverged: the loss became (nan|inf) in epoch 1 .*lower 'lr'"):
        train(cfg, tmp_path / "run", progress=False)
    assert sorted(checkpoint.kept_epochs(tmp_path / "run")) == [0]  # nothing saved after the divergence
    config_path = tmp_path / "nan.json"
    config_path.write_text(json.dumps({**TINY, "lr": 1e12, "epochs": 2, "checkpoints": [0]}))
    assert main(["train", "--config", str(config_path), "--out", str(tmp_path / "run2"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training diverged" in err


def test_resume_with_another_config_is_refused(straight):
    with pytest.raises(InputError, match=r"cannot resume this run: it was made with lr=0.05, not 0.1"):
        train(from_mapping(TrainConfig, {**TINY, "lr": 0.1}), straight, progress=False)


def test_a_run_made_before_the_head_option_resumes_and_a_head_change_is_refused(straight, tmp_path):
    """run.json of runs made before issue 21 has no head_depth/head_width: they were depth 1, and
    resume bitwise; a depth-3 config is a science change."""
    import shutil

    run = shutil.copytree(straight, tmp_path / "run")
    meta = json.loads(rundir.meta_path(run).read_text())
    assert meta["config"].pop("head_depth") == 1 and meta["config"].pop("head_width") == 64
    rundir.meta_path(run).write_text(json.dumps(meta))
    rundir.done_path(run).unlink()
    checkpoint.epoch_path(run, 5).unlink()
    train(from_mapping(TrainConfig, TINY), run, progress=False)
    assert_bitwise_equal(final_weights(run), final_weights(straight))
    with pytest.raises(InputError, match=r"cannot resume this run: it was made with head_depth=1, not 3"):
        train(from_mapping(TrainConfig, {**TINY, "head_depth": 3}), run, progress=False)


def test_restart_if_changed_starts_over_on_science_but_resumes_on_execution_changes(straight, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight, run)
    kept = checkpoint.epoch_path(run, 3)
    mtime = kept.stat().st_mtime_ns
    # an execution-only change (save_every) on an interrupted run: resumed, earlier checkpoints
    # untouched (save_every, unlike threads, cannot change the arithmetic: bitwise equal weights)
    rundir.done_path(run).unlink()
    checkpoint.epoch_path(run, 5).unlink()
    train(from_mapping(TrainConfig, {**TINY, "save_every": 2}), run, progress=False, restart_if_changed=True)
    assert kept.stat().st_mtime_ns == mtime and "removing" not in capsys.readouterr().err
    assert_bitwise_equal(final_weights(run), final_weights(straight))
    # a science change: the old run is deleted (saying why) and the new one trained from scratch
    train(from_mapping(TrainConfig, {**TINY, "lr": 0.1}), run, progress=False, restart_if_changed=True)
    assert "removing the previous run (it was made with lr=0.05, not 0.1)" in capsys.readouterr().err
    assert json.loads(rundir.meta_path(run).read_text())["config"]["lr"] == 0.1
    assert not torch.equal(final_weights(run)["fc.weight"], final_weights(straight)["fc.weight"])


def test_same_images_from_a_store_or_converted_in_memory_train_identically(tmp_path):
    # The in-memory conversion of the whole digits set yields a (N, 1, 8, 8) array whose size-1
    # channel dim has an NHWC-like stride; the store gives canonical strides.  Both must train
    # bitwise-identically (they once differed by 0.09 after one epoch: channels-last kernels).
    store_path = tmp_path / "digits.zarr"
    assert main(["data", "--dataset", "digits", "--out", str(store_path)]) == 0
    whole = {k: v for k, v in TINY.items() if not k.endswith("per_class")} | {"epochs": 1, "checkpoints": [0, 1]}
    weights = []
    for name, data in (("in-memory", None), ("from-store", str(store_path))):
        train(from_mapping(TrainConfig, {**whole, "data": data}), tmp_path / name, progress=False)
        weights.append(checkpoint.load(checkpoint.epoch_path(tmp_path / name, 1))["model"])
    assert_bitwise_equal(*weights)


def _catches(pid: int, sig: signal.Signals) -> bool:
    """Whether process `pid` has installed a handler for `sig` (Linux: the SigCgt mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def test_sigterm_before_training_starts_exits_preempted_and_writes_nothing(tmp_path):
    # The job blocks reading its config from stdin; a SIGTERM then (SLURM cancelling a job that
    # is still starting) must give the pre-emption status, not a bare 143.
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepcollapse", "train", "--config", "-", "--out", str(run)],
        env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 60
    while not _catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline, "the handler was never installed"
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == PREEMPTED_EXIT_STATUS == 75
    assert "SIGTERM before training started" in err and not run.exists()


def test_a_damaged_newest_checkpoint_falls_back_to_an_older_one(straight, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(straight, run)
    newest = checkpoint.epoch_path(run, 5)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a crash without fsync...
    rundir.done_path(run).unlink()  # ...before the run could record that it finished
    train(from_mapping(TrainConfig, TINY), run, progress=False)
    assert "resuming from an older checkpoint" in capsys.readouterr().err
    history = json.loads(rundir.history_path(run).read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert_bitwise_equal(final_weights(run), final_weights(straight))


def test_a_log_shows_each_epoch_while_the_job_runs(tmp_path):
    """Not on a terminal (a SLURM or Snakemake log): one line per epoch, flushed as the epoch ends,
    and history.json rewritten after each, both readable while the process still runs."""
    config_path = tmp_path / "tiny.json"
    config_path.write_text(json.dumps({**TINY, "epochs": 40, "checkpoints": [0]}))
    run, log = tmp_path / "run", tmp_path / "train.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deepcollapse", "train", "--config", str(config_path), "--out", str(run), "--no-progress"],
            env=ENV, stdout=sink, stderr=sink, text=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "epoch 2/40" not in log.read_text():
            assert proc.poll() is None, f"training ended early: {log.read_text()}"
            assert time.monotonic() < deadline, "no epoch line in the log"
            time.sleep(0.01)
        history = json.loads(rundir.history_path(run).read_text())  # written after epoch 1 at the latest
        assert proc.poll() is None, "the check must happen while the job runs"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    assert proc.returncode == PREEMPTED_EXIT_STATUS
    assert [h["epoch"] for h in history][:1] == [1]
    first = next(line for line in log.read_text().splitlines() if line.startswith("train run: epoch 1/40"))
    words = first.split()
    assert words[4:12:2] == ["loss", "accuracy", "lr", f"{history[0]['seconds']:.1f}"]
    assert float(words[5]) == pytest.approx(history[0]["loss"], rel=1e-5) and float(words[7]) == pytest.approx(history[0]["accuracy"], abs=1e-4)
    assert words[11] == "s" and words[13] == "images/s" and words[14] == "ETA"
    images_per_s = float(words[12])
    assert images_per_s == pytest.approx(300 / history[0]["seconds"], rel=0.05)  # 300 training images in the epoch
