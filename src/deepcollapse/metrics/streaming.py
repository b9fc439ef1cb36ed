"""Streaming accumulation of NC metrics over batches of samples, exact in float64.

Protocol (two passes when needed; the class means must be known before within-class scatter
can be projected onto their span without forming d×d matrices)::

    acc = Accumulator(K, d)
    for H_batch, y_batch in batches:          # pass 1: class counts and sums
        acc.update(H_batch, y_batch)
    if acc.needs_second_pass(W=W):            # d too large for a d×d scatter, or NC4 wanted
        acc.begin_second_pass(W=W, b=b)       # freezes the means
        for H_batch, y_batch in batches:      # pass 2: the same samples again, any batching
            acc.update(H_batch, y_batch)
    metrics = acc.result(W=W, b=b)            # == metrics.nc(all H, all y, W=W, b=b) to 1e-10

With d ≤ `scatter_max_dim` the first pass also keeps the pooled within-class scatter (d×d),
merged batch by batch with Chan's update so it is as accurate as a two-pass computation; then
NC1 needs no second pass.  NC4 compares every sample with the final class means and so always
needs the second pass.  `result` refuses (SecondPassRequired) when a needed pass is missing or
incomplete; it never returns a number computed from part of the data.

The formulas are those of the metric table (`table.py`): this class gathers the class counts and
sums, the scatter, and the table's per-sample sums (`table.SampleSum`) in the second pass, so a
metric registered there is measured here too.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from ..errors import InputError, SecondPassRequired
from . import _inputs, table
from .statistics import ClassStatistics

F64 = torch.float64


class Accumulator:
    """Streaming NC metrics for K classes of d-dimensional features (see module docstring)."""

    def __init__(self, K: int, d: int, *, scatter_max_dim: int = 4096, device: Any = None):
        if isinstance(K, bool) or not isinstance(K, numbers.Integral):
            raise InputError(f"K must be an integer number of classes, got {K!r}")
        if K < 2:
            raise InputError(f"need at least 2 classes, got K={K!r}")
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
            raise InputError(f"feature dimension d must be a positive integer, got {d!r}")
        self.K, self.d = int(K), int(d)
        self.device = torch.device(device) if device is not None else None
        self.scatter_max_dim = scatter_max_dim
        self._counts: torch.Tensor | None = None
        self._sums: torch.Tensor | None = None
        self._scatter: torch.Tensor | None = None  # pooled within-class scatter (pass 1, small d)
        self._pass = 1
        # second-pass state: the statistics frozen by begin_second_pass, and the sample sums so far
        self._frozen: ClassStatistics | None = None
        self._counts2: torch.Tensor | None = None
        self._sums2: dict[str, torch.Tensor] = {}
        self._workspace: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ state helpers
    def _init_state(self, device: torch.device) -> None:
        self.device = device
        self._counts = torch.zeros(self.K, dtype=torch.int64, device=device)
        self._sums = torch.zeros(self.K, self.d, dtype=F64, device=device)
        if self.d <= self.scatter_max_dim:
            self._scatter = torch.zeros(self.d, self.d, dtype=F64, device=device)

    @property
    def num_samples(self) -> int:
        return 0 if self._counts is None else int(self._counts.sum())

    def _buffer(self, name: str, rows: int) -> torch.Tensor:
        """A reusable float64 (rows × d) work buffer: re-allocating ~100 MB per batch would spend
        more time in page faults than in arithmetic."""
        buf = self._workspace.get(name)
        if buf is None or buf.shape[0] < rows:
            buf = self._workspace[name] = torch.empty(rows, self.d, dtype=F64, device=self.device)
        return buf[:rows]

    def _batch(self, H: Any, y: Any, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch as float64 rows (in a reused buffer) and int64 labels, validated."""
        shape = _inputs.shape_of(H, name="H")
        if len(shape) != 2 or shape[1] != self.d:
            raise InputError(f"H batch must have shape (n, d={self.d}), got {shape}")
        if self._counts is None:
            self._init_state(self.device if self.device is not None else _inputs.device_of(H))
        yt = _inputs.labels(y, n=shape[0], K=self.K, device=self.device, offset=offset)
        Ht = self._buffer("H", shape[0])
        Ht.copy_(_inputs.to_tensor(H, name="H", device=self.device, dtype=None))
        if not bool(torch.isfinite(Ht.sum())):  # cheap test first; locate the culprit only if needed
            _inputs.check_finite(Ht, offset=offset)
        return Ht, yt

    def _one_hot(self, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(y, self.K).to(F64)

    # ------------------------------------------------------------------ passes
    def update(self, H: Any, y: Any) -> "Accumulator":
        """Add a batch: H of shape (n, d) (any float dtype, numpy or torch), y of shape (n,)."""
        if self._pass == 1:
            self._update_first(H, y)
        else:
            self._update_second(H, y)
        return self

    def _update_first(self, H: Any, y: Any) -> None:
        Ht, yt = self._batch(H, y, offset=self.num_samples)
        if Ht.shape[0] == 0:
            return
        n_b = torch.bincount(yt, minlength=self.K)
        one_hot = self._one_hot(yt)
        sums_b = one_hot.T @ Ht  # class sums as one BLAS call
        if self._scatter is not None:
            mean_b = sums_b / n_b.clamp(min=1).to(F64)[:, None]
            R = Ht.addmm_(one_hot, mean_b, alpha=-1.0)  # in place: h − h̄_y (exact: one-hot rows pick one mean)
            self._scatter.addmm_(R.T, R)
            # Chan et al.: merging two groups adds (n_a n_b / n) δ δ^T per class, δ = difference of means.
            n_a = self._counts.to(F64)
            both = (self._counts > 0) & (n_b > 0)
            if bool(both.any()):
                mean_a = self._sums / n_a.clamp(min=1)[:, None]
                weight = (n_a * n_b.to(F64) / (n_a + n_b.to(F64)).clamp(min=1))[both]
                D = (mean_b - mean_a)[both] * weight.sqrt()[:, None]
                self._scatter += D.T @ D
        self._counts += n_b
        self._sums += sums_b

    def _check_classes(self) -> None:
        if self._counts is None or self.num_samples == 0:
            raise InputError("no samples were accumulated")
        empty = torch.nonzero(self._counts == 0)
        if empty.numel():
            raise InputError(f"class {int(empty[0])} has no samples (K={self.K})")

    def _statistics(self, W: torch.Tensor | None = None, b: torch.Tensor | None = None) -> ClassStatistics:
        """The class statistics of the first pass (a batch of one problem)."""
        self._check_classes()
        counts = self._counts.to(F64)
        return ClassStatistics(
            counts=counts[None],
            means=(self._sums / counts[:, None])[None],
            global_mean=(self._sums.sum(dim=0) / self.num_samples)[None],  # sample-weighted
            W=None if W is None else W[None],
            b=None if b is None else b[None],
        )

    def class_means(self) -> torch.Tensor:
        """The class means (K, d), float64, of the samples of the first pass."""
        return self._statistics().means[0]

    def _needs_pass(self, sample_sum: table.SampleSum) -> bool:
        return sample_sum.from_scatter is None or self._scatter is None

    def needs_second_pass(self, *, W: Any = None) -> bool:
        """Whether `result(W=W)` needs `begin_second_pass` and the data again."""
        return any(self._needs_pass(s) for s in table.sums_for(classifier=W is not None))

    def begin_second_pass(self, *, W: Any = None, b: Any = None) -> "Accumulator":
        """Freeze the class means; subsequent `update` calls must see the same samples again.

        Give the classifier here to get NC4 (the nearest-class-centre disagreement).
        """
        if self._pass != 1:
            raise SecondPassRequired("begin_second_pass was already called; use a new Accumulator")
        self._check_classes()
        Wt, bt = _inputs.classifier(W, b, K=self.K, d=self.d, device=self.device)
        self._frozen = self._statistics(Wt, bt)
        self._counts2 = torch.zeros_like(self._counts)
        self._sums2 = {}
        self._pass = 2
        return self

    def _update_second(self, H: Any, y: Any) -> None:
        offset = int(self._counts2.sum())
        Ht, yt = self._batch(H, y, offset=offset)
        if Ht.shape[0] == 0:
            return
        counts2 = self._counts2 + torch.bincount(yt, minlength=self.K)
        if bool((counts2 > self._counts).any()):  # checked before any state changes
            raise InputError("the second pass saw more samples of a class than the first; feed the same data twice")
        self._counts2 = counts2
        f = self._frozen
        # residuals in place, after every sum over the raw features: h − h̄_y (exact: one-hot rows
        # pick one mean).  Residuals first, projection second: projecting h and h̄ separately would
        # cancel catastrophically when the features carry a large common offset.
        sums = table.block_sums(
            f,
            table.sums_for(classifier=f.W is not None),
            Ht[None],
            lambda: Ht.addmm_(self._one_hot(yt), f.means[0], alpha=-1.0)[None],
        )
        for name, value in sums.items():
            self._sums2[name] = self._sums2[name] + value if name in self._sums2 else value

    # ------------------------------------------------------------------ result
    def _second_pass_complete(self) -> bool:
        if self._pass != 2:
            return False
        if not torch.equal(self._counts2, self._counts):
            seen, total = int(self._counts2.sum()), self.num_samples
            raise SecondPassRequired(
                f"the second pass is incomplete: it saw {seen} of the {total} samples of the first pass"
            )
        return True

    def release_buffers(self) -> None:
        """Free the work buffers (they are re-created on the next update)."""
        self._workspace.clear()

    def result(self, W: Any = None, b: Any = None) -> dict[str, float]:
        """The metrics dict of `metrics.nc` (keys NC1, NC2_*, and with W: NC2_W_*, NC3_*, NC4).

        W/b default to the classifier given to `begin_second_pass`.
        """
        self._check_classes()
        second = self._second_pass_complete()
        if W is None and b is None and second:
            Wt, bt = self._frozen.W, self._frozen.b
            Wt, bt = (None if Wt is None else Wt[0]), (None if bt is None else bt[0])
        else:
            Wt, bt = _inputs.classifier(W, b, K=self.K, d=self.d, device=self.device)
        stats = self._statistics(Wt, bt)
        for sample_sum in table.sums_for(classifier=Wt is not None):
            if second and sample_sum.name in self._sums2:
                stats.sums[sample_sum.name] = self._sums2[sample_sum.name]
            elif not self._needs_pass(sample_sum):
                stats.sums[sample_sum.name] = sample_sum.from_scatter(self._scatter[None], stats)
            else:
                raise SecondPassRequired(self._missing_pass_message(sample_sum))
        if Wt is not None and second:
            fW, fb = self._frozen.W, self._frozen.b
            if fW is None or not torch.equal(fW[0], Wt) or (fb is None) != (bt is None) or (fb is not None and not torch.equal(fb[0], bt)):
                raise SecondPassRequired("result() got a different classifier than begin_second_pass(); NC4 would not match it")
        return {key: float(value[0]) for key, value in table.evaluate(stats).items()}

    def _missing_pass_message(self, sample_sum: table.SampleSum) -> str:
        keys = ", ".join(m.key for m in table.METRICS.values() if sample_sum.name in m.sums)
        again = "and update() with the same samples again"
        if sample_sum.classifier:
            return f"{keys} needs the classifier during a second pass: call begin_second_pass(W=W, b=b) {again}"
        if sample_sum.from_scatter is not None:
            return f"{keys} for d={self.d} > scatter_max_dim={self.scatter_max_dim} needs a second pass: call begin_second_pass() {again}"
        return f"{keys} needs a second pass: call begin_second_pass() {again}"
