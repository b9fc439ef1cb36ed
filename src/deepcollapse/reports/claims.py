"""What a report page may say about a result: verdicts computed from the data by explicit thresholds.

Every sentence a page prints about a run ("collapses", "an orthogonal frame", "agrees with the closed
form", "ends above it") comes from here, so that it is true of the data it describes; what a page
states independently of the data (a theorem's prediction, a tick of a figure) is checked with `check`,
which fails the render (`ClaimError`) when the data contradict it.  The thresholds are documented in
docs/math.md#structure-claims and held in `deepcollapse.frames`; change them there together.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import from_mapping
# the structure vocabulary (names, thresholds, `frame_of`) is shared with the networks page and the
# comparison (`deepcollapse.compare`): it lives in `deepcollapse.frames`, re-exported here for the pages
from ..frames import DEFAULT, ETF, NEITHER, OF, ZERO, Thresholds, collapsed, etf_of_distance, frame_of, is_zero  # noqa: F401
from ..ufm import Config, models, theory
from ..ufm.joined import with_theory
from .sweeps import members
from .text import math_link

#: Where the project's math document lives, relative to the repository root; pages link its anchors.
MATH_DOC = "docs/math.md"

AGREES = "agrees"
ABOVE = "above the closed form"
BELOW = "below the closed form"
NO_CLOSED_FORM = "no closed form"
#: An outcome above the closed form with a dead training sample at the end: told apart in legends
#: and sentences from a run that is merely still descending (docs/math.md#relu-dead-sample).
ABOVE_DEAD = "above: a ReLU dead sample"


class ClaimError(AssertionError):
    """A page's statement is contradicted by the data it describes: the render must fail."""


def check(condition: bool, claim: str, evidence: str) -> None:
    """Fail the page when `claim` is false of the data; `evidence` names the numbers that refute it."""
    if not condition:
        raise ClaimError(f"the page would claim {claim!r}, but the data say: {evidence}")


def fmt(value: float) -> str:
    """A number as a page prints it (3 significant digits; NaN as 'undefined')."""
    if value is None or not np.isfinite(value):
        return "undefined"
    return f"{value:.3g}"


def objective_status(gap: float, t: Thresholds = DEFAULT) -> str:
    """The final relative gap (L_GD − L*)/L* against the closed form."""
    if gap is None or not np.isfinite(gap):
        return NO_CLOSED_FORM
    if abs(gap) <= t.agree:
        return AGREES
    if gap < -t.below:
        return BELOW
    return ABOVE if gap > 0 else AGREES  # −1e-12 < gap < −1e-6 cannot happen; kept total


@dataclass(frozen=True)
class Level:
    """The verdict on one feature level at the final iterate."""

    level: str
    nc1: float
    nc2_etf: float
    nc2_of: float
    nc3: float
    norm: float
    K: int
    frame: str
    collapsed: bool | None
    #: (iteration, NC2_ETF, NC2_OF) at the logged iterate nearest half the run: where the level was heading
    earlier: tuple[int, float, float] | None = None

    def heading(self, predicted: str | None) -> str:
        """' — heading to the predicted orthogonal frame: NC2_OF fell from 0.12 (iteration 100,000) to 0.004'
        when the level is not at `predicted` yet but its distance to it has been falling; else ''."""
        if predicted not in (OF, ETF) or self.earlier is None or self.frame == predicted:
            return ""
        iteration, etf_then, of_then = self.earlier
        key, then, now = ("NC2_OF", of_then, self.nc2_of) if predicted == OF else ("NC2_ETF", etf_then, self.nc2_etf)
        if not (np.isfinite(then) and np.isfinite(now) and now < then):
            return ""
        return (f" — heading to the predicted {predicted} when GD stopped: {key} fell from {fmt(then)} (iteration "
                f"{iteration:,}) to {fmt(now)}, not yet at the threshold {DEFAULT.frame:g}")

    def sentence(self, predicted: str | None = None) -> str:
        """What the level is at the final iterate; with `predicted` (a run stopped above its closed
        form), also whether it was on its way to the predicted frame."""
        if self.frame == ZERO:
            return f"{self.level}: the zero solution (‖{self.level}‖ = {fmt(self.norm)}; the NC metrics are undefined)"
        state = "collapsed" if self.collapsed else "not collapsed"
        text = f"{self.level}: {state} (NC1 = {fmt(self.nc1)}); class means "
        if self.frame == OF:
            text += (f"an orthogonal frame (NC2_OF = {fmt(self.nc2_of)}; NC2_ETF = {fmt(self.nc2_etf)} is small too, "
                     "because centred OF means are a simplex ETF)")
        elif self.frame == ETF:
            text += (f"a simplex ETF (NC2_ETF = {fmt(self.nc2_etf)}; NC2_OF = {fmt(self.nc2_of)} ≈ "
                     f"{etf_of_distance(self.K):.4f}, the distance of an ETF to an OF)")
        elif np.isfinite(self.nc2_etf) and self.nc2_etf <= DEFAULT.frame:
            text = (f"{self.level}: {state} (NC1 = {fmt(self.nc1)}); the uncentred class means are neither an ETF nor an OF "
                    f"(NC2_OF = {fmt(self.nc2_of)}, between an OF's 0 and an ETF's {etf_of_distance(self.K):.4f}), "
                    f"while the centred means are a simplex ETF (NC2_ETF = {fmt(self.nc2_etf)})")
        else:
            text += f"neither an ETF nor an OF (NC2_ETF = {fmt(self.nc2_etf)}, NC2_OF = {fmt(self.nc2_of)})"
        text += self.heading(predicted)
        if np.isfinite(self.nc3):
            text += f"; NC3 = {fmt(self.nc3)}"
        return text


