"""The NC metrics of `deepcollapse.metrics` for a batch of UFM feature levels, in one tensor pass.

`metrics.nc` measures one feature matrix at a time; a sweep of B problems logged at T points would
call it B·T times per level.  Here the class statistics of all B problems are gathered at once, on
the CPU or the GPU, and handed to the same metric table (`metrics.table`) that `metrics.nc` and
the Accumulator use: the formulas, the pseudo-inverse cut-off and the NaN rule exist only there.
UFM labels are balanced and class-major, which makes the class means and residuals a reshape.
"""

from __future__ import annotations

import math

import torch

from ..metrics import table
from ..metrics.statistics import ClassStatistics

F64 = torch.float64


def nc(features: torch.Tensor, *, K: int, W: torch.Tensor | None = None, b: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Every key of `metrics.KEYS` for B problems; each value has shape (B,), float64.

    `features` (B, p, N) in the spec's column layout with N = K·n class-major columns; `W`
    (B, K, p) the classifier acting on them and `b` (B, K) its bias.  Without W the classifier
    keys are NaN (the level has no linear classifier).
    """
    X = features.to(F64)
    B, p, N = X.shape
    n = N // K
    per_class = X.reshape(B, p, K, n)
    means_cols = per_class.mean(dim=-1)  # (B, p, K)
    means = means_cols.mT  # row k = uncentered mean of class k
    stats = ClassStatistics(
        counts=torch.full((B, K), float(n), dtype=F64, device=X.device),
        means=means,
        global_mean=means.mean(dim=1),  # balanced classes: the sample-weighted mean is the mean of class means
        W=None if W is None else W.to(F64),
        b=None if b is None else b.to(F64),
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
    nan = torch.full((B,), math.nan, dtype=F64, device=X.device)
    return {key: out.get(key, nan) for key in table.KEYS}
