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
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

_HOST = socket.gethostname()


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
    directory takes two renames: the old one is moved aside first and deleted afterwards.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_siblings(target)
    tmp = _sibling(target, "tmp")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if not tmp.exists():
        raise RuntimeError(f"nothing was written to the temporary path for {target}")
    if target.is_dir() and not target.is_symlink():
        # a directory cannot be replaced in one rename: move it aside first (the output contract,
        # `deepcollapse.outputs.claim`, has already decided that it may be replaced)
        old = _sibling(target, "old")
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
    else:
        os.replace(tmp, target)
