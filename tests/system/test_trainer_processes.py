"""Training across processes: a second process writes the same checkpoints, a SIGKILL after a
checkpoint or a SIGTERM (pre-emption: state saved, exit 75) resumes bitwise equal to an uninterrupted
run, and a job's log shows each epoch while it runs.  Fault tests on real processes and signals
(the in-process training tests are tests/unit/nets/test_trainer.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from deepcollapse import rundir
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.trainer import PREEMPTED_EXIT_STATUS, train
from tests.support.training import ENV, TINY, assert_bitwise_equal, final_weights, leaves, start_training, straight_run, wait_for


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    return straight_run(tmp_path_factory.mktemp("straight") / "run")


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
        a = dict(leaves(checkpoint.load(checkpoint.epoch_path(straight, epoch))))
        b = dict(leaves(checkpoint.load(checkpoint.epoch_path(other, epoch))))
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
