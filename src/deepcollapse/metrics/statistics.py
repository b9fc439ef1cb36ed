"""The sufficient statistics every NC metric is computed from, for B problems at once.

Each way of measuring — `metrics.nc` and `Accumulator` (one problem, any labels, streamed in
blocks) and the UFM solver's `ufm.batched_metrics` (B problems, balanced class-major labels) —
gathers these statistics its own way and hands them to the metric table (`table.py`), which
holds the formulas.  Shapes: B problems, K classes, d features; everything float64, torch tensors
or numpy arrays (`core`: every formula works in its input's namespace).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

from array_api_compat import array_namespace

from . import core
from .core import Array


@dataclasses.dataclass(eq=False)
class ClassStatistics:
    """Class counts and means (+ classifier) of B problems, and the per-sample sums measured so far.

    counts (B, K), means (B, K, d) uncentered, global_mean (B, d) sample-weighted, W (B, K, d) and
    b (B, K) the classifier acting on these features (None: no classifier).  `sums` maps the name
    of each `table.SampleSum` to its value over all samples; the derived quantities below are
    computed once, on first use.
    """

    counts: Array
    means: Array
    global_mean: Array
    W: Array | None = None
    b: Array | None = None
    sums: dict[str, Array] = dataclasses.field(default_factory=dict)

    @property
    def K(self) -> int:
        return self.means.shape[-2]

    @cached_property
    def N(self) -> Array:
        """Samples per problem, (B,) float64."""
        xp = array_namespace(self.counts)
        return xp.astype(xp.sum(self.counts, axis=-1), xp.float64, copy=False)

    @cached_property
    def centered(self) -> Array:
        """M: the class means minus the global mean, (B, K, d)."""
        return self.means - self.global_mean[:, None, :]

    @cached_property
    def means_norm(self) -> Array:
        """‖means‖_F, (B,): the scale against which the centered means count as zero."""
        return core.frobenius(self.means)

    @cached_property
    def means_degenerate(self) -> Array:
        """All class means zero (or non-finite), (B,) bool."""
        return core.degenerate(self.means, norm=self.means_norm)

    @cached_property
    def centered_degenerate(self) -> Array:
        """All class means equal (to rounding): NC1, NC2_ETF, NC3_ETF and NC4 are undefined, (B,) bool."""
        return core.degenerate(self.centered, self.means_norm, norm=self.centered_norm)

    @cached_property
    def centered_norm(self) -> Array:
        return core.frobenius(self.centered)

    @cached_property
    def etf_target(self) -> Array:
        """The normalized Gram matrix of a K-class simplex ETF (`core.simplex_etf`)."""
        return core.simplex_etf(self.K, like=self.means)

    @cached_property
    def of_target(self) -> Array:
        """The normalized Gram matrix of a K-class orthogonal frame (`core.orthogonal_frame`)."""
        return core.orthogonal_frame(self.K, like=self.means)

    @cached_property
    def W_norm(self) -> Array:
        return core.frobenius(self.W)

    @cached_property
    def W_degenerate(self) -> Array:
        """The classifier is zero (ignores the features), (B,) bool."""
        return core.degenerate(self.W, norm=self.W_norm)

    @cached_property
    def nc1_projector(self) -> Array:
        """P (B, r, d) of `core.nc1_projector` for these class means."""
        return core.nc1_projector(self.centered, self.centered_degenerate)
