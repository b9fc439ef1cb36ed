"""How far a network's depth-wise NC trajectories are from an extended UFM's, in numbers.

Tirer & Bruna (§6, Figs. 6 and 10) claim that a trained ResNet18's feature levels behave like the
*ReLU* extended UFM's two levels and unlike the *linear* one's: NC1 falls with depth, collapse is
strongest in the deepest level, and only the deepest level reaches the orthogonal frame (OF, MSE
without bias).  This module turns that visual claim into four measured criteria, each of which
says which of two reference models the network is closer to:

1. **NC1 ordering across depth** -- Kendall's tau between depth and each level's log NC1 averaged
   over the common grid of the fraction of training (-1: strictly decreasing with depth).  The
   time average, not the final value: a UFM's levels all end at the floating-point floor, where
   the final values tie.  Distance: |tau_net - tau_model|.
2. **Final structure per matched level** -- "orthogonal frame", "simplex ETF", "neither ETF nor
   OF" or "zero solution", named by `deepcollapse.frames.frame_of` with the thresholds of
   docs/math.md#structure-claims, the words and numbers every other page uses (`structure`).
   Distance: the number of matched levels whose labels differ.
3. **Collapse rate per level** -- least-squares slope of log10 NC1 against the fraction of
   training (decades per run; negative = collapsing).  Distance: whether the models disagree on
   which matched level collapses faster (0 or 1), the same comparison the paper makes by eye;
   two rates within `RATE_TIE` (relative) of each other are a tie ("same rate"), not an order.
4. **Trajectory similarity** -- Spearman's rank correlation of the log-metric curves of matched
   levels, both interpolated on one grid of the fraction of training.  Distance: 1 - mean rho.

Levels are matched from the deep end (`DEFAULT_PAIRS`): the penultimate features (what the
classifier sees) with H2, the last stage before the final ResBlock group with H1.  The ReLU
model's pre-activation Z has no stored counterpart in the network (stage4 is the post-ReLU
output) and enters only the ordering criterion.

The verdict (`verdict`) counts, over the four criteria, where the network is closer to each
reference by more than that criterion's `TOLERANCES` entry (distances within it are a tie); the
one with more criteria wins, an equal count is "undecided".  Everything here
is pure numpy on arrays: the report page loads the stores and only prints and plots these numbers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
import numpy as np

from ..errors import InputError
from ..frames import DEFAULT, Thresholds, frame_of

#: Values below this are treated as this (log of an exact 0 NC1 of a fully collapsed level).
LOG_FLOOR = 1e-12
#: Two collapse rates within this fraction of the larger one's size are a tie: neither level
#: collapses faster (−15.8 against −15.7 decades per run is no order).
RATE_TIE = 0.1
#: Per criterion: two distances (network to reference A, to reference B) within this are a tie.
#: Kendall's tau over 3-4 levels moves in steps of 1/3 and Spearman's rho is an average of a few
#: correlations, so a difference under 0.05 is no evidence; structure and rate distances are counts.
TOLERANCES = {"ordering": 0.05, "structure": 0.0, "rate": 0.0, "similarity": 0.05}
#: (network level, UFM level) pairs, deepest first.
DEFAULT_PAIRS: tuple[tuple[str, str], ...] = (("penultimate", "H2"), ("stage3", "H1"))



@dataclasses.dataclass(frozen=True)
class LevelTrajectories:
    """NC metric trajectories of one model's feature levels.

    time: (T,) increasing training time (epochs or iterations; the first may be 0);
    levels: level names, shallow to deep; values: metric key -> (T, len(levels)) array
    (NaN where a metric is undefined at a level; key "norm", when given, the features' norm);
    K: the number of classes (a structure is named against K: an ETF's NC2_OF depends on it);
    dead: level -> training samples dead at the final iterate (ReLU levels; docs/math.md#relu-dead-sample).
    """

    name: str
    time: np.ndarray
    levels: tuple[str, ...]
    values: Mapping[str, np.ndarray]
    K: int = 0
    dead: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        time = np.asarray(self.time, dtype=np.float64)
        if time.ndim != 1 or len(time) < 2 or np.any(np.diff(time) <= 0) or time[-1] <= 0:
            raise InputError(f"{self.name}: time must be at least 2 increasing values ending above 0")
        values = {}
        for key, arr in self.values.items():
            arr = np.asarray(arr, dtype=np.float64)
            if arr.shape != (len(time), len(self.levels)):
                raise InputError(f"{self.name}: metric {key} has shape {arr.shape}, expected {(len(time), len(self.levels))}")
            values[key] = arr
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "dead", dict(self.dead))

    @property
    def fraction(self) -> np.ndarray:
        """Time as the fraction of training done (0 .. 1)."""
        return self.time / self.time[-1]

    def curve(self, key: str, level: str) -> np.ndarray:
        if key not in self.values:
            raise InputError(f"{self.name}: no metric {key!r} (has {', '.join(self.values)})")
        if level not in self.levels:
            raise InputError(f"{self.name}: no level {level!r} (has {', '.join(self.levels)})")
        return self.values[key][:, self.levels.index(level)]

    def final(self, key: str, level: str) -> float:
        return float(self.curve(key, level)[-1])


# ------------------------------------------------------------------------------ elementary measures
def log_metric(values: np.ndarray) -> np.ndarray:
    """log10 of metric values, floored at `LOG_FLOOR` (NaN stays NaN)."""
    values = np.asarray(values, dtype=np.float64)
    return np.log10(np.where(np.isnan(values), np.nan, np.maximum(values, LOG_FLOOR)))


def structure(model: LevelTrajectories, level: str, t: Thresholds = DEFAULT) -> str:
    """The final structure of one level of `model`, named as on every page (`frames.frame_of`)."""
    if model.K < 2:
        raise InputError(f"{model.name}: the number of classes K is needed to name a structure")
    norm = model.final("norm", level) if "norm" in model.values else None
    return frame_of(model.final("NC2_ETF", level), model.final("NC2_OF", level), K=model.K, norm=norm, t=t)


def faster(rates: Sequence[float], tie: float = RATE_TIE) -> int | None:
    """The index of the level that collapses fastest (most negative rate), or None when the fastest
    two are within `tie` (relative) of each other: a tie is not an order."""
    order = np.argsort(rates)
    first, second = float(rates[order[0]]), float(rates[order[1]])
    return None if abs(second - first) <= tie * max(abs(first), abs(second)) else int(order[0])


def collapse_rate(fraction: np.ndarray, values: np.ndarray) -> float:
    """Least-squares slope of log10(values) against the fraction of training (decades per run)."""
    x, y = np.asarray(fraction, dtype=np.float64), log_metric(values)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(x[ok]) == 0:
        return float("nan")
    return float(np.polyfit(x[ok], y[ok], 1)[0])


def _ranks(a: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=np.float64)
    ranks[order] = np.arange(1, len(a) + 1)
    for value in np.unique(a):  # average over ties
        tie = a == value
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's of the ranks); NaN if either is constant or too short."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < 3:
        return float("nan")
    ra, rb = _ranks(a), _ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denom) if denom > 0 else float("nan")


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-a of two equally long sequences (pairs tied in either count 0); NaN if < 2."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 2 or np.any(~np.isfinite(x)) or np.any(~np.isfinite(y)):
        return float("nan")
    s = sum(np.sign(x[j] - x[i]) * np.sign(y[j] - y[i]) for i in range(n) for j in range(i + 1, n))
    return float(s / (n * (n - 1) / 2))


def depth_ordering(
    model: LevelTrajectories, key: str = "NC1", levels: Sequence[str] | None = None, *, grid: np.ndarray | None = None
) -> float:
    """Kendall's tau between depth (level index) and the log metric: -1 = falls strictly with depth.

    With `grid`, the log metric averaged over the grid (see `on_grid`); without, its final value.
    """
    levels = list(levels if levels is not None else model.levels)
    if grid is None:
        values = [log_metric(model.final(key, level)) for level in levels]
    else:
        values = [float(np.mean(on_grid(model, key, level, grid))) for level in levels]
    return kendall_tau(range(len(levels)), values)


def common_grid(*models: LevelTrajectories, points: int = 64) -> np.ndarray:
    """Log-spaced fractions of training from the latest first positive fraction of the models to 1.

    Log spacing because every model here collapses fastest at the start: on a linear grid the
    UFM's curves (which collapse within the first percent of their iterations) would be flat.
    """
    starts = [float(m.fraction[m.fraction > 0][0]) for m in models]
    return np.geomspace(max(starts), 1.0, points)


def on_grid(model: LevelTrajectories, key: str, level: str, grid: np.ndarray) -> np.ndarray:
    """log10 of a metric, linearly interpolated in log10(fraction) onto `grid`."""
    frac, y = model.fraction, log_metric(model.curve(key, level))
    ok = (frac > 0) & np.isfinite(y)
    if ok.sum() < 2:
        return np.full(len(grid), np.nan)
    return np.interp(np.log10(grid), np.log10(frac[ok]), y[ok])


# ------------------------------------------------------------------------------ the comparison
@dataclasses.dataclass(frozen=True)
class Agreement:
    """The four criteria for one network against one reference UFM (see the module docstring)."""

    network: str
    reference: str
    ordering_network: float  # Kendall tau (depth, time-averaged log NC1) of the network
    ordering_reference: float
    structures: tuple[tuple[str, str, str, str], ...]  # (net level, ufm level, net label, ufm label)
    rates: tuple[tuple[str, str, float, float], ...]  # (net level, ufm level, net rate, ufm rate)
    similarity: tuple[tuple[str, str, str, float], ...]  # (net level, ufm level, metric, rho)

    @property
    def ordering_distance(self) -> float:
        return abs(self.ordering_network - self.ordering_reference)

    @property
    def structure_distance(self) -> int:
        return sum(net != ufm for _, _, net, ufm in self.structures)

    @property
    def rate_distance(self) -> float:
        """1 if the models disagree on which matched level collapses faster (more negative rate, ties
        within RATE_TIE counted as "same rate"), else 0."""
        if len(self.rates) < 2:
            return float("nan")
        net = [r for _, _, r, _ in self.rates]
        ufm = [r for _, _, _, r in self.rates]
        if not all(np.isfinite(net + ufm)):
            return float("nan")
        return float(faster(net) != faster(ufm))

    @property
    def mean_similarity(self) -> float:
        rhos = [rho for *_, rho in self.similarity if np.isfinite(rho)]
        return float(np.mean(rhos)) if rhos else float("nan")

    @property
    def similarity_distance(self) -> float:
        return 1.0 - self.mean_similarity

    def distances(self) -> dict[str, float]:
        return {
            "ordering": self.ordering_distance,
            "structure": float(self.structure_distance),
            "rate": self.rate_distance,
            "similarity": self.similarity_distance,
        }


def compare(
    network: LevelTrajectories,
    reference: LevelTrajectories,
    *,
    pairs: Sequence[tuple[str, str]] = DEFAULT_PAIRS,
    network_levels: Sequence[str] | None = None,
    similarity_keys: Sequence[str] = ("NC1", "NC2_OF", "NC2_ETF"),
    thresholds: Thresholds = DEFAULT,
    points: int = 64,
) -> Agreement:
    """The four criteria of `network` against `reference` (levels matched by `pairs`).

    network_levels: the network's distinct levels for the ordering (default: all of them; pass
    them without a duplicate such as ResNet18's stage4, which equals the penultimate features).
    """
    for net_level, ufm_level in pairs:
        if net_level not in network.levels:
            raise InputError(f"{network.name}: no level {net_level!r} to match with {reference.name}'s {ufm_level!r}")
        if ufm_level not in reference.levels:
            raise InputError(f"{reference.name}: no level {ufm_level!r} to match with {network.name}'s {net_level!r}")
    grid = common_grid(network, reference, points=points)
    structures = tuple(
        (n, u, structure(network, n, thresholds), structure(reference, u, thresholds))
        for n, u in pairs
    )
    rates = tuple(
        (n, u, collapse_rate(network.fraction, network.curve("NC1", n)), collapse_rate(reference.fraction, reference.curve("NC1", u)))
        for n, u in pairs
    )
    similarity = tuple(
        (n, u, key, spearman(on_grid(network, key, n, grid), on_grid(reference, key, u, grid)))
        for n, u in pairs
        for key in similarity_keys
        if key in network.values and key in reference.values
    )
    return Agreement(
        network=network.name,
        reference=reference.name,
        ordering_network=depth_ordering(network, levels=network_levels, grid=grid),
        ordering_reference=depth_ordering(reference, grid=grid),
        structures=structures,
        rates=rates,
        similarity=similarity,
    )


@dataclasses.dataclass(frozen=True)
class Verdict:
    closer_to: str  # a reference's name, or "undecided"
    wins: dict[str, int]  # reference name -> criteria where it is closer beyond the criterion's tolerance
    per_criterion: dict[str, str]  # criterion -> the closer reference's name, "tie" (within TOLERANCES) or "n/a"


def verdict(agreements: Mapping[str, Agreement]) -> Verdict:
    """Which of two references (label -> Agreement, e.g. {"ReLU": ..., "linear": ...}) the network is closer to."""
    if len(agreements) != 2:
        raise InputError(f"a verdict compares exactly two references, got {len(agreements)}")
    (a_name, a), (b_name, b) = agreements.items()
    da, db = a.distances(), b.distances()
    wins = {a_name: 0, b_name: 0}
    per: dict[str, str] = {}
    for criterion in da:
        x, y = da[criterion], db[criterion]
        if not (np.isfinite(x) and np.isfinite(y)):
            per[criterion] = "n/a"
        elif abs(x - y) <= TOLERANCES.get(criterion, 0.0):
            per[criterion] = "tie"
        elif x < y:
            per[criterion], wins[a_name] = a_name, wins[a_name] + 1
        elif y < x:
            per[criterion], wins[b_name] = b_name, wins[b_name] + 1
        else:
            per[criterion] = "tie"
    if wins[a_name] == wins[b_name]:
        closer = "undecided"
    else:
        closer = a_name if wins[a_name] > wins[b_name] else b_name
    return Verdict(closer_to=closer, wins=wins, per_criterion=per)
