"""A dataset as read from its source, before conversion: uint8 arrays per split and a record of
the files it came from.  Every source (`sources`, `digits`) produces one; `arrays.from_raw` converts it."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

SPLITS = ("train", "test")


@dataclasses.dataclass
class RawSplit:
    images: np.ndarray  # (N, C, H, W) uint8
    labels: np.ndarray  # (N,) uint8


@dataclasses.dataclass
class RawDataset:
    name: str
    splits: dict[str, RawSplit]
    files: list[dict[str, Any]]  # one record per source file: path, md5/sha256, verified
    verified: bool
