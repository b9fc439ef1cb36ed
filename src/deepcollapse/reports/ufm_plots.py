"""Figures and tables of UFM runs (datasets written by `deepcollapse ufm`).

A run's dataset has dims ("iteration",) or (*sweep dims, "iteration"), the objective and its
relative gap to the closed form, and one variable per NC metric and feature level (e.g.
"NC2_OF_H2"); attrs "levels" and "theory".  These functions only read and draw.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .figures import reference

#: Colour per feature level, shared by every page (H of the plain UFM; H1, pre-ReLU Z, H2).
LEVEL_COLORS = {"H": "C0", "H1": "C0", "Z": "C1", "H2": "C2"}
#: The NC panels: title -> [(metric key, line style)]; NC2 shows the distance to both frames.
NC_PANELS = {
    "NC1 (within-class variability)": [("NC1", "-")],
    "NC2: simplex ETF (solid), orthogonal frame (dashed)": [("NC2_ETF", "-"), ("NC2_OF", "--")],
    "NC3: classifier vs uncentered means": [("NC3_OF", "-")],
}


def sweep_dims(ds) -> list[str]:
    return [d for d in ds["objective"].dims if d != "iteration"]


def _members(ds):
    """(label, dataset restricted to one sweep point) for every point of a sweep (one for a run)."""
    dims = sweep_dims(ds)
    if not dims:
        yield "", ds
        return
    for combo in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        sel = dict(zip(dims, combo))
        point = ds.isel(sel)
        label = ", ".join(f"{d}={point[d].item():g}" if d in point.coords else f"{d}={i}" for d, i in sel.items())
        yield label, point


def _positive_iterations(point, name: str):
    it = point["iteration"].values
    y = np.asarray(point[name].values, dtype=float)
    keep = it > 0  # log axis: the initial iterate is shown in the tables, not here
    return it[keep], y[keep]


def trajectory_figure(ds, *, title: str):
    """Objective gap and NC1/NC2/NC3 against iteration, per feature level (and per sweep point)."""
    import matplotlib.pyplot as plt

    levels = list(ds.attrs.get("levels", ["H"]))
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 6.4), constrained_layout=True)
    axes = axes.ravel()
    members = list(_members(ds))
    alpha = 1.0 if len(members) == 1 else max(0.25, 1.0 / math.sqrt(len(members)))
    _objective_panel(axes[0], members)
    for ax, (panel, series) in zip(axes[1:], NC_PANELS.items()):
        for (key, style), level in itertools.product(series, levels):
            name = f"{key}_{level}"
            if name not in ds:
                continue
            for i, (label, point) in enumerate(members):
                x, y = _positive_iterations(point, name)
                if not np.isfinite(y).any():
                    continue
                tag = f"{key} {level}" if len(levels) > 1 or len(series) > 1 else key
                ax.loglog(x, y, style, color=LEVEL_COLORS.get(level), alpha=alpha, label=tag if i == 0 else None)
        ax.set_title(panel, fontsize="small")
        ax.set_xlabel("iteration")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower left")
    for ax in axes:
        quiet_minor_ticks(ax)
    fig.suptitle(title)
    return fig


#: Relative gaps below this are float64 rounding; they are drawn at this floor (a log axis has no 0).
GAP_FLOOR = 1e-16
#: GD is marked "below the closed form" only beyond rounding of the objective (≈1e-15 relative).
BELOW_TOLERANCE = 1e-12


def _objective_panel(ax, members) -> None:
    """|L − L*|/L* per run (one colour per sweep point), floored at GAP_FLOOR; points where GD ends
    *below* the closed form (which would refute it, or flag an unverified one) are marked in red.
    Without a closed form (the gap is NaN throughout) the objective itself is drawn."""
    has_theory = any(np.isfinite(_positive_iterations(p, "objective_gap")[1]).any() for _, p in members)
    below_labelled = False
    for i, (label, point) in enumerate(members):
        color = "k" if len(members) == 1 else f"C{i % 10}"
        if not has_theory:
            x, y = _positive_iterations(point, "objective")
            ax.semilogx(x, y, color=color, label=label or "objective")
            continue
        x, gap = _positive_iterations(point, "objective_gap")
        ax.loglog(x, np.maximum(np.abs(gap), GAP_FLOOR), color=color, label=label or "|L − L*| / L*")
        below = gap < -BELOW_TOLERANCE
        if below.any():
            ax.loglog(x[below], np.abs(gap[below]), "v", color="r", ms=3,
                      label=None if below_labelled else "GD below the closed form")
            below_labelled = True
    ax.set_title("objective gap to the closed form" if has_theory else "objective (no closed form known)")
    ax.set_xlabel("iteration")
    if len(members) > 1 or below_labelled:
        ax.legend(loc="lower left", fontsize="x-small", ncol=2 if len(members) > 5 else 1)


def quiet_minor_ticks(ax) -> None:
    """No labels on the minor ticks of a log axis spanning more than a decade (matplotlib labels
    them when the span is short, and at 2–3 decades they overlap); short axes keep them."""
    from matplotlib.ticker import NullFormatter

    for axis, scale, limits in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()), (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        lo, hi = sorted(limits)
        if scale == "log" and lo > 0 and hi / lo > 10:
            axis.set_minor_formatter(NullFormatter())


def final_rows(runs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run (and sweep point): the closed form, the GD endpoint, and the NC metrics there."""
    rows = []
    for name, ds in runs.items():
        levels = list(ds.attrs.get("levels", ["H"]))
        last = levels[-1]
        for label, point in _members(ds):
            final = point.isel(iteration=-1)
            row = {
                "run": name + (f" [{label}]" if label else ""),
                "model": ds.attrs.get("description", "").split(":")[0],
                "iterations": int(final["iteration"]),
                "closed-form L*": float(point["theory_objective"]),
                "GD objective": float(final["objective"]),
                "relative gap": float(final["objective_gap"]),
            }
            for key in ("NC1", "NC2_ETF", "NC2_OF", "NC3_OF"):
                if f"{key}_{last}" in final:
                    row[f"{key} ({last})"] = float(final[f"{key}_{last}"])
            rows.append(row)
    return rows


