"""Datasets: fetch and verify the raw files, convert them once to a uint8 array store, load it.

    data = convert("fashion-mnist", root="/usr/share/datasets/fashion-mnist")   # ImageData
    write(data, "data/fashion-mnist.zarr", provenance=...)
    data = load("data/fashion-mnist.zarr")                    # checks the content hash
    small = data.subsample(train_per_class=500, test_per_class=None, seed=0)

`digits` (scikit-learn's 8x8 digits) needs no network; `mnist`, `fashion-mnist`, `cifar10` come
through torchvision (download with its MD5 checks, or a local directory of the standard files).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .arrays import ImageData, content_hash, from_raw, load, write
from .registry import NAMES, SPECS, spec
from .sources import read
from .subsample import balanced_indices, check_count


def convert(
    name: str,
    *,
    root: str | Path | None = None,
    download: bool = True,
    verify: bool = True,
    train_per_class: int | None = None,
    test_per_class: int | None = None,
    seed: int = 0,
    names: tuple[str, str] = ("train_per_class", "test_per_class"),
) -> ImageData:
    """Read dataset `name` from its source (see `sources`) and optionally subsample it per class.

    `names`: what the caller calls the two per-class counts (the `data` command: its options), for errors.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    for count, count_name in zip((train_per_class, test_per_class), names):
        if count is not None:
            check_count(count, count_name)  # before reading (or downloading) anything
    data = from_raw(read(name, root=root, download=download, verify_checksums=verify))
    if train_per_class is not None or test_per_class is not None:
        data = data.subsample(train_per_class=train_per_class, test_per_class=test_per_class, seed=seed, names=names)
        data.attrs["subsample"] = {"train_per_class": train_per_class, "test_per_class": test_per_class, "seed": seed}
    return data


__all__ = ["convert", "load", "write", "ImageData", "content_hash", "balanced_indices", "NAMES", "SPECS", "spec"]
