"""The metric table: every NC metric key defined once (the keys of docs/math.md).

One `Metric` entry per key says which class statistics it needs and holds the one function that
computes it, batched over B problems, from a `ClassStatistics`.  A metric that needs more than
the class means (NC1: the within-class scatter; NC4: every sample's two decisions) names the
`SampleSum`s it reads; each `SampleSum` is a sum over samples of a per-block function, which
every measuring path evaluates block by block:

* `metrics.nc` and `metrics.Accumulator` (one problem, streamed; `streaming.py`),
* `ufm.batched_metrics.nc` (B UFM problems in one tensor pass, at every GD log step).

So a key registered here (`register`, or `registered` for a temporary one) reaches all of them,
and the live views `KEYS`, `FEATURE_KEYS`, `CLASSIFIER_KEYS` list it.  Metrics flagged
`classifier=True` are defined only when a classifier W (and bias b) acts on the features.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

from array_api_compat import array_namespace

from . import core
from .core import Array
from .statistics import ClassStatistics


@dataclasses.dataclass(frozen=True)
class SampleSum:
    """Σ over samples of `per_block(rows, stats)` → (B, …): a statistic needing a pass over the data.

    `rows` says what the rows are: the features h_i, or the residuals h_i − h̄_{y_i}.  Where the
    value follows from the pooled within-class scatter S_W (d×d, kept by the Accumulator for
    d ≤ 4096), `from_scatter(S_W (B, d, d), stats)` gives it without a second pass.
    """

    name: str
    per_block: Callable[[Array, ClassStatistics], Array]
    rows: Literal["features", "residuals"] = "features"
    from_scatter: Callable[[Array, ClassStatistics], Array] | None = None
    classifier: bool = False


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric key: `compute(stats)` → (B,) float64, NaN where undefined."""

    key: str
    compute: Callable[[ClassStatistics], Array]
    classifier: bool = False
    sums: tuple[str, ...] = ()
    formula: str = ""


METRICS: dict[str, Metric] = {}
SAMPLE_SUMS: dict[str, SampleSum] = {}


# ----------------------------------------------------------------------------- registry
def register(*entries: Metric | SampleSum) -> None:
    """Add metrics and sample sums (a metric after the sums it reads); keys are unique."""
    for entry in entries:
        book = SAMPLE_SUMS if isinstance(entry, SampleSum) else METRICS
        name = entry.name if isinstance(entry, SampleSum) else entry.key
        if name in book:
            raise ValueError(f"metric table: {name!r} is already registered")
        if isinstance(entry, Metric):
            missing = [s for s in entry.sums if s not in SAMPLE_SUMS]
            if missing:
                raise ValueError(f"metric table: {entry.key!r} reads the unregistered sample sum {missing[0]!r}")
            if not entry.classifier and any(SAMPLE_SUMS[s].classifier for s in entry.sums):
                raise ValueError(f"metric table: {entry.key!r} reads a classifier sum but is not flagged classifier=True")
        book[name] = entry


def unregister(*names: str) -> None:
    """Remove metrics (by key) and sample sums (by name)."""
    for name in names:
        if METRICS.pop(name, None) is None and SAMPLE_SUMS.pop(name, None) is None:
            raise KeyError(f"metric table: {name!r} is not registered")


@contextlib.contextmanager
def registered(*entries: Metric | SampleSum) -> Iterator[None]:
    """Register entries for the duration of a `with` block (tests, experiments)."""
    register(*entries)
    try:
        yield
    finally:
        unregister(*[e.name if isinstance(e, SampleSum) else e.key for e in reversed(entries)])


class KeyView(Sequence):
    """A live, read-only tuple of the table's keys (all, or only those with/without a classifier)."""

    def __init__(self, classifier: bool | None):
        self._classifier = classifier

    def _keys(self) -> tuple[str, ...]:
        return tuple(k for k, m in METRICS.items() if self._classifier is None or m.classifier == self._classifier)

    def __getitem__(self, i):
        return self._keys()[i]

    def __len__(self) -> int:
        return len(self._keys())

    def __iter__(self):
        return iter(self._keys())

    def __contains__(self, key) -> bool:
        return key in self._keys()

    def __eq__(self, other) -> bool:
        if isinstance(other, (tuple, list, KeyView)):
            return self._keys() == tuple(other)
        return NotImplemented

    __hash__ = None  # mutable contents

    def __add__(self, other):
        return self._keys() + tuple(other)

    def __repr__(self) -> str:
        return repr(self._keys())


KEYS = KeyView(None)
FEATURE_KEYS = KeyView(False)
CLASSIFIER_KEYS = KeyView(True)


# ----------------------------------------------------------------------------- evaluation
def metrics_for(*, classifier: bool) -> list[Metric]:
    """The metrics defined for features with (or without) a classifier, in table order."""
    return [m for m in METRICS.values() if classifier or not m.classifier]


def sums_for(*, classifier: bool) -> list[SampleSum]:
    """The sample sums those metrics read, features sums before residual sums."""
    names = {s for m in metrics_for(classifier=classifier) for s in m.sums}
    chosen = [s for name, s in SAMPLE_SUMS.items() if name in names]
    return [s for s in chosen if s.rows == "features"] + [s for s in chosen if s.rows == "residuals"]


