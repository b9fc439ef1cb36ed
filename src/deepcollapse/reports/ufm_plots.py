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
    ax = axes[0]
    for label, point in members:
        x, gap = _positive_iterations(point, "objective_gap")
        ax.loglog(x, np.abs(gap), color="k", alpha=alpha, label=label or "|L − L*| / L*")
    ax.set_title("objective gap to the closed form")
    ax.set_xlabel("iteration")
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
    if len(members) > 1:
        axes[0].legend(loc="lower left", fontsize="x-small")
    fig.suptitle(title)
    return fig


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


def threshold_of(base_config: Mapping[str, Any], *, fields: tuple[str, ...], lo: float, hi: float) -> float | None:
    """The value of the swept λ `fields` (moved together) where the closed-form minimizer becomes zero.

    Found by bisection on `ufm.theory.minimizer(...)["zero"]` between `lo` and `hi` (log scale), so
    that the line drawn on the phase diagram is the package's theory, not a formula copied here.
    None when the minimizer is zero at both ends or at neither.
    """
    from ..ufm import theory

    at = _config_along(base_config, fields)

    def zero(value: float) -> bool:
        return bool(theory.minimizer(at(value))["zero"])

    if zero(lo) == zero(hi):
        return None
    a, b = math.log(lo), math.log(hi)
    for _ in range(60):
        mid = 0.5 * (a + b)
        if zero(math.exp(mid)) == zero(lo):
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


def phase_figure(ds, *, dim: str, threshold: float | None, title: str, curve=None):
    """Final objective (GD) against the closed form and the final feature norm, along the λ sweep.

    `curve` (values, objective) draws the closed form on a fine grid; without it, at the swept points.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    final = ds.isel(iteration=-1)
    x = np.asarray(ds[dim].values, dtype=float)
    other = [d for d in sweep_dims(ds) if d != dim]
    theory_obj = final["theory_objective"]
    if other:
        theory_obj = theory_obj.isel({d: 0 for d in other})
    cx, cy = curve if curve is not None else (x, np.asarray(theory_obj.values, dtype=float))
    reference(ax1.semilogx(cx, cy, "k-", label="closed form L*"))
    level = list(ds.attrs.get("levels", ["H"]))[-1]
    norm_name = f"norm_{level}"
    for label, point in _by(final, other):
        ax1.semilogx(x, np.asarray(point["objective"].values, dtype=float), "o", mfc="none", label=f"GD {label}".strip())
        if norm_name in point:
            ax2.semilogx(x, np.asarray(point[norm_name].values, dtype=float), "o-", label=f"GD {label}".strip())
    for ax in (ax1, ax2):
        if threshold is not None:
            reference(ax.axvline(threshold, color="r", ls=":", label=f"threshold λ = {threshold:.4g}"))
        ax.set_xlabel(f"{dim} (λ_W = λ_H)" if dim == "lambda" else dim)
        ax.legend(fontsize="x-small")
    ax1.set_title("final objective")
    ax2.set_title(f"final ‖{level}‖_F (0: the zero solution)")
    fig.suptitle(title)
    return fig


def _by(final, dims):
    """(label, slice) per combination of `dims`; the whole dataset once when there are none."""
    for combo in itertools.product(*(range(final.sizes[d]) for d in dims)):
        sel = dict(zip(dims, combo))
        point = final.isel(sel)
        yield ", ".join(f"{d}={point[d].item():g}" if d in point.coords else f"{d}={i}" for d, i in sel.items()), point
