"""The output contract: what `--out` may replace, and one writer per output.

Every artifact deepcollapse writes names its kind in its own metadata (`MARKER`):

    Zarr store       group attribute ``deepcollapse_artifact`` (in the store's zarr.json)
    JSON file        top-level key ``deepcollapse_artifact``; the summary (a DVC metrics file whose
                     top-level keys are run names) by its shape: a mapping of mappings
    HTML page        ``<meta name="deepcollapse-artifact" content="KIND">``
    CSV table        its header row (the table has no place for metadata)
    run directory    ``run.json`` (key ``deepcollapse_artifact: run``; older runs: its config/data shape)

`claim(path, kind)` decides whether `path` may be written as `kind`: a missing path, an empty
directory, or an artifact of the same kind that deepcollapse wrote.  Anything else -- a foreign
directory, a regular file where a store goes, a run directory, a folder of other artifacts, a
store of another kind, a path below a regular file -- is an `InputError` naming it, unless
`force`.  The current directory and the directories above it are never replaced, even forced.

`lock(path)` is the one-writer rule: an exclusive `flock` on ``.NAME.lock`` beside the output (a
run directory too), held while the output is computed and written.  A second process is refused
with the holder's pid; the kernel drops the lock of a killed process, so a stale lock file is
simply taken over.  `reserve` is claim + lock for the duration of a command; `writing` adds the
atomic temporary path (`atomic.atomic_path`) -- every writer of the package goes through it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from . import rundir
from .atomic import atomic_path, real_target, signals_deferred
from .errors import InputError
from .stages import artifact_kinds

MARKER = "deepcollapse_artifact"

#: kind -> on-disk format.  A kind is what an output *is* (a metrics store), so that `--out`
#: naming a features store when writing metrics is refused even though both are Zarr.  The kinds
#: of the pipeline's outputs are declared with them in the stage table (deepcollapse.stages);
#: the generic ones are for Python users' writes without a kind.
KINDS: dict[str, str] = {**artifact_kinds(), "dataset": "zarr", "json": "json", "text": "text"}

# header rows of the CSV tables we write (first columns): a CSV has no place for a marker
_CSV_HEADERS = {"theory-csv": "run,point"}
# JSON documents with no room for a marker key (the summary's top-level keys are run names, a
# DVC metrics file): their shape is the recognition
UNMARKED_JSON = {"summary": lambda doc: isinstance(doc, dict) and bool(doc) and all(isinstance(v, dict) for v in doc.values())}

_HOST = socket.gethostname()


def html_marker(kind: str) -> str:
    return f'<meta name="deepcollapse-artifact" content="{kind}">'


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _is_run_json(meta) -> bool:
    if not isinstance(meta, dict):
        return False
    if meta.get(MARKER) == "run":
        return True
    # runs written before the marker existed: recognised by run.json's own shape
    return isinstance(meta.get("config"), dict) and isinstance(meta.get("data"), dict) and "content_hash" in meta["data"]


def artifact_kind(path: str | os.PathLike) -> str | None:
    """The kind of deepcollapse artifact at `path` according to its own metadata, or None."""
    path = Path(path)
    if path.is_dir():
        if (path / "zarr.json").is_file():
            meta = _read_json(path / "zarr.json")
            attrs = meta.get("attributes", {}) if isinstance(meta, dict) else {}
            kind = attrs.get(MARKER) if isinstance(attrs, dict) else None
            return kind if isinstance(kind, str) else None
        if rundir.meta_path(path).is_file() and _is_run_json(_read_json(rundir.meta_path(path))):
            return "run"
        return None
    if not path.is_file():
        return None
    if path.suffix == ".json":
        meta = _read_json(path)
        kind = meta.get(MARKER) if isinstance(meta, dict) else None
        if isinstance(kind, str):
            return kind
        return next((kind for kind, shaped in UNMARKED_JSON.items() if shaped(meta)), None)
    try:
        with path.open("r", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    if path.suffix in (".html", ".htm"):
        for kind in KINDS:
            if html_marker(kind) in head:
                return kind
        return None
    first = head.split("\n", 1)[0]
    for kind, header in _CSV_HEADERS.items():
        if first.startswith(header):
            return kind
    return None


def _describe(path: Path) -> str:
    if path.is_dir():
        entries = sorted(p.name for p in path.iterdir())
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        if (path / "zarr.json").is_file():
            return "a Zarr store that deepcollapse did not write"
        count = f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
        return f"a directory deepcollapse did not write (holding {count}: {shown})"
    return "a regular file"


def _never_replaced(path: Path) -> bool:
    """The current directory, a directory above it, or the root."""
    try:
        resolved, cwd = path.resolve(), Path.cwd().resolve()
    except OSError:
        return False
    return resolved == cwd or resolved in cwd.parents or resolved == Path(resolved.anchor)


def claim(path: str | os.PathLike, kind: str, *, force: bool = False) -> Path:
    """Refuse (InputError, one line) to write `kind` at `path` if that would destroy something
    deepcollapse did not write there; `force` overrides all but the current directory."""
    if kind not in KINDS:
        raise ValueError(f"unknown artifact kind {kind!r}")
    path = Path(path)
    if str(path) in ("", ".") or _never_replaced(path):
        raise InputError(f"{path}: refusing to write over the current directory or a directory above it; name a new path")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{path}: cannot be created, {parent} is a regular file, not a directory")
    if not path.exists():  # nothing there, or a link to nothing yet: written through (atomic.real_target)
        return path
    if path.is_dir() and not any(path.iterdir()):
        if KINDS[kind] in ("zarr", "run") or force:
            return path
    existing = artifact_kind(path)
    if existing == kind:
        return path
    if force:
        return path
    if existing == "run":
        what = f"a training run directory (checkpoints, {rundir.META})"
    elif existing is not None:
        what = f"a deepcollapse {existing} artifact, not a {kind} one"
    else:
        what = _describe(path)
    expected = {"zarr": f"a {kind} store", "run": "a run directory", "json": f"a {kind} JSON file"}.get(KINDS[kind], f"a {kind} file")
    raise InputError(f"{path}: is {what}; --out replaces only {expected} written by deepcollapse (choose another path, or add --force)")


def distinct(named: dict[str, str | os.PathLike | None]) -> None:
    """Refuse, before anything is written, two outputs of one command naming one file
    (``--out t.json --csv t.json``, or a link to the other): the second would replace the first.
    `named`: option -> path (None: not given)."""
    seen: dict[str, str] = {}
    for option, path in named.items():
        if path is None:
            continue
        where = os.path.realpath(real_target(path))
        if where in seen:
            raise InputError(f"{path}: {seen[where]} and {option} name the same file; give each output its own path")
        seen[where] = option


# ------------------------------------------------------------------------------------ locks
# lock file -> [fd, depth, kind, force]: a process re-entering its own lock (a command reserved
# its output, then the writer takes it again) must not conflict with itself (flock is per open file)
_HELD: dict[str, list] = {}


def lock_path(target: str | os.PathLike) -> Path:
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if not text:
        return "another process"
    pid, host = text[0], (text[1] if len(text) > 1 else "")
    return f"process {pid}" + (f" on {host}" if host and host != _HOST else "")


def _os_error(path: Path, exc: OSError) -> InputError:
    where = exc.filename or path
    return InputError(f"{where}: cannot write ({exc.strerror or exc})")


@contextlib.contextmanager
def lock(target: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive lock of output `target` (creating its parent directory); InputError
    naming the holder's pid when another process holds it.

    The lock file is created, locked and its removal installed with SIGINT/SIGTERM held
    (`atomic.signals_deferred`): a signal landing between creating the file and the ``finally``
    that removes it would leave the lock file behind.  A symbolic link is locked at its target
    (two names of one output share one lock).
    """
    shown = Path(target)  # the user's path, for messages
    target = real_target(shown)
    path = lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _os_error(path.parent, exc) from None
    key = os.path.realpath(path)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield path
        finally:
            _HELD[key][1] -= 1
        return
    held_here = False
    try:
        with signals_deferred():
            fd = _acquire(path, shown)
            _HELD[key] = [fd, 1, None, False]
            held_here = True
        yield path
    finally:
        if held_here:
            with signals_deferred():
                fd = _HELD.pop(key)[0]
                with contextlib.suppress(OSError):
                    os.unlink(path)  # while still holding it: a waiter that opened it retries (inode check)
                os.close(fd)


