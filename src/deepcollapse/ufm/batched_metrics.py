"""The NC metrics of `deepcollapse.metrics` for a batch of UFM feature levels, in one array pass.

`metrics.nc` measures one feature matrix at a time; a sweep of B problems logged at T points would
call it B·T times per level.  Here the class statistics of all B problems are gathered at once, on
the CPU or the GPU, and handed to the same metric table (`metrics.table`) that `metrics.nc` and
the Accumulator use: the formulas, the pseudo-inverse cut-off and the NaN rule exist only there.
UFM labels are balanced and class-major, which makes the class means and residuals a reshape.
Torch tensors (the torch loop, any device) or numpy arrays (the compiled CPU loop, no torch): the
table computes in its input's namespace.
"""

from __future__ import annotations

import math

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as device_of

from ..metrics import table
from ..metrics.core import Array
from ..metrics.statistics import ClassStatistics


def nc(features: Array, *, K: int, W: Array | None = None, b: Array | None = None) -> dict[str, Array]:
    """Every key of `metrics.KEYS` for B problems; each value has shape (B,), float64.

    `features` (B, p, N) in the spec's column layout with N = K·n class-major columns; `W`
    (B, K, p) the classifier acting on them and `b` (B, K) its bias.  Without W the classifier
    keys are NaN (the level has no linear classifier).  Undefined values are NaN without a warning,
    in numpy as in torch.
    """
    with np.errstate(all="ignore"):
        return _nc(features, K=K, W=W, b=b)


def _nc(features: Array, *, K: int, W: Array | None, b: Array | None) -> dict[str, Array]:
    xp = array_namespace(features)
    F64 = xp.float64
    X = xp.astype(features, F64, copy=False)
    B, p, N = X.shape
    n = N // K
    per_class = X.reshape(B, p, K, n)
    means_cols = xp.mean(per_class, axis=-1)  # (B, p, K)
    means = means_cols.mT  # row k = uncentered mean of class k
    stats = ClassStatistics(
        counts=xp.full((B, K), float(n), dtype=F64, device=device_of(X)),
        means=means,
        global_mean=xp.mean(means, axis=1),  # balanced classes: the sample-weighted mean is the mean of class means
        W=None if W is None else xp.astype(W, F64, copy=False),
        b=None if b is None else xp.astype(b, F64, copy=False),
    )
    rows = X.mT  # (B, N, p) sample-major view, no copy
    stats.sums.update(
        table.block_sums(
            stats,
            table.sums_for(classifier=W is not None),
            rows,
            lambda: (per_class - means_cols[..., None]).reshape(B, p, N).mT,
        )
    )
    out = table.evaluate(stats)
    nan = xp.full((B,), math.nan, dtype=F64, device=device_of(X))
    return {key: out.get(key, nan) for key in table.KEYS}
