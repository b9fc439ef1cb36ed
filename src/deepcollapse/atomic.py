"""The atomic-write primitive: a temporary path beside the target, renamed into place.

An interrupted job never leaves a half-written artifact that a later step (or Snakemake) would
mistake for a finished one.  This is the bottom layer of writing: the output contract
(`deepcollapse.outputs.writing`) and the stores (`deepcollapse.store`) are built on it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

_HOST = socket.gethostname()


#: The signals a command turns into exceptions (cli: SIGINT KeyboardInterrupt, SIGTERM Terminated).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the duration of the block, then act on the first that came.

    For the few steps that must happen together or not at all: a lock taken *and* its removal
    installed, a store moved aside *and* the new one moved in.  A signal handler raises wherever
    Python happens to be; between two such steps it leaves a lock file or a half-swapped output.
    Here the Python handlers are swapped for a recorder (blocking the signal with a mask would not
    do: torch's and zarr's threads would receive it instead), and on leaving the block the
    original handler runs, so its exception is raised at the block's end.  Off the main thread
    (no Python handler runs there) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    try:
        for signum in STOP_SIGNALS:
            if signal.getsignal(signum) is not None:  # None: a handler not installed from Python, left alone
                previous[signum] = signal.signal(signum, lambda got, frame: pending.append(got))
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            handler = previous.get(pending[0])
            if callable(handler):
                handler(pending[0], None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), pending[0])


def real_target(target: str | os.PathLike) -> Path:
    """The file a write to `target` replaces: a symbolic link's target (the link is kept), else `target`.

    `--out` naming a link writes through it (docs/outputs.md, "Outputs are safe"): the target is
    replaced atomically, beside itself, and the link still points at it.
    """
    target = Path(target)
    return Path(os.path.realpath(target)) if target.is_symlink() else target


def _sibling(target: Path, tag: str) -> Path:
    # host and pid in the name let a later writer tell a killed writer's leftovers from live ones
    return target.with_name(f".{target.name}.{tag}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_siblings(target: Path) -> None:
    """Delete temporary siblings of `target` whose writer (on this host) no longer runs.

    A job killed by SIGKILL (or a node's out-of-memory killer) never reaches its cleanup; a
    feature store at full width is gigabytes, so its retry removes the leftovers first.
    """
    for tag in ("tmp", "old"):
        prefix = f".{target.name}.{tag}-"
        for path in target.parent.glob(f"{glob.escape(prefix)}*"):
            host, _, rest = path.name[len(prefix):].rpartition("-")[0].rpartition("-")
            if host == _HOST and rest.isdigit() and not _process_alive(int(rest)):
                _remove(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success move it onto `target`, else delete it.

    Works for files and directories (a Zarr store is a directory).  Replacing an existing
    directory takes two renames: the old one is moved aside first and deleted afterwards; a
    SIGINT/SIGTERM is held until both are done (`signals_deferred`).  A `target` that is a
    symbolic link is written through: its target is replaced, the link kept (`real_target`).
    """
    target = real_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(target)
    tmp = _sibling(target, "tmp")
    try:
        yield tmp
        if not tmp.exists():
            raise RuntimeError(f"nothing was written to the temporary path for {target}")
        with signals_deferred():
            _commit(tmp, target)
    except BaseException:
        with signals_deferred():  # a second signal must not stop the removal half-way
            _remove(tmp)
        raise


def _commit(tmp: Path, target: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        # a directory cannot be replaced in one rename: move it aside first (the output contract,
        # `deepcollapse.outputs.claim`, has already decided that it may be replaced)
        old = _sibling(target, "old")
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)  # put the previous output back
            raise
        _remove(old)
    else:
        os.replace(tmp, target)
