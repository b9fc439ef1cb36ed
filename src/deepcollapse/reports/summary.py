"""Small JSON summaries of result stores (DVC metrics, `cache: false`): the final value of every
metric, so that `dvc metrics show` / `dvc metrics diff` compare runs without opening a store."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..store import jsonable, open_dataset, write_json


def final_values(path: str | os.PathLike, *, along: str) -> dict[str, Any]:
    """{variable: value or {coordinate: value}} at the last index of dimension `along`.

    Variables over `along` and at most one other dimension (e.g. epoch × layer) are summarised;
    larger ones (weights, features) are skipped.
    """
    ds = open_dataset(path)
    if along not in ds.dims:
        raise InputError(f"{path}: no dimension {along!r} to take final values along (dims: {', '.join(map(str, ds.dims))})")
    last = ds.isel({along: -1})
    out: dict[str, Any] = {along: jsonable(last[along].values) if along in last.coords else int(ds.sizes[along]) - 1}
    for name, var in ds.data_vars.items():
        if along not in var.dims or var.ndim > 2 or var.dtype.kind not in "fiub":
            continue
        value = last[name]
        if value.ndim == 0:
            out[str(name)] = jsonable(value.values)
        else:
            (dim,) = value.dims
            labels = value[dim].values if dim in value.coords else range(value.sizes[dim])
            out[str(name)] = {str(label): jsonable(v) for label, v in zip(labels, value.values)}
    return out


def write(stores: Mapping[str, str | os.PathLike], *, along: str, out: str | os.PathLike) -> Path:
    """Write {name: final_values(store)} of several stores as one JSON file."""
    return write_json({name: final_values(path, along=along) for name, path in stores.items()}, out, kind="summary")
