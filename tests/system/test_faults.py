"""Faults while writing: concurrent writers, SIGKILL and SIGTERM mid-write, read-only and full file
systems.  Real processes, real signals, real tmpfs mounts (root; the CI container runs as root)."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from deepcollapse import rundir
from deepcollapse.nets import checkpoint
from deepcollapse.outputs import lock_path
from deepcollapse.store import missing_chunks
from tests.support.tiny_artifacts import TRAIN, UFM, build, cli, copy, spawn, tmpfs, tree_hashes


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared"))


def _mountable(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(probe)], capture_output=True).returncode:
        pytest.skip(reason="needs root to mount a tmpfs (CI and make test run as root)")
    subprocess.run(["umount", str(probe)], check=True)


def _wait_for(predicate, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.05)


#: training's progress on stderr without a bar: one log line per finished epoch (trainer._epoch_line)
_EPOCH_LOG = re.compile(r"^train \S+: epoch \d+/\d+ ")


def _one_line(stderr: str) -> str:
    """The one error line of a failed command; progress (a tqdm bar, an epoch's log line) is not an error."""
    lines = [line for line in stderr.splitlines() if line.strip() and "%|" not in line and not _EPOCH_LOG.match(line)]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _slow_ufm(d: Path, iters: int = 400_000) -> Path:
    path = d / "slow.yaml"
    path.write_text(yaml.safe_dump({**UFM, "iters": iters, "log_every": iters}))
    return path


# ------------------------------------------------------------------------------ one writer
def test_a_second_writer_is_refused_with_the_holders_pid(art, tmp_path, capsys):
    out = tmp_path / "u.zarr"
    first = spawn(["ufm", "--config", _slow_ufm(tmp_path), "--out", out])
    try:
        _wait_for(lambda: lock_path(out).exists() and lock_path(out).read_text().strip())
        assert cli(["ufm", "--config", art["ufm.yaml"], "--out", out]) == 2
        line = _one_line(capsys.readouterr().err)
        assert f"process {first.pid}" in line and "being written" in line
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=120)
    # SIGTERM: one line, status 128+15, nothing written, no temporary or lock file left
    assert first.returncode == 143
    assert "SIGTERM" in _one_line(err)
    assert not out.exists() and _leftovers(tmp_path) == []


def test_a_killed_trainers_lock_is_taken_over_and_the_run_resumes(art, tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({**TRAIN, "epochs": 40, "checkpoints": [0, 40], "save_every": 1}))
    run = tmp_path / "run"
    trainer = spawn(["train", "--config", config, "--out", run, "--no-progress"])
    try:
        _wait_for(lambda: (checkpoint.directory(run) / checkpoint.RESUME_NAME).exists())
        assert cli(["train", "--config", config, "--out", run, "--no-progress"]) == 2
        assert f"process {trainer.pid}" in _one_line(capsys.readouterr().err)
    finally:
        trainer.kill()  # SIGKILL: no cleanup, the lock file stays with a dead pid in it
        trainer.communicate(timeout=60)
    assert lock_path(run).exists()
    assert cli(["train", "--config", config, "--out", run, "--no-progress"]) == 0  # stale lock: taken over
    assert rundir.done_path(run).is_file() and not lock_path(run).exists()


# ------------------------------------------------------------------------------ SIGKILL mid-write
@pytest.mark.parametrize("command", ["features", "metrics"])
def test_sigkill_at_random_points_leaves_the_good_store_or_a_whole_new_one(art, tmp_path, command):
    target = copy(art[f"{command}.zarr"], tmp_path / f"{command}.zarr")
    good = tree_hashes(target)
    reference = xr.open_zarr(target).load()
    argv = (["features", "--run", art["run"]] if command == "features" else ["metrics", "--features", art["features.zarr"]])
    argv += ["--out", target, "--no-progress"]
    rng = random.Random(14)
    for attempt in range(2):
        child = spawn(argv)
        time.sleep(rng.uniform(0.5, 6.0))  # importing torch takes most of it: the kill lands anywhere
        child.kill()
        child.communicate(timeout=60)
        if tree_hashes(target) != good:  # replaced: must be a whole store with the same content
            assert missing_chunks(target) is None
            xr.testing.assert_identical(xr.open_zarr(target).load().drop_attrs(), reference.drop_attrs())
            good = tree_hashes(target)
    # the next run takes over the lock, removes the dead writer's temporary store and succeeds
    assert cli(argv) == 0
    assert _leftovers(tmp_path) == []
    xr.testing.assert_identical(xr.open_zarr(target).load().drop_attrs(), reference.drop_attrs())


