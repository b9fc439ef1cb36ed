"""Figures of the network runs (datasets written by `deepcollapse metrics`: dims epoch × layer).

The paper's claim (its §6): collapse is strongest in the deepest features, and within-class
variability (NC1) falls with depth; MSE without classifier bias and CE with bias differ in which
frame the class means approach (orthogonal frame vs simplex ETF).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Rows of the per-epoch figure: (metric keys drawn in the panel, title).
EPOCH_PANELS = (
    (("NC1",), "NC1"),
    (("NC2_ETF", "NC2_OF"), "NC2: ETF (solid), OF (dashed)"),
    (("NC3_OF",), "NC3 (classifier vs uncentered means)"),
)
_STYLE = {"NC2_OF": "--"}


def split_run(name: str) -> tuple[str, str]:
    """'fashion-mnist-mse' -> ('fashion-mnist', 'mse')."""
    dataset, _, loss = name.rpartition("-")
    return dataset, loss


#: Column order of the loss comparison: the paper's MSE first.
LOSS_ORDER = ("mse", "ce")


def group_by_dataset(runs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{dataset: {loss: metrics dataset}}, losses in LOSS_ORDER."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(runs, key=lambda n: (split_run(n)[0], LOSS_ORDER.index(split_run(n)[1]) if split_run(n)[1] in LOSS_ORDER else 99)):
        dataset, loss = split_run(name)
        out.setdefault(dataset, {})[loss] = runs[name]
    return out


def _layer_colors(layers):
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    return {layer: cmap(i / max(1, len(layers) - 1)) for i, layer in enumerate(layers)}


def _layers(ds) -> list[str]:
    return [str(v) for v in ds["layer"].values]


def epoch_figure(by_loss: Mapping[str, Any], *, dataset: str):
    """NC metrics against epoch for every layer (colour = depth), one column per loss."""
    import matplotlib.pyplot as plt

    losses = list(by_loss)
    fig, axes = plt.subplots(
        len(EPOCH_PANELS) + 1, len(losses), figsize=(4.2 * len(losses), 2.6 * (len(EPOCH_PANELS) + 1)),
        squeeze=False, constrained_layout=True, sharex="col",
    )
    for col, loss in enumerate(losses):
        ds = by_loss[loss]
        layers = _layers(ds)
        colors = _layer_colors(layers)
        epochs = np.asarray(ds["epoch"].values, dtype=float)
        for row, (keys, title) in enumerate(EPOCH_PANELS):
            ax = axes[row, col]
            for key in keys:
                if key not in ds:
                    continue
                for layer in layers:
                    y = np.asarray(ds[key].sel(layer=layer).values, dtype=float)
                    if not np.isfinite(y).any():
                        continue
                    ax.plot(epochs, y, _STYLE.get(key, "-"), color=colors[layer], marker=".", ms=3,
                            label=layer if key == keys[0] else None)
            ax.set_yscale("log")
            ax.set_title(f"{dataset}, {loss.upper()}: {title}", fontsize="small")
            if row == 0 and col == len(losses) - 1:
                ax.legend(fontsize="x-small")
        ax = axes[-1, col]
        for name in ("accuracy", "test_accuracy"):
            if name in ds:
                y = ds[name]
                if "layer" in y.dims:
                    y = y.isel(layer=-1)
                ax.plot(epochs, np.asarray(y.values, dtype=float), marker=".", label=name.replace("_", " "))
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{dataset}, {loss.upper()}: accuracy", fontsize="small")
        ax.set_xlabel("epoch")
        ax.legend(fontsize="x-small")
    for ax in axes.ravel():
        ax.set_xscale("symlog", linthresh=1.0)
    return fig


def depth_figure(by_loss: Mapping[str, Any], *, dataset: str):
    """Final-epoch NC1 and NC2 against depth (stage1 … penultimate), MSE vs CE."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.3), constrained_layout=True)
    for i, (loss, ds) in enumerate(by_loss.items()):
        final = ds.isel(epoch=-1)
        layers = _layers(ds)
        x = np.arange(len(layers))
        color = f"C{i}"
        for ax, key, style in ((axes[0], "NC1", "-"), (axes[1], "NC2_ETF", "-"), (axes[1], "NC2_OF", "--"), (axes[2], "NC3_OF", "-")):
            if key in final:
                y = np.asarray(final[key].values, dtype=float)
                ax.plot(x, y, style, color=color, marker="o", label=f"{loss.upper()} {key}")
        for ax in axes:
            ax.set_xticks(x, layers, rotation=30, fontsize="small")
    epoch = int(ds["epoch"].values[-1])
    for ax, title in zip(axes, ("NC1 by depth", "NC2 by depth: ETF (solid), OF (dashed)", "NC3 by depth")):
        ax.set_yscale("log")
        ax.set_title(f"{dataset}, epoch {epoch}: {title}", fontsize="small")
        ax.legend(fontsize="x-small")
    return fig


def final_rows(runs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Final-epoch metrics per run and layer."""
    rows = []
    for name, ds in runs.items():
        final = ds.isel(epoch=-1)
        for layer in _layers(ds):
            row = {"run": name, "epoch": int(final["epoch"]), "layer": layer}
            for key in ("NC1", "NC2_ETF", "NC2_OF", "NC3_OF", "NC4"):
                if key in final:
                    row[key] = float(final[key].sel(layer=layer))
            rows.append(row)
    return rows
