"""Atomic, provenance-carrying storage of results (Zarr v3 through xarray, JSON, text).

Every writer here writes to a temporary path beside the target and renames it into place
(`deepcollapse.atomic.atomic_path`), so an interrupted job never leaves a half-written artifact
that a later step (or Snakemake) would mistake for a finished one; an output goes through the
output contract (`deepcollapse.outputs.writing`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path
from .errors import InputError
from .outputs import MARKER, UNMARKED_JSON, writing


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


def write_dataset(
    ds, path: str | os.PathLike, *, kind: str = "dataset", encoding: dict | None = None, provenance: dict | None = None,
    force: bool = False,
) -> Path:
    """Write an xarray Dataset as a consolidated Zarr v3 store, atomically, as artifact `kind`.

    `provenance` (see `deepcollapse.provenance.collect`) is stored under ``attrs["provenance"]``;
    the kind under ``attrs["deepcollapse_artifact"]``.  An existing `path` is replaced only if it
    is a store of the same kind (or `force`): see `deepcollapse.outputs`.
    """
    path = Path(path)
    ds = _variable_length_strings(ds.copy())
    if provenance is not None:
        ds.attrs["provenance"] = provenance
    ds.attrs[MARKER] = kind
    ds.attrs = jsonable(ds.attrs)
    with writing(path, kind, force=force) as tmp, warnings.catch_warnings():
        # Consolidated metadata makes xarray.open_zarr fast and quiet; zarr warns that it is not
        # (yet) part of the v3 spec, which is true and harmless for readers using zarr-python.
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        to_zarr(ds, tmp, mode="w", encoding=encoding or {})
    return path


def to_zarr(ds, path, **kwargs) -> None:
    """`Dataset.to_zarr` as every writer of the package calls it: Zarr v3, consolidated, and every
    chunk written even when it equals the fill value -- so that a chunk file missing from a store
    always means damage (`missing_chunks`), never "all fill value"."""
    if "append_dim" not in kwargs:
        kwargs.setdefault("zarr_format", 3)
        kwargs["encoding"] = _checksummed(ds, kwargs.get("encoding") or {})
    ds.to_zarr(path, consolidated=True, write_empty_chunks=True, **kwargs)


def _checksummed(ds, encoding: dict) -> dict:
    """Every chunk compressed and followed by its CRC32C: zstd alone decodes many damaged chunks
    into wrong numbers without a word; with the checksum a damaged chunk fails to read."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    out = {name: dict(enc) for name, enc in encoding.items()}
    for name in ds.variables:
        out.setdefault(str(name), {}).setdefault("compressors", (ZstdCodec(level=0), Crc32cCodec()))
    return out