def _config_along(base_config: Mapping[str, Any], fields: tuple[str, ...]):
    """A function value -> ufm.Config with the swept `fields` set to value (the rest as stored)."""
    import dataclasses

    from ..config import from_mapping
    from ..ufm import Config

    base = from_mapping(Config, {k: v for k, v in base_config.items() if k != "sweep"}, source="stored config")
    return lambda value: dataclasses.replace(base, **{f: value for f in fields})


#: What changes at the threshold of a swept dimension: (description, predicate on theory.minimizer).
#: λ sweeps cross into the zero solution; a λ_b sweep crosses c/(1−c), where the class means stop
#: being a simplex ETF (SPEC §1.3: p > 0).
REGIMES = {
    "lambda_b": ("p > 0 above: neither ETF nor OF", lambda info: info.get("p", 0.0) > 0),
}
ZERO_REGIME = ("zero solution above", lambda info: bool(info["zero"]))


def regime_of(dim: str):
    return REGIMES.get(dim, ZERO_REGIME)


def threshold_of(base_config: Mapping[str, Any], *, fields: tuple[str, ...], lo: float, hi: float, regime=None) -> float | None:
    """The value of the swept `fields` (moved together) where the closed-form regime changes.

    `regime` is a predicate on `ufm.theory.minimizer(config)` (default: the minimizer is zero).
    Found by bisection between `lo` and `hi` on a log scale, so that the line drawn on the phase
    diagram is the package's theory, not a formula copied here.  None when the predicate has the
    same value at both ends.
    """
    from ..ufm import theory

    predicate = regime or ZERO_REGIME[1]
    at = _config_along(base_config, fields)

    def side(value: float) -> bool:
        return bool(predicate(theory.minimizer(at(value))))

    if side(lo) == side(hi):
        return None
    a, b = math.log(lo), math.log(hi)
    for _ in range(60):
        mid = 0.5 * (a + b)
        if side(math.exp(mid)) == side(lo):
            a = mid
        else:
            b = mid
    return math.exp(0.5 * (a + b))


def closed_form_curve(base_config: Mapping[str, Any], *, fields: tuple[str, ...], lo: float, hi: float, points: int = 200):
    """(values, closed-form minimal objective) on a log grid of the swept λ, from `ufm.theory`."""
    from ..ufm import theory

    at = _config_along(base_config, fields)
    x = np.geomspace(lo, hi, points)
    return x, np.array([float(theory.minimizer(at(v))["objective"]) for v in x])


def phase_figure(ds, *, dim: str, threshold: float | None, title: str, curve=None, threshold_label: str = "threshold"):
    """Along a sweep: the final objective (GD) against the closed form, the final feature norm,
    and NC2 of the last feature level (ETF solid, OF dashed), with the threshold drawn.

    `curve` (values, objective) draws the closed form on a fine grid; without it, at the swept points.
    Other sweep dimensions (e.g. seeds) give one series each.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.5), constrained_layout=True)
    final = ds.isel(iteration=-1)
    x = np.asarray(ds[dim].values, dtype=float)
    other = [d for d in sweep_dims(ds) if d != dim]
    theory_obj = final["theory_objective"]
    if other:
        theory_obj = theory_obj.isel({d: 0 for d in other})
    cx, cy = curve if curve is not None else (x, np.asarray(theory_obj.values, dtype=float))
    reference(ax1.semilogx(cx, cy, "k-", label="closed form L*"))
    level = list(ds.attrs.get("levels", ["H"]))[-1]
    series = list(_by(final, other))
    for i, (label, point) in enumerate(series):
        tag = f"GD {label}".strip()
        ax1.semilogx(x, np.asarray(point["objective"].values, dtype=float), "o", mfc="none", color=f"C{i}", label=tag)
        if f"norm_{level}" in point:
            ax2.semilogx(x, np.asarray(point[f"norm_{level}"].values, dtype=float), "o-", ms=4, color=f"C{i}", label=tag)
        for key, style in (("NC2_ETF", "-"), ("NC2_OF", "--")):
            if f"{key}_{level}" in point:
                ax3.loglog(x, np.asarray(point[f"{key}_{level}"].values, dtype=float), style, marker="o", ms=3,
                           color=f"C{i}", label=f"{key} {label}".strip() if i == 0 or len(series) < 4 else None)
    for ax in (ax1, ax2, ax3):
        if threshold is not None:
            reference(ax.axvline(threshold, color="r", ls=":", label=f"{threshold_label}: {threshold:.4g}"))
        ax.set_xlabel(dim)
        ax.legend(fontsize="x-small")
    for ax in (ax1, ax2, ax3):
        quiet_minor_ticks(ax)
    ax1.set_title("final objective", fontsize="small")
    ax2.set_title(f"final ‖{level}‖_F (0: the zero solution)", fontsize="small")
    ax3.set_title(f"final NC2 of {level}: ETF (solid), OF (dashed)", fontsize="small")
    fig.suptitle(title)
    return fig


def _by(final, dims):
    """(label, slice) per combination of `dims`; the whole dataset once when there are none."""
    for combo in itertools.product(*(range(final.sizes[d]) for d in dims)):
        sel = dict(zip(dims, combo))
        point = final.isel(sel)
        yield ", ".join(f"{d}={point[d].item():g}" if d in point.coords else f"{d}={i}" for d, i in sel.items()), point
