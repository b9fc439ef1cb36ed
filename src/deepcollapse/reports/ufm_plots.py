"""Figures and tables of UFM runs (datasets written by `deepcollapse ufm`).

A run's dataset has dims ("iteration",) or (*sweep dims, "iteration"), the objective and one
variable per NC metric and feature level (e.g. "NC2_OF_H2"); attrs "levels".  Its closed forms
("theory_objective", "objective_gap") are joined on the theory side (`ufm.joined.with_theory`):
the functions that show them join what they are given (nothing is recomputed for a dataset
joined already).  These functions only read and draw.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..config import from_mapping
from ..ufm import Config, theory
from ..ufm.joined import with_theory
from . import claims, figures
from .figures import readable_log_ticks, reference
from .text import math_link
# the sweep helpers live in `sweeps` (data, below `claims`); pages also name them as ufm_plots.X
from .sweeps import _point_labels, members, point_label, sweep_dims, text_name  # noqa: F401

#: Colour per feature level, shared by every page (H of the plain UFM; H1, pre-ReLU Z, H2).
LEVEL_COLORS = {"H": "C0", "H1": "C0", "Z": "C1", "H2": "C2"}
#: Colour per outcome of a run against its closed form (seed sweeps are coloured by outcome).
OUTCOME_COLORS = {"agrees": "C2", "above the closed form": "C1", "above: a ReLU dead sample": "C5", "below the closed form": "C3",
                  "no closed form": "C7"}
#: Line style per NC2 frame: the two are told apart by style and named in every legend.
FRAME_STYLES = {"NC2_ETF": "-", "NC2_OF": "--"}
#: The NC panels: title -> [(metric key, line style)]; NC2 shows the distance to both frames.
NC_PANELS = {
    "NC1: within-class variability": [("NC1", "-")],
    "NC2: distance to a simplex ETF (centred means, solid) and to an OF (uncentred means, dashed)": [("NC2_ETF", "-"), ("NC2_OF", "--")],
    "NC3: classifier against the uncentred means": [("NC3_OF", "-")],
}
#: Matplotlib mathtext for the swept dimensions and parameters a figure names.
TEX = {"lambda": r"$\lambda$", "lambda_b": r"$\lambda_b$", "lambda_W": r"$\lambda_W$", "lambda_H": r"$\lambda_H$",
       "seed": "seed", "K_rho": r"$K\rho$", "c": r"$c$"}


def tex(name: str) -> str:
    """A parameter name as mathtext (λ, not "lambda"): lambda_W1 -> $\\lambda_{W1}$."""
    if name in TEX:
        return TEX[name]
    match = re.fullmatch(r"lambda_(\w+)", name)
    return rf"$\lambda_{{{match[1]}}}$" if match else name


_members = members  # the former private name


def _positive_iterations(point, name: str):
    it = point["iteration"].values
    y = np.asarray(point[name].values, dtype=float)
    keep = it > 0  # log axis: the initial iterate is shown in the tables, not here
    return it[keep], y[keep]


def trajectory_figure(ds, *, title: str, outcomes=None):
    """Objective gap and NC1/NC2/NC3 against iteration.

    A single run: every feature level (colour) and both NC2 frames (style).  A sweep (e.g. seeds):
    the last feature level only, one line per point coloured by its outcome against the closed form
    (`outcomes`: from `claims.outcomes(ds)`), so that a reader sees which seeds converged.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    ds = with_theory(ds)
    levels = list(ds.attrs.get("levels", ["H"]))
    pts = list(members(ds))
    many = len(pts) > 1
    outcomes = outcomes if outcomes is not None else claims.outcomes(ds)
    status = {o.label: o.kind for o in outcomes}
    if many:
        levels = levels[-1:]
    fig, axes = plt.subplots(2, 2, figsize=(9.0, 6.8), constrained_layout=True)
    axes = axes.ravel()
    _objective_panel(axes[0], pts, status)
    K = int(ds.attrs.get("config", {}).get("K", 0))
    for ax, (panel, series) in zip(axes[1:], NC_PANELS.items()):
        for (key, style), level in itertools.product(series, levels):
            name = f"{key}_{level}"
            if name not in ds:
                continue
            for label, point in pts:
                x, y = _positive_iterations(point, name)
                if not np.isfinite(y).any():
                    continue
                color = OUTCOME_COLORS[status.get(label, "no closed form")] if many else LEVEL_COLORS.get(level)
                ax.loglog(x, y, style, color=color, alpha=0.8 if many else 1.0, label=f"{key} {level} {label}".strip())
        if key.startswith("NC2") and K:
            reference(ax.axhline(claims.etf_of_distance(K), color="0.4", lw=0.8, ls=":",
                                 label=f"NC2_OF of an exact ETF ({claims.etf_of_distance(K):.4f})"))
        ax.set_title(panel if not panel.startswith("NC2") else "NC2: ETF (solid) and OF (dashed) distances", fontsize="small")
        ax.set_xlabel("iteration")
    handles = []
    if many:
        seen = [s for s in OUTCOME_COLORS if s in status.values()]
        handles += [Line2D([], [], color=OUTCOME_COLORS[s], label=f"{s} ({sum(v == s for v in status.values())} of {len(pts)})") for s in seen]
        handles += [Line2D([], [], color="k", ls="", label=f"level {levels[-1]} only")]
    else:
        handles += [Line2D([], [], color=LEVEL_COLORS.get(lv), label=f"level {lv}") for lv in levels if f"NC1_{lv}" in ds]
    handles += [Line2D([], [], color="k", ls="-", label=r"NC2$_{ETF}$ (centred means $M$)"),
                Line2D([], [], color="k", ls="--", label=r"NC2$_{OF}$ (uncentred means $\bar H$)")]
    if K:
        handles.append(Line2D([], [], color="0.4", ls=":", label=rf"NC2$_{{OF}}$ of an exact ETF, $\sqrt{{2-2\sqrt{{(K-1)/K}}}}$ = {claims.etf_of_distance(K):.4f}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize="x-small")
    for ax in axes:
        readable_log_ticks(ax)
    figures.suptitle(fig, title, fontsize="medium")
    return fig


#: Relative gaps below this are float64 rounding; they are drawn at this floor (a log axis has no 0).
GAP_FLOOR = 1e-16
#: GD is marked "below the closed form" only beyond rounding of the objective (≈1e-15 relative).
BELOW_TOLERANCE = 1e-12


def _objective_panel(ax, members, status=None) -> None:
    """|L − L*|/L* per run (a sweep's points coloured by outcome), floored at GAP_FLOOR; points where
    GD ends *below* the closed form (which refutes it) are marked in red.  Without a closed form
    (the gap is NaN throughout) the objective itself is drawn."""
    status = status or {}
    has_theory = any(np.isfinite(_positive_iterations(p, "objective_gap")[1]).any() for _, p in members)
    below_labelled = False
    for label, point in members:
        color = "k" if len(members) == 1 else OUTCOME_COLORS[status.get(label, "no closed form")]
        if not has_theory:
            x, y = _positive_iterations(point, "objective")
            ax.semilogx(x, y, color=color, label=label or "objective")
            continue
        x, gap = _positive_iterations(point, "objective_gap")
        ax.loglog(x, np.maximum(np.abs(gap), GAP_FLOOR), color=color, alpha=0.8,
                  label=f"{label}: {status.get(label, '')}".strip(": ") or "|L − L*| / L*")
        below = gap < -BELOW_TOLERANCE
        if below.any():
            ax.loglog(x[below], np.abs(gap[below]), "v", color="r", ms=3,
                      label=None if below_labelled else "GD below the closed form")
            below_labelled = True
    ax.set_title(r"objective gap $|\mathcal{L}-\mathcal{L}^*|/\mathcal{L}^*$" if has_theory else "objective (no closed form known)",
                 fontsize="small")
    ax.set_xlabel("iteration")
    if len(members) > 1 or below_labelled:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="xx-small")


quiet_minor_ticks = readable_log_ticks  # the former name


def final_rows(runs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per run (and sweep point): the closed form, the GD endpoint, its outcome, and the NC
    metrics of every feature level there (H1, Z and H2 of the extended model, not only the last)."""
    rows = []
    for name, ds in runs.items():
        ds = with_theory(ds)
        levels = list(ds.attrs.get("levels", ["H"]))
        status = {o.label: o.kind for o in claims.outcomes(ds)}
        for label, point in members(ds):
            final = point.isel(iteration=-1)
            row = {
                "run": name + (f" [{label}]" if label else ""),
                "model": ds.attrs.get("description", "").split(":")[0],
                "iterations": int(final["iteration"]),
                "closed-form L*": float(point["theory_objective"]),
                "GD objective": float(final["objective"]),
                "relative gap": float(final["objective_gap"]),
                "outcome": status.get(label, ""),
            }
            for level in levels:
                norm = float(final[f"norm_{level}"]) if f"norm_{level}" in final else None
                zero = claims.is_zero(norm)
                if norm is not None:
                    row[f"‖{level}‖_F"] = norm
                for key in ("NC1", "NC2_ETF", "NC2_OF", "NC3_OF"):
                    if f"{key}_{level}" in final:
                        # at the zero solution the metrics are ratios of rounding noise: no value is shown
                        row[f"{key} ({level})"] = f"{level} → 0" if zero else float(final[f"{key}_{level}"])
            rows.append(row)
    return rows


_LEVEL_COLUMN = re.compile(r"^(?P<key>\S+) \((?P<level>[^)]+)\)$")


def split_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`final_rows` as two narrow tables that fit a 1280 px page: (one row per run: the objective
    against the closed form; one row per run and feature level: its norm and NC metrics)."""
    runs, levels = [], []
    for row in rows:
        runs.append({k: v for k, v in row.items() if not _LEVEL_COLUMN.match(k) and not k.startswith("‖")})
        by_level: dict[str, dict[str, Any]] = {}
        for key, value in row.items():
            match = _LEVEL_COLUMN.match(key)
            if match:
                by_level.setdefault(match["level"], {})[match["key"]] = value
            elif key.startswith("‖") and key.endswith("‖_F"):
                by_level.setdefault(key[1:-3], {})["‖·‖_F"] = value
        levels += [{"run": row["run"], "level": level, **values} for level, values in by_level.items()]
    return runs, levels


def _config_along(base_config: Mapping[str, Any], fields: tuple[str, ...]):
    """A function value -> ufm.Config with the swept `fields` set to value (the rest as stored)."""
    import dataclasses

    base = from_mapping(Config, {k: v for k, v in base_config.items() if k != "sweep"}, source="stored config")
    return lambda value: dataclasses.replace(base, **{f: value for f in fields})


#: What changes at the threshold of a swept dimension: (description, predicate on theory.minimizer).
#: λ sweeps cross into the zero solution; a λ_b sweep crosses c/(1−c), where the *uncentred* class
#: means stop being a simplex ETF (p > 0; the centred means stay one: docs/math.md#ufm-regularized-bias).
REGIMES = {
    "lambda_b": ("above: uncentred means neither ETF nor OF (p > 0)", lambda info: info.get("p", 0.0) > 0),
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
    at = _config_along(base_config, fields)
    x = np.geomspace(lo, hi, points)
    return x, np.array([float(theory.minimizer(at(v))["objective"]) for v in x])


def phase_figure(ds, *, dim: str, threshold: float | None, title: str, curve=None, threshold_label: str = "threshold",
                 outcomes=None):
    """Along a sweep: the final objective (GD) against the closed form, the final feature norm,
    and NC2 of the last feature level (ETF of the centred means solid, OF of the uncentred means
    dashed), with the threshold drawn.

    Points where GD ended above the closed form (`outcomes`, from `claims.outcomes(ds)`) are circled
    in red on every panel: below an extended model's threshold they are local minima (the origin,
    rank-r points), and a jump of NC2 there is GD stopping early, not a phase transition.
    `curve` (values, objective) draws the closed form on a fine grid; without it, at the swept points.
    Other sweep dimensions (e.g. seeds) give one series each.
    """
    import matplotlib.pyplot as plt

    ds = with_theory(ds)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 4.2), constrained_layout=True, sharex=True)  # one λ axis
    final = ds.isel(iteration=-1)
    x = np.asarray(ds[dim].values, dtype=float)
    other = [d for d in sweep_dims(ds) if d != dim]
    theory_obj = final["theory_objective"]
    if other:
        theory_obj = theory_obj.isel({d: 0 for d in other})
    cx, cy = curve if curve is not None else (x, np.asarray(theory_obj.values, dtype=float))
    reference(ax1.semilogx(cx, cy, "k-", label=r"closed form $\mathcal{L}^*$"))
    level = list(ds.attrs.get("levels", ["H"]))[-1]
    outcomes = outcomes if outcomes is not None else claims.outcomes(ds)
    status = {frozenset(o.label.split(", ")): o.status for o in outcomes}  # sweep dims in any order
    series = list(_by(final, other))
    stuck_labelled = zero_labelled = False
    for i, (label, point) in enumerate(series):
        tag = f"GD {label}".strip()
        # the status of each swept point of this series, in the order of x
        keys = [frozenset([point_label(dim, v), *(label.split(", ") if label else [])]) for v in x]
        stuck = np.array([status.get(k) in (claims.ABOVE, claims.BELOW) for k in keys])
        y_obj = np.asarray(point["objective"].values, dtype=float)
        ax1.semilogx(x, y_obj, "o", mfc="none", color=f"C{i}", label=tag)
        panels = [(ax1, y_obj)]
        zero = np.zeros(len(x), dtype=bool)
        if f"norm_{level}" in point:
            y_norm = np.asarray(point[f"norm_{level}"].values, dtype=float)
            zero = np.array([claims.is_zero(v) for v in y_norm])
            ax2.loglog(x, y_norm, "o-", ms=4, color=f"C{i}", label=tag)
            panels.append((ax2, y_norm))
            if zero.any():
                # marked along the bottom edge: a norm of exactly 0 (underflow) has no place on a log axis
                reference(ax2.plot(x[zero], np.full(int(zero.sum()), 0.04), "x", ms=7, mew=1.5, color="k",
                                   transform=ax2.get_xaxis_transform(),
                                   label=None if zero_labelled else _zero_label(level)))
                zero_labelled = True
        for key, style in (("NC2_ETF", "-"), ("NC2_OF", "--")):
            if f"{key}_{level}" in point:
                y = np.asarray(point[f"{key}_{level}"].values, dtype=float)
                y = np.where(zero, np.nan, y)  # undefined at the zero solution (docs/math.md#nc-metrics)
                what = "centred means" if key == "NC2_ETF" else "uncentred means"
                ax3.loglog(x, y, style, marker="o", ms=3, color=f"C{i}",
                           label=f"{key} ({what}) {label}".strip() if i == 0 or len(series) < 4 else None)
                panels.append((ax3, y))
        if stuck.any():
            for ax, y in panels:
                # an annotation of points already plotted, not more data: tagged like a reference curve
                reference(ax.plot(x[stuck], y[stuck], "o", ms=9, mfc="none", mec="r", mew=1.2,
                                  label=None if stuck_labelled else "GD stopped above the closed form (local minimum or not converged)"))
                stuck_labelled = True
    K = int(ds.attrs.get("config", {}).get("K", 0))
    if K:
        reference(ax3.axhline(claims.etf_of_distance(K), color="0.4", lw=0.8, ls=":",
                              label=f"NC2_OF of an exact ETF ({claims.etf_of_distance(K):.4f})"))
    for ax in (ax1, ax2, ax3):
        if threshold is not None:
            reference(ax.axvline(threshold, color="r", ls=":", label=f"{threshold_label}: {threshold:.4g}"))
        ax.set_xlabel(tex(dim))
        readable_log_ticks(ax)
    ax1.set_title("final objective", fontsize="small")
    ax2.set_title(f"final $\\|{level}\\|_F$", fontsize="small")
    ax3.set_title(f"final NC2 of {level} (none where {level} → 0)", fontsize="small")
    handles, labels = [], []
    for ax in (ax1, ax2, ax3):
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize="x-small")
    figures.suptitle(fig, title, fontsize="medium")
    return fig