def _acquire(path: Path, target: Path) -> int:
    """Open and flock lock file `path` of output `target`; the locked fd (InputError if held elsewhere)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise _os_error(path, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _holder(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise InputError(f"{target}: is being written by {holder} (lock {path}); wait for it to finish, or stop it") from None
            raise _os_error(path, exc) from None
        # the previous holder may have unlinked the file between our open and flock: then the
        # lock we hold is on a dead inode and a third process could lock the new file -- retry
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_HOST}\n".encode(), 0)
    except OSError:
        pass  # the pid is only for the message of a refused writer
    return fd


def _key(target: str | os.PathLike) -> str:
    return os.path.realpath(lock_path(real_target(target)))


def held(target: str | os.PathLike) -> bool:
    return _key(target) in _HELD


@contextlib.contextmanager
def reserve(target: str | os.PathLike, kind: str, *, force: bool = False) -> Iterator[Path]:
    """Claim `target` for `kind` and hold its lock for the duration (a command's whole run): a
    refusal or a second writer fails before any computation.  Parent directories created here
    are removed again if the command fails before writing."""
    target = Path(target)
    claim(target, kind, force=force)
    key = _key(target)
    if key in _HELD and _HELD[key][2] is not None:
        with lock(target):
            yield target
        return
    created = [p for p in reversed(target.parents) if not p.exists()]
    try:
        with lock(target):
            claim(target, kind, force=force)  # again, now that no other writer can change it
            _HELD[key][2:] = [kind, force]
            yield target
    except BaseException:
        for parent in reversed(created):
            with contextlib.suppress(OSError):
                parent.rmdir()  # only if still empty
        raise


def reserved_force(target: str | os.PathLike) -> bool:
    """Whether this process reserved `target` with --force (the writer then inherits it)."""
    entry = _HELD.get(_key(target))
    return bool(entry and entry[3])


@contextlib.contextmanager
def writing(target: str | os.PathLike, kind: str, *, force: bool = False) -> Iterator[Path]:
    """Reserve `target` and yield a temporary path beside it, moved onto `target` on success."""
    force = force or reserved_force(target)
    with reserve(target, kind, force=force):
        try:
            with atomic_path(target) as tmp:
                yield tmp
        except OSError as exc:
            # the user's path and the reason: never the temporary path the writer was writing
            raise InputError(f"{target}: cannot write ({exc.strerror or exc})") from None
