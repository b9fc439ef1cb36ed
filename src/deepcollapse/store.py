"""Atomic, provenance-carrying storage of results (Zarr v3 through xarray, JSON, text).

Every writer here writes to a temporary path beside the target and renames it into place, so an
interrupted job never leaves a half-written artifact that a later step (or Snakemake) would
mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import shutil
import socket
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError


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
    if tmp.is_dir() and target.exists():
        old = _sibling(target, "old")
        os.replace(target, old)
        os.replace(tmp, target)
        _remove(old)
    else:
        os.replace(tmp, target)


def jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars, tuples and paths into plain JSON types (NaN -> None)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.generic,)):
        return jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if hasattr(obj, "item") and callable(obj.item):  # torch scalar tensors
        return jsonable(obj.item())
    return str(obj)


def _variable_length_strings(ds):
    """Store text (layer names, labels) as Zarr v3's variable-length UTF-8 strings.

    xarray would write numpy's fixed-width unicode as zarr-python's FixedLengthUTF32, a data type
    with no Zarr v3 specification yet (other readers may not open it; zarr warns about it).
    """
    strings = np.dtypes.StringDType()
    for name in list(ds.variables):
        if ds[name].dtype.kind == "U":
            converted = ds[name].astype(strings)
            ds = ds.assign_coords({name: converted}) if name in ds.coords else ds.assign({name: converted})
    return ds


def write_dataset(ds, path: str | os.PathLike, *, encoding: dict | None = None, provenance: dict | None = None) -> Path:
    """Write an xarray Dataset as a consolidated Zarr v3 store, atomically.

    `provenance` (see `deepcollapse.provenance.collect`) is stored under ``attrs["provenance"]``.
    """
    path = Path(path)
    ds = _variable_length_strings(ds.copy())
    if provenance is not None:
        ds.attrs["provenance"] = provenance
    ds.attrs = jsonable(ds.attrs)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # Consolidated metadata makes xarray.open_zarr fast and quiet; zarr warns that it is not
        # (yet) part of the v3 spec, which is true and harmless for readers using zarr-python.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(tmp, mode="w", zarr_format=3, consolidated=True, encoding=encoding or {})
    return path


def open_dataset(path: str | os.PathLike):
    """Open a Zarr store written by `write_dataset` (lazily); a missing/unreadable store is an InputError."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such Zarr store")
    try:
        return xr.open_zarr(path, consolidated=None)
    except Exception as exc:  # zarr raises a variety of errors for a corrupt store
        raise InputError(f"{path}: not a readable Zarr store ({type(exc).__name__}: {exc})") from None


def write_json(obj: Any, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(obj), indent=2, sort_keys=True) + "\n")
    return path


def write_text(text: str, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