def _value(point, name: str) -> float:
    return float(point[name].values) if name in point else math.nan


def level_verdict(point, level: str, *, K: int, t: Thresholds = DEFAULT) -> Level:
    """The verdict on `level` of one run (a dataset without sweep dims) at its final iterate."""
    final = point.isel(iteration=-1) if "iteration" in point.dims else point
    nc1, etf, of = (_value(final, f"{k}_{level}") for k in ("NC1", "NC2_ETF", "NC2_OF"))
    nc3, norm = _value(final, f"NC3_OF_{level}"), _value(final, f"norm_{level}")
    earlier = None
    if "iteration" in point.dims and point.sizes["iteration"] > 2:
        iterations = np.asarray(point["iteration"].values)
        i = int(np.argmin(np.abs(iterations - iterations[-1] / 2)))
        then = point.isel(iteration=i)
        earlier = (int(iterations[i]), _value(then, f"NC2_ETF_{level}"), _value(then, f"NC2_OF_{level}"))
    return Level(level, nc1, etf, of, nc3, norm, K, frame_of(etf, of, K=K, norm=norm, t=t), collapsed(nc1, t), earlier)


def predicted_frames(config: Mapping[str, Any], theory_info: Mapping[str, Any] | None = None) -> dict[str, str]:
    """{level: frame} that the closed form predicts for a UFM config (docs/math.md): the model's
    `frames` theory hook (`ufm.theory.hooks`); {} where the package has no verified structure (extended
    CE, deep models beyond the zero solution) or cannot read the config: nothing is then claimed."""
    try:
        cfg = from_mapping(Config, {k: v for k, v in config.items() if k != "sweep"}, source="stored config")
        info = theory_info if theory_info is not None else theory.minimizer(cfg)
    except Exception:  # a config this package version cannot read: claim nothing
        return {}
    if not info.get("available", True) or not info.get("verified", False):
        return {}
    return dict(theory.hooks(cfg).frames(cfg, info))


