"""The signal path of writing (`atomic.signals_deferred`, `outputs.lock`, `atomic.atomic_path`):
a SIGINT or SIGTERM landing at any step leaves no lock file and no temporary output.

The signals are real (os.kill of this process); where they land is made deterministic by sending
them from inside the step under test (a wrapper around the step's own system call), which is
exactly the window a signal from outside hits by chance (issue 23: `.metrics.zarr.lock` left after
SIGINT, once in a full test run)."""

from __future__ import annotations

import os
import signal

import pytest

from deepcollapse import atomic, outputs


class Stop(BaseException):
    pass


@pytest.fixture(autouse=True)
def sigint_raises():
    """SIGINT as an interactive process has it (a test runner's worker may ignore it)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def stop_on_sigterm():
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(Stop()))
    yield
    signal.signal(signal.SIGTERM, previous)


def test_a_signal_inside_the_block_is_acted_on_when_it_ends(stop_on_sigterm):
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with atomic.signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after the signal")  # not interrupted
    assert reached == ["after the signal"]
    with pytest.raises(Stop):
        with atomic.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


@pytest.mark.parametrize("step", ["open", "flock", "fstat", "ftruncate"])
def test_a_signal_while_the_lock_is_taken_leaves_no_lock_file(step, tmp_path, monkeypatch):
    """Without the deferral, SIGINT after `os.open` created the lock file and before the `finally`
    that removes it was installed left `.NAME.lock` behind."""
    module = {"open": outputs.os, "flock": outputs.fcntl, "fstat": outputs.os, "ftruncate": outputs.os}[step]
    real = getattr(module, step)

    def then_signal(*args, **kwargs):
        result = real(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(module, step, then_signal)
    target = tmp_path / "m.zarr"
    with pytest.raises(KeyboardInterrupt):
        with outputs.lock(target):
            pytest.fail("the block must not run once the signal came")  # pragma: no cover
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == [] and not outputs.held(target)


def test_a_signal_during_the_swap_of_a_store_keeps_one_whole_output(tmp_path, monkeypatch):
    target = tmp_path / "s"
    target.mkdir()
    (target / "old").write_text("old")
    real = atomic.os.replace
    calls = []

    def replace_then_signal(src, dst):
        real(src, dst)
        calls.append(dst)
        if len(calls) == 1:  # the old store is aside, the new one not yet in place
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(atomic.os, "replace", replace_then_signal)
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "new").write_text("new")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["s"] and [p.name for p in target.iterdir()] == ["new"]


def test_a_signal_after_the_writer_finished_removes_its_temporary_output(tmp_path):
    target = tmp_path / "t.json"
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("{}")
            os.kill(os.getpid(), signal.SIGINT)  # lands before the commit
            signal.getsignal(signal.SIGINT)  # a bytecode boundary: the handler runs here or at the commit
    assert list(tmp_path.iterdir()) in ([], [target])


def test_symlinked_targets_share_the_lock_of_their_target(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert atomic.real_target(link) == real and atomic.real_target(real) == real
    with outputs.lock(link):
        assert outputs.held(real) and (tmp_path / ".real.json.lock").exists()
    assert not (tmp_path / ".real.json.lock").exists()
