"""`nc`: every NC metric of one feature matrix in memory (or any sliceable array), streamed in row blocks."""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from . import _inputs, blocks
from .streaming import Accumulator


def nc(H: Any, y: Any, *, W: Any = None, b: Any = None, K: int | None = None) -> dict[str, float]:
    """Neural-collapse metrics of features H (N, d) with labels y (N,), computed in float64.

    Returns NC1, NC2_ETF, NC2_OF and, when the classifier W (K, d) is given, NC2_W_ETF,
    NC2_W_OF, NC3_ETF, NC3_OF and NC4 (with the bias b (K,) in the classifier's decisions),
    and any metric registered in `table`.  K defaults to W's rows, else max(y) + 1.  Undefined
    metrics (e.g. all class means equal) are NaN.  Bad input raises
    `deepcollapse.errors.InputError` (a ValueError).
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
    # no d×d scatter: the second pass projects onto the class-mean span instead (exact for any d)
    acc = Accumulator(K, d, scatter_max_dim=0, device=device)
    return blocks.measure(acc, lambda start, stop: H[start:stop], y_all, N, W=W, b=b)