def block_sums(
    stats: ClassStatistics, sums: Sequence[SampleSum], features: Array, residuals: Callable[[], Array]
) -> dict[str, Array]:
    """Every sum of `sums` over one block of rows (B, n, d).

    `residuals()` gives the block's h_i − h̄_{y_i}; it is called once, after every features sum,
    so that it may overwrite the features' memory.
    """
    out = {s.name: s.per_block(features, stats) for s in sums if s.rows == "features"}
    residual_sums = [s for s in sums if s.rows == "residuals"]
    if residual_sums:
        R = residuals()
        out.update({s.name: s.per_block(R, stats) for s in residual_sums})
    return out


def evaluate(stats: ClassStatistics) -> dict[str, Array]:
    """Every metric of the table for these statistics, (B,) each; classifier keys only when stats.W is given."""
    return {m.key: m.compute(stats) for m in metrics_for(classifier=stats.W is not None)}


# ----------------------------------------------------------------------------- the NC metrics
def _nc1_block(R: Array, s: ClassStatistics) -> Array:
    return core.sum_squares(core.batch_matmul(R, s.nc1_projector.mT), (-2, -1))


def _nc1_from_scatter(scatter: Array, s: ClassStatistics) -> Array:
    P = s.nc1_projector
    return array_namespace(P).sum((P @ scatter) * P, axis=(-2, -1))  # tr(P S_W Pᵀ)


def _nc4_block(H: Array, s: ClassStatistics) -> Array:
    return core.decision_disagreements(H, centered=s.centered, global_mean=s.global_mean, W=s.W, b=s.b)


def _global_mean_ratio(s: ClassStatistics) -> Array:
    # K(K−1)‖m‖²/‖H̄ − m‖_F² with m the plain mean of the K class means (not the sample-weighted
    # global mean: then it is exactly 1 at an OF whatever the class counts): an orthogonal frame
    # h̄_k = α e_k has ‖m‖² = α²/K and ‖H̄ − m‖_F² = α²(K−1).
    xp = array_namespace(s.means)
    m = xp.mean(s.means, axis=-2, keepdims=True)
    spread = core.sum_squares(s.means - m, (-2, -1))
    return core.masked(s.K * (s.K - 1) * core.sum_squares(m, (-2, -1)) / spread, s.centered_degenerate)


def _nc2_w_etf(s: ClassStatistics) -> Array:
    Wc = s.W - array_namespace(s.W).mean(s.W, axis=-2, keepdims=True)
    return core.gram_distance(Wc, s.etf_target, core.degenerate(Wc, s.W_norm))


register(
    SampleSum("projected_within_scatter", _nc1_block, rows="residuals", from_scatter=_nc1_from_scatter),
    SampleSum("decision_disagreements", _nc4_block, classifier=True),
    Metric(
        "NC1",
        # Undefined when all class means are equal: Σ_B = 0 has no pseudo-inverse worth the name.
        lambda s: core.masked(s.sums["projected_within_scatter"] / s.N, s.centered_degenerate),
        sums=("projected_within_scatter",),
        formula="(1/K) tr(Σ_W Σ_B^†) = (1/N) Σ_i ‖S⁻¹Vᵀ(h_i − h̄_{y_i})‖², M = U S Vᵀ",
    ),
    Metric("NC2_ETF", lambda s: core.gram_distance(s.centered, s.etf_target, s.centered_degenerate), formula="NC2 (ETF) on M"),
    Metric("NC2_OF", lambda s: core.gram_distance(s.means, s.of_target, s.means_degenerate), formula="NC2 (OF) on the uncentered means"),
    Metric(
        "GM_RATIO",
        # Not a distance: 1 at an orthogonal frame, 0 for class means centred at the origin. With
        # NC2_ETF it splits NC2_OF: centred means an ETF and GM_RATIO ≠ 1 is an ETF shifted by a
        # global mean of the wrong length (docs/math.md#nc-metrics).
        _global_mean_ratio,
        formula="K(K−1)‖m‖²/‖H̄ − m‖_F², m the mean of the class means: its squared length relative to an orthogonal frame's",
    ),
    Metric("NC2_W_ETF", _nc2_w_etf, classifier=True, formula="NC2 (ETF) on the centered rows of W"),
    Metric("NC2_W_OF", lambda s: core.gram_distance(s.W, s.of_target, s.W_degenerate), classifier=True, formula="NC2 (OF) on the rows of W"),
    Metric(
        "NC3_ETF",
        lambda s: core.alignment(s.W, s.centered, s.W_degenerate | s.centered_degenerate, W_norm=s.W_norm, means_norm=s.centered_norm),
        classifier=True,
        formula="‖W/‖W‖ − M/‖M‖‖_F",
    ),
    Metric(
        "NC3_OF",
        lambda s: core.alignment(s.W, s.means, s.W_degenerate | s.means_degenerate, W_norm=s.W_norm, means_norm=s.means_norm),
        classifier=True,
        formula="‖W/‖W‖ − H̄ᵀ/‖H̄‖‖_F",
    ),
    Metric(
        "NC4",
        # Undefined, not 0, when the nearest-centre rule ties for every sample (all class means
        # equal) or the classifier ignores the features (W = 0): argmin/argmax would pick class 0.
        lambda s: core.masked(s.sums["decision_disagreements"] / s.N, s.centered_degenerate | s.W_degenerate),
        classifier=True,
        sums=("decision_disagreements",),
        formula="fraction of samples with argmax_j (W h + b)_j ≠ argmin_j ‖h − h̄_j‖",
    ),
)
