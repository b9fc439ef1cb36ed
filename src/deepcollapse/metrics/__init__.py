"""Exact neural-collapse metrics in float64 (docs/math.md#nc-metrics).

* `nc(H, y, *, W=None, b=None)`: every metric for features in memory (or any sliceable array:
  a Zarr array, a numpy memmap), streamed in row chunks so that no d×d matrix and no float64
  copy of H is ever formed.
* `Accumulator(K, d)`: the same numbers for data that arrive in batches.
* `core`: the pure functions (NC2, NC3, the NC1 projector) on class means and classifiers.

Features are sample-major: H has shape (N, d), labels y shape (N,) with values 0..K-1,
classifier W shape (K, d) and bias b shape (K,).
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import InputError, SecondPassRequired
from . import _inputs, core
from .streaming import Accumulator

#: The keys of `nc`; the classifier keys appear only when W is given.
FEATURE_KEYS = ("NC1", "NC2_ETF", "NC2_OF")
CLASSIFIER_KEYS = ("NC2_W_ETF", "NC2_W_OF", "NC3_ETF", "NC3_OF", "NC4")
KEYS = FEATURE_KEYS + CLASSIFIER_KEYS

# Rows per chunk so that a float64 chunk stays around 64 MB whatever d is.
_CHUNK_ELEMENTS = 1 << 23


def _row_chunks(N: int, d: int):
    rows = max(1, _CHUNK_ELEMENTS // max(d, 1))
    for start in range(0, N, rows):
        yield start, min(N, start + rows)


def nc(H: Any, y: Any, *, W: Any = None, b: Any = None, K: int | None = None) -> dict[str, float]:
    """Neural-collapse metrics of features H (N, d) with labels y (N,), computed in float64.

    Returns NC1, NC2_ETF, NC2_OF and, when the classifier W (K, d) is given, NC2_W_ETF,
    NC2_W_OF, NC3_ETF, NC3_OF and NC4 (with the bias b (K,) in the classifier's decisions).
    K defaults to W's rows, else max(y) + 1.  Undefined metrics (e.g. all class means equal)
    are NaN.  Bad input raises `deepcollapse.errors.InputError` (a ValueError).
    """
    shape = _inputs.shape_of(H, name="H")
    if len(shape) != 2:
        raise InputError(f"H must be a 2-D array of shape (N, d), got shape {shape}")
    N, d = shape
    if N == 0:
        raise InputError("H has no samples (N=0)")
    y_shape = _inputs.shape_of(y, name="y")
    if y_shape != (N,):
        raise InputError(f"y must have shape ({N},) to match H of shape {shape}, got {y_shape}")
    K = _inputs.num_classes(K, y, W)
    device = _inputs.device_of(H)
    y_all = _inputs.labels(y, n=N, K=K, device=device)
    _inputs.classifier(W, b, K=K, d=d, device=device)  # validate before the first pass

    acc = Accumulator(K, d, scatter_max_dim=0, device=device)
    for start, stop in _row_chunks(N, d):
        acc.update(H[start:stop], y_all[start:stop])
    acc.begin_second_pass(W=W, b=b)
    for start, stop in _row_chunks(N, d):
        acc.update(H[start:stop], y_all[start:stop])
    result = acc.result()
    acc.release_buffers()
    return result


__all__ = ["nc", "Accumulator", "core", "KEYS", "FEATURE_KEYS", "CLASSIFIER_KEYS", "InputError", "SecondPassRequired"]