@dataclass(frozen=True)
class Outcome:
    """One run (or sweep point) at its final iterate."""

    label: str
    iterations: int
    gap: float
    status: str
    levels: tuple[Level, ...]
    predicted: Mapping[str, str]
    dead: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)  # level -> (samples, first iteration)

    @property
    def kind(self) -> str:
        """The status, with "above" split by whether a training sample is dead at the end."""
        return ABOVE_DEAD if self.status == ABOVE and any(n > 0 for n, _ in self.dead.values()) else self.status

    def structure_matches(self) -> bool:
        return all(lv.frame == self.predicted[lv.level] for lv in self.levels if lv.level in self.predicted)

    def sentence(self) -> str:
        head = f"after {self.iterations:,} iterations "
        if self.status == NO_CLOSED_FORM:
            head += "(no closed form to compare with)"
        elif self.status == AGREES:
            head += f"GD agrees with the closed form (relative gap {fmt(self.gap)})"
        elif self.status == BELOW:
            head += f"GD ends BELOW the closed form (relative gap {fmt(self.gap)}): that closed form is not the minimum"
        else:
            head += f"GD is still above the closed form (relative gap {fmt(self.gap)})"
            dead = {lv: (n, first) for lv, (n, first) in self.dead.items() if n > 0}
            if dead:
                head += (": " + ", ".join(f"{n} training sample(s) dead at {lv} at the end (a dead sample first seen at iteration {first:,})" for lv, (n, first) in dead.items())
                         + f" (every pre-activation ≤ 0: its feature column only decays, {math_link('relu-dead-sample')})")
            elif self.dead:
                head += ", with no dead sample"
        # not (yet) at the closed form: say where each level was heading, unless a dead sample holds it
        # on a plateau (docs/math.md#relu-dead-sample), where no trend continues in exact arithmetic
        stopped = self.status == ABOVE and self.kind != ABOVE_DEAD
        parts = [head] + [lv.sentence(self.predicted.get(lv.level) if stopped else None) for lv in self.levels]
        if self.predicted and self.status == AGREES:
            predicted = ", ".join(f"{lv}: {fr}" for lv, fr in self.predicted.items())
            parts.append(("as predicted" if self.structure_matches() else "NOT the predicted structure")
                         + f" ({predicted})")
        return "; ".join(parts) + "."


def _dead(final) -> dict[str, tuple[int, int]]:
    """{ReLU level: (dead samples at the final iterate, first iteration one was seen)} from the
    solver's dead_samples_<level> / dead_first_iteration_<level> (empty for a linear model)."""
    out = {}
    for name in final.data_vars:
        if name.startswith("dead_samples_"):
            level = name.removeprefix("dead_samples_")
            first = final.get(f"dead_first_iteration_{level}")
            out[level] = (int(np.asarray(final[name].values).sum()),
                          int(np.asarray(first.values).min()) if first is not None else -1)
    return out


def outcomes(ds, *, t: Thresholds = DEFAULT, theory_info=None) -> list[Outcome]:
    """Outcome of every point of a UFM result dataset (one for a single run), against the closed
    forms joined on the theory side (`ufm.joined.with_theory`; a store holds none)."""
    ds = with_theory(ds)
    config = dict(ds.attrs.get("config", {}))
    K = int(config.get("K", 0)) or int(ds.attrs.get("K", 0))
    levels = list(ds.attrs.get("levels", ["H"]))
    sweep = ds.attrs.get("sweep") or {}
    out = []
    for label, point in members(ds):
        # the closed form of this point: the stored config with the swept fields at the point's values
        at = dict(config)
        for dim, spec in sweep.items():
            if dim in point.coords:
                at.update({field: point[dim].item() for field in spec.get("fields", [dim])})
        predicted = predicted_frames(at, theory_info if not sweep else None)
        final = point.isel(iteration=-1)
        gap = float(final["objective_gap"].values) if "objective_gap" in final else math.nan
        lv = tuple(level_verdict(point, level, K=K, t=t) for level in levels if f"NC1_{level}" in point)
        out.append(Outcome(label, int(final["iteration"].values), gap, objective_status(gap, t), lv, predicted, _dead(final)))
    return out


def count_sentence(items: list[Outcome]) -> str:
    """'3 of 5 agree with the closed form (seed=0, seed=1, seed=3); 2 are above it (seed=2, seed=4).'"""
    by: dict[str, list[str]] = {}
    for o in items:
        by.setdefault(o.status, []).append(o.label or "the run")
    order = [AGREES, ABOVE, BELOW, NO_CLOSED_FORM]
    words = {AGREES: "agree with the closed form", ABOVE: "end above it (not converged, a local minimum or a dead sample; see the theory page)",
             BELOW: "end BELOW it (the closed form is refuted)", NO_CLOSED_FORM: "have no closed form"}
    parts = [f"{len(by[s])} of {len(items)} {words[s]} ({', '.join(by[s])})" for s in order if s in by]
    dead = [o.label or "the run" for o in items if o.kind == ABOVE_DEAD]
    if dead:  # the solver says which of those above sit on a dead training sample
        parts.append(f"of those above, {len(dead)} end on a ReLU dead sample ({', '.join(dead)}) and "
                     f"{len(by[ABOVE]) - len(dead)} have none")
    return "; ".join(parts) + "."
