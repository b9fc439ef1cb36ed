"""The comparison page: each network run beside the ReLU and linear extended UFMs (its §6 claim).

Loads the stores into `deepcollapse.compare.LevelTrajectories`, and draws and tabulates what
`deepcollapse.compare` measures; no criterion or threshold is defined here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import figures
from ..compare import DEFAULT_PAIRS, Agreement, LevelTrajectories, Verdict, common_grid, compare, on_grid, structure, verdict
from ..errors import InputError

#: The network's distinct levels, shallow to deep.  ResNet18's stage4 is left out: its pooled
#: output *is* the penultimate features (see `deepcollapse.nets.features`).
NETWORK_LEVELS = ("stage1", "stage2", "stage3", "penultimate")
#: Metrics drawn and compared as trajectories.
KEYS = ("NC1", "NC2_OF", "NC2_ETF")


def network_trajectories(ds, name: str) -> LevelTrajectories:
    """A metrics dataset of `deepcollapse metrics` (dims epoch × layer) as trajectories."""
    layers = [str(v) for v in ds["layer"].values]
    missing = [level for level in NETWORK_LEVELS if level not in layers]
    if missing:
        raise InputError(f"{name}: the metrics store has no layer {missing[0]!r}")
    sel = ds.sel(layer=list(NETWORK_LEVELS))
    values = {key: np.asarray(sel[key].transpose("epoch", "layer").values, dtype=np.float64) for key in KEYS + ("NC3_OF", "NC3_ETF")}
    return LevelTrajectories(name, np.asarray(ds["epoch"].values, dtype=np.float64), NETWORK_LEVELS, values)


def ufm_trajectories(ds, name: str) -> LevelTrajectories:
    """A UFM store of `deepcollapse ufm` (one experiment, dim iteration) as trajectories."""
    levels = tuple(ds.attrs.get("levels", ()))
    extra = [d for d in ds[f"NC1_{levels[0]}"].dims if d != "iteration"] if levels else []
    if not levels or extra:
        raise InputError(f"{name}: not a single-experiment UFM store with feature levels (a sweep cannot be compared)")
    values = {key: np.stack([np.asarray(ds[f"{key}_{lv}"].values, dtype=np.float64) for lv in levels], axis=1) for key in KEYS}
    return LevelTrajectories(name, np.asarray(ds["iteration"].values, dtype=np.float64), levels, values)


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
        "run": run, "criterion": "NC1 collapse rate per matched level (decades per run)",
        "network": " / ".join(f"{s[2]:.3g}" for s in first.rates),
        **{label: " / ".join(f"{s[3]:.3g}" for s in a.rates) for label, a in agreements.items()},
        "closer": result.per_criterion["rate"],
    })
    rows.append({
        "run": run, "criterion": "mean Spearman rho of log-metric curves (" + ", ".join(KEYS) + ")",
        "network": 1.0, **{label: a.mean_similarity for label, a in agreements.items()},
        "closer": result.per_criterion["similarity"],
    })
    return rows


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
            "structure": structure(model.final("NC2_OF", level), model.final("NC2_ETF", level)),
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
    fig, axes = plt.subplots(len(models), len(KEYS), figsize=(4.0 * len(KEYS), 2.6 * len(models)), sharex=True, squeeze=False)
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
            if col == len(KEYS) - 1:
                ax.legend(fontsize=7, loc="lower left")
            if row == len(models) - 1:
                ax.set_xlabel("fraction of training")
    figures.suptitle(fig, title)
    fig.tight_layout()
    return fig
