"""The comparison page: each network run beside the ReLU and linear extended UFMs (its §6 claim).

Loads the stores into `deepcollapse.compare.LevelTrajectories`, and draws and tabulates what
`deepcollapse.compare` measures; no criterion or threshold is defined here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import figures
from ..compare import DEFAULT_PAIRS, RATE_TIE, Agreement, LevelTrajectories, Verdict, common_grid, compare, faster, on_grid, structure, verdict
from ..errors import InputError
from ..frames import etf_of_distance

#: The network's distinct levels, shallow to deep.  ResNet18's stage4 is left out: its pooled
#: output *is* the penultimate features (see `deepcollapse.nets.features`).
NETWORK_LEVELS = ("stage1", "stage2", "stage3", "penultimate")
#: Metrics drawn and compared as trajectories.
KEYS = ("NC1", "NC2_OF", "NC2_ETF")
RATE_TIE_PERCENT = f"{100 * RATE_TIE:g}"


def network_trajectories(ds, name: str) -> LevelTrajectories:
    """A metrics dataset of `deepcollapse metrics` (dims epoch × layer) as trajectories."""
    layers = [str(v) for v in ds["layer"].values]
    missing = [level for level in NETWORK_LEVELS if level not in layers]
    if missing:
        raise InputError(f"{name}: the metrics store has no layer {missing[0]!r}")
    sel = ds.sel(layer=list(NETWORK_LEVELS))
    values = {key: np.asarray(sel[key].transpose("epoch", "layer").values, dtype=np.float64) for key in KEYS + ("NC3_OF", "NC3_ETF")}
    K = int(ds.attrs.get("num_classes", 0))
    if K < 2:
        raise InputError(f"{name}: the metrics store does not record its number of classes (attribute num_classes)")
    return LevelTrajectories(name, np.asarray(ds["epoch"].values, dtype=np.float64), NETWORK_LEVELS, values, K=K)


def ufm_trajectories(ds, name: str) -> LevelTrajectories:
    """A UFM store of `deepcollapse ufm` (one experiment, dim iteration) as trajectories."""
    levels = tuple(ds.attrs.get("levels", ()))
    extra = [d for d in ds[f"NC1_{levels[0]}"].dims if d != "iteration"] if levels else []
    if not levels or extra:
        raise InputError(f"{name}: not a single-experiment UFM store with feature levels (a sweep cannot be compared)")
    values = {key: np.stack([np.asarray(ds[f"{key}_{lv}"].values, dtype=np.float64) for lv in levels], axis=1) for key in KEYS}
    if all(f"norm_{lv}" in ds for lv in levels):  # the zero solution is named from the norm, as on every page
        values["norm"] = np.stack([np.asarray(ds[f"norm_{lv}"].values, dtype=np.float64) for lv in levels], axis=1)
    final = ds.isel(iteration=-1)
    dead = {lv: int(np.asarray(final[f"dead_samples_{lv}"].values).sum()) for lv in levels if f"dead_samples_{lv}" in final}
    K = int(dict(ds.attrs.get("config", {})).get("K", 0))
    return LevelTrajectories(name, np.asarray(ds["iteration"].values, dtype=np.float64), levels, values, K=K, dead=dead)


def compare_run(network: LevelTrajectories, references: Mapping[str, LevelTrajectories]) -> tuple[dict[str, Agreement], Verdict]:
    """The network against each reference ({"ReLU": ..., "linear": ...}) and the verdict."""
    agreements = {label: compare(network, ref, network_levels=NETWORK_LEVELS) for label, ref in references.items()}
    return agreements, verdict(agreements)


def criteria_rows(run: str, agreements: Mapping[str, Agreement], result: Verdict) -> list[dict[str, Any]]:
    """One row per criterion: each reference's value, the network's, and which reference is closer."""
    rows = []
    labels = list(agreements)
    first = agreements[labels[0]]
    rows.append({
        "run": run, "criterion": "ordering (Kendall tau of time-averaged log NC1 vs depth)",
        "network": first.ordering_network, **{label: a.ordering_reference for label, a in agreements.items()},
        "closer": result.per_criterion["ordering"],
    })
    rows.append({
        "run": run, "criterion": "final structure per matched level (" + ", ".join(f"{n}~{u}" for n, u in DEFAULT_PAIRS) + ")",
        "network": " / ".join(s[2] for s in first.structures),
        **{label: " / ".join(s[3] for s in a.structures) for label, a in agreements.items()},
        "closer": result.per_criterion["structure"],
    })
    rows.append({
        "run": run, "criterion": f"NC1 collapse rate per matched level (decades per run; the faster level, or a tie within {RATE_TIE_PERCENT}%)",
        "network": _rates([s[2] for s in first.rates], [s[0] for s in first.rates]),
        **{label: _rates([s[3] for s in a.rates], [s[1] for s in a.rates]) for label, a in agreements.items()},
        "closer": result.per_criterion["rate"],
    })
    rows.append({
        "run": run, "criterion": "mean Spearman rho of log-metric curves (" + ", ".join(KEYS) + ")",
        "network": 1.0, **{label: a.mean_similarity for label, a in agreements.items()},
        "closer": result.per_criterion["similarity"],
    })
    return rows


def _rates(rates: list[float], levels: list[str]) -> str:
    """'-15.8 / -15.7 (same rate)' or '-15.8 / -3.2 (penultimate faster)'."""
    values = " / ".join(f"{r:.3g}" for r in rates)
    if len(rates) < 2 or not all(np.isfinite(rates)):
        return values
    fastest = faster(rates)
    return values + (" (same rate)" if fastest is None else f" ({levels[fastest]} faster)")


def reference_notes(network: LevelTrajectories, references: Mapping[str, LevelTrajectories]) -> list[str]:
    """What sets a reference apart from the network beyond its model: another number of classes
    (NC2 distances then sit on another scale: an ETF's distance to an OF depends on K), or training
    samples dead at its final iterate (docs/math.md#relu-dead-sample)."""
    notes = []
    for label, ref in references.items():
        if ref.K and network.K and ref.K != network.K:
            notes.append(f"The {label} reference ({ref.name}) has K = {ref.K} classes, the network K = {network.K}: "
                         f"its NC2 values are on another scale (an exact simplex ETF has NC2_OF = {etf_of_distance(ref.K):.4f} "
                         f"at K = {ref.K}, {etf_of_distance(network.K):.4f} at K = {network.K}), so the comparison is of shapes "
                         "and orderings, not of values.")
        dead = {lv: n for lv, n in ref.dead.items() if n > 0}
        if dead:
            notes.append(f"The {label} reference ({ref.name}) ends with " + ", ".join(f"{n} dead training sample(s) at {lv}" for lv, n in dead.items())
                         + " (every pre-activation ≤ 0: GD sits on a dead-sample plateau, not at the model's minimum), "
                         "so its final values are not those of the ReLU model's global minimum.")
    return notes


def similarity_rows(run: str, agreements: Mapping[str, Agreement]) -> list[dict[str, Any]]:
    return [
        {"run": run, "reference": label, "network level": n, "UFM level": u, "metric": key, "spearman": rho}
        for label, a in agreements.items()
        for n, u, key, rho in a.similarity
    ]


def final_structure_rows(name: str, model: LevelTrajectories) -> list[dict[str, Any]]:
    """Final NC1, NC2 and structure label of every level of one model."""
    return [
        {
            "model": name, "level": level, "NC1": model.final("NC1", level), "NC2_OF": model.final("NC2_OF", level),
            "NC2_ETF": model.final("NC2_ETF", level),
            "structure": structure(model, level),
        }
        for level in model.levels
    ]


def trajectory_figure(network: LevelTrajectories, references: Mapping[str, LevelTrajectories], *, title: str):
    """Rows: the network then each reference; columns: KEYS; x: fraction of training (log), common to all."""
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    models = [network, *references.values()]
    labels = ["network", *references]
    grid = common_grid(*models, points=96)
    fig, axes = plt.subplots(len(models), len(KEYS), figsize=(4.0 * len(KEYS) + 1.5, 2.6 * len(models)), sharex=True, squeeze=False,
                             constrained_layout=True)
    cmap = mpl.colormaps["viridis"]
    for row, (label, model) in enumerate(zip(labels, models)):
        for col, key in enumerate(KEYS):
            ax = axes[row, col]
            for i, level in enumerate(model.levels):
                color = cmap(i / max(1, len(model.levels) - 1))
                frac, y = model.fraction, model.curve(key, level)
                ok = frac >= grid[0]
                ax.plot(frac[ok], np.maximum(y[ok], 1e-12), "o", ms=2.5, color=color)
                ax.plot(grid, 10 ** on_grid(model, key, level, grid), "-", lw=1.2, color=color, label=level)
            ax.set_xscale("log")
            ax.set_yscale("log")
            if row == 0:
                ax.set_title(key)
            if col == 0:
                ax.set_ylabel(f"{label}\n({model.name})")
            if col == len(KEYS) - 1:  # one legend per row (each model has its own levels), beside the row
                ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
            if row == len(models) - 1:
                ax.set_xlabel("fraction of training")
    figures.suptitle(fig, title)
    return fig