def _chunk_files(array_dir: Path, meta: dict) -> Iterator[Path]:
    """The chunk (or shard) files a complete array of Zarr v3 metadata `meta` consists of."""
    shape = meta.get("shape", [])
    grid = (meta.get("chunk_grid") or {}).get("configuration", {}).get("chunk_shape", shape)
    encoding = meta.get("chunk_key_encoding") or {"name": "default"}
    separator = (encoding.get("configuration") or {}).get("separator", "/" if encoding.get("name") == "default" else ".")
    counts = [-(-int(n) // max(1, int(c))) for n, c in zip(shape, grid)]
    if any(c == 0 for c in counts):
        return
    if encoding.get("name") == "v2":
        keys = ["0"] if not counts else None
    else:
        keys = ["c"] if not counts else None
    if keys is not None:
        yield array_dir / keys[0]
        return
    for index in np.ndindex(*counts):
        parts = [str(i) for i in index]
        key = separator.join(["c", *parts]) if encoding.get("name") != "v2" else separator.join(parts)
        yield array_dir.joinpath(*key.split("/"))


def missing_chunks(path: str | os.PathLike) -> str | None:
    """The first array of Zarr v3 store `path` with a chunk file missing, as "array 'x' (c/0/1)"; None if complete.

    Zarr reads a missing chunk as its fill value: without this check a store with a deleted shard
    would be summarised as if complete.  Only lists files; reads no data.
    """
    path = Path(path)
    for meta_path in sorted(path.rglob("zarr.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue  # unreadable metadata: opening the store reports it
        if not isinstance(meta, dict) or meta.get("node_type") != "array":
            continue
        array_dir = meta_path.parent
        for chunk in _chunk_files(array_dir, meta):
            if not chunk.is_file():
                name = array_dir.relative_to(path).as_posix()
                return f"array {name!r} (chunk {chunk.relative_to(array_dir).as_posix()} is missing)"
    return None


def damaged_array(path: str | os.PathLike) -> str | None:
    """Read every chunk of every array of store `path`; the first that fails, described, or None.

    Slow (reads the whole store): called only after a read failed, to name the array at fault.
    """
    import zarr

    missing = missing_chunks(path)
    if missing:
        return missing
    try:
        group = zarr.open_group(str(path), mode="r")
        arrays = list(group.arrays())
    except Exception as exc:  # any failure to open is the damage being looked for
        return f"group metadata ({type(exc).__name__}: {exc})"
    for name, array in arrays:
        block = getattr(array, "shards", None) or array.chunks
        counts = [-(-n // max(1, c)) for n, c in zip(array.shape, block)]
        try:
            for index in np.ndindex(*counts):
                array[tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, block))]
        except Exception as exc:  # checksum, decompression, truncation: whatever the codec says
            return f"array {name!r} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
    return None


# what zarr and its codecs raise on a damaged chunk: checksum mismatch (ValueError), zstd
# decompression (RuntimeError), a truncated shard (IndexError/ValueError), an I/O error
_READ_ERRORS = (ValueError, RuntimeError, OSError, EOFError, IndexError, KeyError, TypeError)


@contextlib.contextmanager
def reading(*paths: str | os.PathLike) -> Iterator[None]:
    """Turn a failure to decode stores `paths` while reading them into one InputError naming the
    store and the array at fault.  A failure that no damage explains is re-raised (a bug)."""
    try:
        yield
    except InputError:
        raise
    except _READ_ERRORS as exc:
        for path in paths:
            if Path(path).is_dir():
                damage = damaged_array(path)
                if damage:
                    raise InputError(f"{path}: damaged Zarr store: {damage}") from None
        if isinstance(exc, OSError):
            raise InputError(f"{exc.filename or paths[0]}: cannot read ({exc.strerror or exc})") from None
        raise


def open_dataset(path: str | os.PathLike):
    """Open a Zarr store written by `write_dataset` (lazily); a missing, unreadable or incomplete
    store (a chunk file missing) is an InputError."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such Zarr store")
    if not path.is_dir():
        raise InputError(f"{path}: not a Zarr store (a regular file, not a directory)")
    missing = missing_chunks(path)
    if missing:
        raise InputError(f"{path}: incomplete Zarr store: {missing}")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            return xr.open_zarr(path, consolidated=None)
    except Exception as exc:  # zarr raises a variety of errors for a corrupt store
        raise InputError(f"{path}: not a readable Zarr store ({type(exc).__name__}: {exc})") from None


def write_json(obj: Any, path: str | os.PathLike, *, kind: str | None = None, force: bool = False) -> Path:
    """Write JSON atomically.  With `kind` it is an output under the contract of
    `deepcollapse.outputs` (a top-level ``deepcollapse_artifact`` key marks a mapping); without,
    a file inside a directory its command already holds (a run directory's run.json)."""
    path = Path(path)
    data = jsonable(obj)
    if kind is None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        return path
    if isinstance(data, dict) and kind not in UNMARKED_JSON:
        data = {MARKER: kind, **data}
    with writing(path, kind, force=force) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def write_text(text: str, path: str | os.PathLike, *, kind: str | None = None, force: bool = False) -> Path:
    """Write text atomically; with `kind`, under the output contract (see `write_json`)."""
    path = Path(path)
    if kind is None:
        with atomic_path(path) as tmp:
            tmp.write_text(text)
        return path
    with writing(path, kind, force=force) as tmp:
        tmp.write_text(text)
    return path