def _zero_label(level: str) -> str:
    sym = re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", level)
    return f"${sym}\\to0$ ($\\Vert {sym}\\Vert_F \\leq 10^{{{round(math.log10(claims.DEFAULT.zero_norm))}}}$): no NC value drawn"


def zero_note(level: str = "H") -> str:
    """The one sentence that says what a page shows at the zero solution, with its threshold."""
    exponent = round(math.log10(claims.DEFAULT.zero_norm))
    sym = re.sub(r"^([A-Za-z]+)(\d+)$", r"\1_\2", level)  # H2 -> H_2
    return (f"Where the final $\\|{sym}\\|_F \\le 10^{{{exponent}}}$ (the zero-solution threshold of "
            f"{math_link('structure-claims')}) GD has reached ${sym} \\to 0$: the NC metrics are undefined there "
            "(ratios of rounding noise), so the figures mark these points with × on the norm panel and draw no NC value there, and the tables say "
            f"\"{level} → 0\".")


def stationary_rank(base_config: Mapping[str, Any], *, fields: tuple[str, ...], value: float, objective: float,
                    rtol: float = 1e-6) -> tuple[int, float] | None:
    """(r, relative difference) when a GD objective sits on the value of a rank-r stationary point
    (r < K: r singular values at the nonzero root, the rest at 0; docs/math.md#extended-landscape) of
    the closed form at `value` of the swept `fields`; None when it sits on none."""
    info = theory.minimizer(_config_along(base_config, fields)(value))
    levels = list(info.get("rank_levels") or [])[:-1]  # the last (r = K) is the global minimum itself
    if not levels:
        return None
    r = min(range(len(levels)), key=lambda i: abs(objective - levels[i]))
    rel = abs(objective - levels[r]) / abs(levels[r])
    return (r, rel) if rel <= rtol else None


def _by(final, dims):
    """(label, slice) per combination of `dims`; the whole dataset once when there are none."""
    for combo in itertools.product(*(range(final.sizes[d]) for d in dims)):
        sel = dict(zip(dims, combo))
        point = final.isel(sel)
        yield _point_labels(point, sel), point
