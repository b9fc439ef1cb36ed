"""Training in one process: determinism, resume at known points, divergence, config mismatch (the
kill, pre-emption and log tests across processes are tests/system/test_trainer_processes.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from deepcollapse import rundir
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.trainer import PREEMPTED_EXIT_STATUS, Preempted, TrainingDiverged, train
from tests.support.execution import sigterm_when_epoch_begins
from tests.support.training import ENV, TINY, assert_bitwise_equal, final_weights, straight_run


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    return straight_run(tmp_path_factory.mktemp("straight") / "run")


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


def test_a_preemption_it_cannot_record_is_a_warning_and_still_a_preemption(tmp_path, monkeypatch, capsys):
    """The state is saved before run.json is told: a run.json that cannot be read then costs the
    record (a warning), never the exit status 75 a scheduler retries on."""
    from deepcollapse.nets import trainer

    cfg = from_mapping(TrainConfig, TINY)
    sigterm_when_epoch_begins(monkeypatch, 1)
    run = tmp_path / "run"
    original = trainer.epoch_order

    def order(seed, epoch, n):
        if epoch == 1:
            rundir.meta_path(run).write_text("{ not json")
        return original(seed, epoch, n)

    monkeypatch.setattr(trainer, "epoch_order", order)  # runs after the SIGTERM-sending wrapper
    with pytest.raises(Preempted) as stopped:
        train(cfg, run, progress=False)
    assert stopped.value.path.is_file()
    assert "the pre-emption could not be recorded" in capsys.readouterr().err


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