@pytest.mark.parametrize(("command", "signum"), [("features", signal.SIGTERM), ("metrics", signal.SIGTERM), ("metrics", signal.SIGINT)])
def test_sigterm_or_sigint_removes_the_temporary_store_and_says_so(art, tmp_path, command, signum):
    target = copy(art[f"{command}.zarr"], tmp_path / f"{command}.zarr")
    good = tree_hashes(target)
    argv = (["features", "--run", art["run"]] if command == "features" else ["metrics", "--features", art["features.zarr"]])
    child = spawn([*argv, "--out", target, "--no-progress"])
    _wait_for(lambda: lock_path(target).exists() or child.poll() is not None)
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    if child.returncode == 0:  # finished before the signal landed: a whole new store
        assert missing_chunks(target) is None
    else:
        assert child.returncode == 128 + signum and signal.Signals(signum).name in _one_line(err)
        assert tree_hashes(target) == good
    assert _leftovers(tmp_path) == []


def test_a_signal_after_the_command_finished_leaves_its_status_alone(monkeypatch):
    """The race behind a flaky [metrics-SIGINT] case above: a tiny command finished, and the signal
    landed during interpreter shutdown, killing a process whose output was whole (status -2, with a
    traceback). The process entry ignores SIGINT/SIGTERM once `main` has returned."""
    from deepcollapse import cli as cli_module

    monkeypatch.setattr(cli_module, "main", lambda: 0)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with pytest.raises(SystemExit) as exited:
            cli_module.entry()
        assert exited.value.code == 0
        for signum in saved:  # delivered now, as during shutdown: ignored, not fatal
            assert signal.getsignal(signum) == signal.SIG_IGN
            os.kill(os.getpid(), signum)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


# ------------------------------------------------------------------------------ file systems
def test_read_only_output_folder_is_one_line_for_every_writer(art, tmp_path, capsys):
    _mountable(tmp_path)
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        for argv in (
            ["ufm", "--config", art["ufm.yaml"], "--out", ro / "u.zarr"],
            ["theory", "--runs", art["ufm.zarr"], "--out", ro / "t.json"],
            ["metrics", "--features", art["features.zarr"], "--out", ro / "m.zarr", "--no-progress"],
            ["report", "summary", "--store", f"m={art['metrics.zarr']}", "--out", ro / "s.json"],
            ["train", "--config", art["train.yaml"], "--out", ro / "run", "--no-progress"],
            ["data", "--dataset", "digits", "--train-per-class", "2", "--out", ro / "d.zarr"],
        ):
            assert cli(argv) == 2, argv
            line = _one_line(capsys.readouterr().err)
            assert "Read-only file system" in line and str(ro) in line, line


def test_full_disk_while_writing_a_store_is_one_line_and_leaves_nothing(art, tmp_path, capsys):
    _mountable(tmp_path)
    with tmpfs(tmp_path / "full", size="16k") as full:
        assert cli(["metrics", "--features", art["features.zarr"], "--out", full / "m.zarr", "--no-progress"]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "No space left on device" in line and str(full) in line
        assert list(full.iterdir()) == []


def test_full_disk_during_a_checkpoint_write_keeps_the_previous_checkpoint(art, tmp_path, capsys):
    _mountable(tmp_path)
    def pages(path: Path) -> int:
        return -(-path.stat().st_size // 4096)

    # checkpoint 0 has no momentum buffers yet; later ones all have the size of checkpoint 1
    initial, later = pages(checkpoint.epoch_path(art["run"], 0)), pages(checkpoint.epoch_path(art["run"], 1))
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({**TRAIN, "epochs": 3, "checkpoints": [0, 1, 2, 3], "save_every": 0}))
    # run.json, history.json, the lock file, checkpoints 0 and 1: they fit; checkpoint 2 does not
    room = 4096 * (3 + pages(rundir.meta_path(art["run"])) + initial + later + later // 2)
    with tmpfs(tmp_path / "disk", size=str(room)) as disk:
        run = disk / "run"
        assert cli(["train", "--config", config, "--out", run, "--no-progress"]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "No space left on device" in line
        assert sorted(checkpoint.kept_epochs(run)) == [0, 1]
        assert not [p for p in checkpoint.directory(run).iterdir() if p.name.startswith(".")]  # no partial file
        path, state = checkpoint.newest(run)
        assert path == checkpoint.epoch_path(run, 1) and state["epoch"] == 1
        # the same run continues from epoch 1 once there is room
        copy(run, tmp_path / "moved")
    assert cli(["train", "--config", config, "--out", tmp_path / "moved", "--no-progress"]) == 0
    assert json.loads(rundir.done_path(tmp_path / "moved").read_text())["epochs"] == 3
