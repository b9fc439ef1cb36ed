"""The sufficient statistics every NC metric is computed from, for B problems at once.

Each way of measuring — `metrics.nc` and `Accumulator` (one problem, any labels, streamed in
blocks) and the UFM solver's `ufm.batched_metrics` (B problems, balanced class-major labels) —
gathers these statistics its own way and hands them to the metric table (`table.py`), which
holds the formulas.  Shapes: B problems, K classes, d features; everything float64.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property

import torch

from . import core


@dataclasses.dataclass(eq=False)
class ClassStatistics:
    """Class counts and means (+ classifier) of B problems, and the per-sample sums measured so far.

    counts (B, K), means (B, K, d) uncentered, global_mean (B, d) sample-weighted, W (B, K, d) and
    b (B, K) the classifier acting on these features (None: no classifier).  `sums` maps the name
    of each `table.SampleSum` to its value over all samples; the derived quantities below are
    computed once, on first use.
    """

    counts: torch.Tensor
    means: torch.Tensor
    global_mean: torch.Tensor
    W: torch.Tensor | None = None
    b: torch.Tensor | None = None
    sums: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    @property
    def K(self) -> int:
        return self.means.shape[-2]

    @cached_property
    def N(self) -> torch.Tensor:
        """Samples per problem, (B,) float64."""
        return self.counts.sum(dim=-1).to(torch.float64)

    @cached_property
    def centered(self) -> torch.Tensor:
        """M: the class means minus the global mean, (B, K, d)."""
        return self.means - self.global_mean[:, None, :]

    @cached_property
    def means_norm(self) -> torch.Tensor:
        """‖means‖_F, (B,): the scale against which the centered means count as zero."""
        return core.frobenius(self.means)

    @cached_property
    def means_degenerate(self) -> torch.Tensor:
        """All class means zero (or non-finite), (B,) bool."""
        return core.degenerate(self.means, norm=self.means_norm)

    @cached_property
    def centered_degenerate(self) -> torch.Tensor:
        """All class means equal (to rounding): NC1, NC2_ETF, NC3_ETF and NC4 are undefined, (B,) bool."""
        return core.degenerate(self.centered, self.means_norm, norm=self.centered_norm)

    @cached_property
    def centered_norm(self) -> torch.Tensor:
        return core.frobenius(self.centered)

    @cached_property
    def etf_target(self) -> torch.Tensor:
        """The normalized Gram matrix of a K-class simplex ETF (`core.simplex_etf`)."""
        return core.simplex_etf(self.K, device=self.means.device)

    @cached_property
    def of_target(self) -> torch.Tensor:
        """The normalized Gram matrix of a K-class orthogonal frame (`core.orthogonal_frame`)."""
        return core.orthogonal_frame(self.K, device=self.means.device)

    @cached_property
    def W_norm(self) -> torch.Tensor:
        return core.frobenius(self.W)

    @cached_property
    def W_degenerate(self) -> torch.Tensor:
        """The classifier is zero (ignores the features), (B,) bool."""
        return core.degenerate(self.W, norm=self.W_norm)

    @cached_property
    def nc1_projector(self) -> torch.Tensor:
        """P (B, r, d) of `core.nc1_projector` for these class means."""
        return core.nc1_projector(self.centered, self.centered_degenerate)
