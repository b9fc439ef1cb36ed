"""Figures of the network runs (datasets written by `deepcollapse metrics`: dims epoch × layer).

The paper's claim (its §6): collapse is strongest in the deepest features, and within-class
variability (NC1) falls with depth; MSE without classifier bias and CE with bias differ in which
frame the class means approach (orthogonal frame vs simplex ETF).

Runs of a `networks.variants` entry ('<dataset>-<loss>-<variant>', e.g. a linear head of depth 3)
are grouped as their own "dataset" '<dataset>-<variant>'.  Every run also has the singular values
of its class-mean logits at each checkpoint (`logits_*`, Garrod & Keating 2025, Fig. 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from . import claims, figures
from .figures import readable_log_ticks

#: Rows of the per-epoch figure: (metric keys drawn in the panel, title).
EPOCH_PANELS = (
    (("NC1",), "NC1"),
    (("NC2_ETF", "NC2_OF"), "NC2: ETF (solid), OF (dashed)"),
    (("NC3_ETF", "NC3_OF"), "NC3: centred (solid), uncentred (dashed) means"),
)
_STYLE = {"NC2_OF": "--", "NC3_OF": "--"}


#: Column order of the loss comparison: the paper's MSE first.
LOSS_ORDER = ("mse", "ce")


def run_parts(name: str) -> tuple[str, str, str]:
    """'fashion-mnist-mse' -> ('fashion-mnist', 'mse', ''); 'mnist-ce-head3' -> ('mnist', 'ce', 'head3'):
    the loss is the last dash-separated part that names one (a dataset's name may hold dashes)."""
    parts = name.split("-")
    at = max((i for i, part in enumerate(parts) if part in LOSS_ORDER), default=len(parts) - 1)
    return "-".join(parts[:at]), parts[at], "-".join(parts[at + 1:])


def split_run(name: str) -> tuple[str, str]:
    """'fashion-mnist-mse' -> ('fashion-mnist', 'mse'); a variant's run 'mnist-ce-head3' -> ('mnist-head3', 'ce')."""
    dataset, loss, variant = run_parts(name)
    return (f"{dataset}-{variant}" if variant else dataset), loss


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


def duplicate_layers(ds) -> dict[str, str]:
    """{layer: later layer} for layers whose every metric equals a later one's at every epoch
    (ResNet18's penultimate features are the pooled stage-4 output): drawn once, under the later
    name (the classifier's layer, which also has NC3), labelled with both."""
    keys = [k for k in ("NC1", "NC2_ETF", "NC2_OF") if k in ds]
    layers = _layers(ds)
    values = lambda k, layer: np.asarray(ds[k].sel(layer=layer).values, dtype=float)
    out: dict[str, str] = {}
    for i, layer in enumerate(layers):
        for later in layers[i + 1:]:
            if keys and all(np.allclose(values(k, layer), values(k, later), rtol=1e-9, atol=0, equal_nan=True) for k in keys):
                out[layer] = later
                break
    return out


def _drawn_layers(ds) -> tuple[list[str], dict[str, str]]:
    dup = duplicate_layers(ds)
    return [layer for layer in _layers(ds) if layer not in dup], dup


def _layer_label(layer: str, dup: Mapping[str, str]) -> str:
    same = [d for d, kept in dup.items() if kept == layer]
    return f"{' = '.join(same)} = {layer}" if same else layer


def _epoch_axis(ax, epochs) -> None:
    """A linear epoch axis with every checkpoint inside it (no marker clipped at the edge)."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(np.min(epochs)), float(np.max(epochs))
    pad = 0.03 * max(hi - lo, 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))


def epoch_figure(by_loss: Mapping[str, Any], *, dataset: str, title_note: str = ""):
    """NC metrics against epoch for every layer (colour = depth), one column per loss; layers with
    identical metrics (stage4 = penultimate) drawn once and labelled with both names."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    losses = list(by_loss)
    fig, axes = plt.subplots(
        len(EPOCH_PANELS) + 1, len(losses), figsize=(5.0 * len(losses), 2.6 * (len(EPOCH_PANELS) + 1) + 0.8),
        squeeze=False, constrained_layout=True, sharex="col",
    )
    handles = {}
    for col, loss in enumerate(losses):
        ds = by_loss[loss]
        layers, dup = _drawn_layers(ds)
        colors = _layer_colors(_layers(ds))
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
                    ax.plot(epochs, y, _STYLE.get(key, "-"), color=colors[layer], marker=".", ms=4,
                            label=f"{key} {_layer_label(layer, dup)}")
                    handles.setdefault(_layer_label(layer, dup), Line2D([], [], color=colors[layer], marker=".", label=_layer_label(layer, dup)))
            ax.set_yscale("log")
            ax.set_title(f"{loss.upper()}: {title}", fontsize="small")  # the dataset is in the figure title
            _epoch_axis(ax, epochs)
            readable_log_ticks(ax)
        ax = axes[-1, col]
        for name, color in (("accuracy", "0.2"), ("test_accuracy", "C3")):
            if name in ds:
                y = ds[name]
                if "layer" in y.dims:
                    y = y.isel(layer=-1)
                ax.plot(epochs, np.asarray(y.values, dtype=float), marker=".", color=color, label=name.replace("_", " "))
                # named in the figure's legend below the panels, not over the data
                handles.setdefault(name, Line2D([], [], color=color, marker=".", label=name.replace("_", " ")))
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{loss.upper()}: accuracy", fontsize="small")
        ax.set_xlabel("epoch")
        _epoch_axis(ax, epochs)
    styles = [Line2D([], [], color="k", ls="-", label=r"NC2$_{ETF}$ (centred means)"),
              Line2D([], [], color="k", ls="--", label=r"NC2$_{OF}$ (uncentred means)")]
    fig.legend(handles=list(handles.values()) + styles, loc="outside lower center", ncol=4, fontsize="x-small")
    if title_note:
        figures.suptitle(fig, title_note, fontsize="small")
    return fig


def depth_figure(by_loss: Mapping[str, Any], *, dataset: str, title_note: str = ""):
    """Final-epoch NC1 and NC2 against depth (stage1 … penultimate), MSE vs CE.  NC3 needs the
    classifier, so it exists for the last layer only: it is in the table and the text, not drawn."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for i, (loss, ds) in enumerate(by_loss.items()):
        final = ds.isel(epoch=-1)
        layers, dup = _drawn_layers(ds)
        x = np.arange(len(layers))
        color = f"C{i}"
        for ax, key, style in ((axes[0], "NC1", "-"), (axes[1], "NC2_ETF", "-"), (axes[1], "NC2_OF", "--")):
            if key in final:
                y = np.asarray(final[key].sel(layer=layers).values, dtype=float)
                ax.plot(x, y, style, color=color, marker="o", label=f"{loss.upper()} {key}")
        for ax in axes:
            ax.set_xticks(x, [_layer_label(layer, dup) for layer in layers], rotation=30, fontsize="small")
    epoch = int(ds["epoch"].values[-1])
    for ax, title in zip(axes, ("NC1 by depth", "NC2 by depth: ETF (solid), OF (dashed)")):
        ax.set_yscale("log")
        ax.set_title(f"{dataset}, epoch {epoch}: {title}", fontsize="small")
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        readable_log_ticks(ax)
    if title_note:
        figures.suptitle(fig, title_note, fontsize="small")
    return fig


#: NC1 of two consecutive stages within this fraction of each other is a tie: no fall with depth.
DEPTH_TIE = 0.1
#: What the UFM predicts for the last layer's class means per loss (docs/math.md): MSE without a
#: classifier bias, an orthogonal frame (Theorem 3.1); CE with a bias, a simplex ETF.
PREDICTED = {"mse": "orthogonal frame", "ce": "simplex ETF"}
#: The NC3 variant of each predicted structure: W against the uncentred means (OF) or the centred ones (ETF).
NC3_OF_FRAME = {"orthogonal frame": "NC3_OF", "simplex ETF": "NC3_ETF"}


def run_sentences(runs: Mapping[str, Any]) -> list[str]:
    """Per run, what its last checkpoint shows, built from the data (no claim the data do not make)."""
    out = []
    for name, ds in runs.items():
        _, loss = split_run(name)
        final = ds.isel(epoch=-1)
        layers, dup = _drawn_layers(ds)
        last = layers[-1]
        K = int(ds.attrs.get("num_classes", 0)) or 10
        get = lambda key, layer=last: float(final[key].sel(layer=layer)) if key in final else float("nan")
        frame = claims.frame_of(get("NC2_ETF"), get("NC2_OF"), K=K)
        collapsed = claims.collapsed(get("NC1"))
        text = (f"**{name}**, epoch {int(final['epoch'])}, layer {_layer_label(last, dup)}: "
                f"{'collapsed' if collapsed else 'not collapsed'} (NC1 = {claims.fmt(get('NC1'))}); class means "
                + {"orthogonal frame": "an orthogonal frame", "simplex ETF": "a simplex ETF"}.get(frame, "neither an ETF nor an OF")
                + f" (NC2_ETF = {claims.fmt(get('NC2_ETF'))}, NC2_OF = {claims.fmt(get('NC2_OF'))}; an exact ETF has "
                f"NC2_OF = {claims.etf_of_distance(K):.3f})")
        expected = PREDICTED.get(loss)
        nc3_keys = [k for k in ("NC3_OF", "NC3_ETF") if k in final and np.isfinite(get(k))]
        if expected in NC3_OF_FRAME and NC3_OF_FRAME[expected] in nc3_keys:
            nc3_keys.remove(NC3_OF_FRAME[expected])
            nc3_keys.insert(0, NC3_OF_FRAME[expected])  # the variant of the predicted structure first
        if nc3_keys:
            text += "; " + ", ".join(f"{k} = {claims.fmt(get(k))}" for k in nc3_keys)
        if expected:
            article = "an" if expected[0] in "aeiou" else "a"
            text += (f". The UFM predicts {article} {expected} for {loss.upper()}: " +
                     ("the data show it." if frame == expected else "the data do not show it at this checkpoint."))
        gm = get("GM_RATIO")
        if expected == "orthogonal frame" and frame != expected and np.isfinite(gm):
            # NC2_OF mixes two things: the centred geometry (NC2_ETF) and the global mean's length
            # (GM_RATIO = 1 at an OF); say which of the two keeps it from an OF
            text += (f" The global mean's squared length is GM_RATIO = {claims.fmt(gm)} times an OF's (an OF has 1)"
                     + (", so even a perfect ETF of centred means would not be an OF at this global mean."
                        if abs(gm - 1) > 0.1 else "; NC2_OF then measures the centred geometry (NC2_ETF) and the global mean's direction, not its length."))
        nc1 = [get("NC1", layer) for layer in layers]
        if len(nc1) > 1 and all(np.isfinite(nc1)):
            # a fall is a fall by more than DEPTH_TIE: two stages within it are a tie, not an order
            falls = all(b < a * (1 - DEPTH_TIE) for a, b in zip(nc1, nc1[1:]))
            text += (f" NC1 falls with depth at every stage (each by more than {100 * DEPTH_TIE:g}%)." if falls else
                     f" NC1 does not fall with depth at every stage by more than {100 * DEPTH_TIE:g}% ("
                     + ", ".join(f"{l}: {claims.fmt(v)}" for l, v in zip(layers, nc1)) + ").")
        if dup:
            text += " " + "; ".join(f"{d} has the same metrics as {k} (the same features): drawn once, as {d} = {k}" for d, k in dup.items()) + "."
        out.append(text)
    return out


def final_rows(runs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Final-epoch metrics per run and layer."""
    rows = []
    for name, ds in runs.items():
        final = ds.isel(epoch=-1)
        for layer in _layers(ds):
            row = {"run": name, "epoch": int(final["epoch"]), "layer": layer}
            for key in ("NC1", "NC2_ETF", "NC2_OF", "GM_RATIO", "NC3_ETF", "NC3_OF", "NC4"):
                if key in final:
                    row[key] = float(final[key].sel(layer=layer))
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------- class-mean logits
#: Garrod & Keating (2025, Fig. 3) count the singular values of the logits above this (absolute) value.
GK25_ABSOLUTE = 1e-6


def logits_rows(runs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per run and checkpoint: the numerical rank of the class-mean logits (relative threshold of
    the metrics dataset) and, for comparison with GK25, how many singular values exceed 1e-6."""
    rows = []
    for name, ds in runs.items():
        if "logits_rank" not in ds:
            continue
        head = (ds.attrs.get("features") or {}).get("head_depth", 1)
        for e, epoch in enumerate(ds["epoch"].values):
            sv = np.asarray(ds["logits_singular_values"].values[e], dtype=float)
            rows.append({"run": name, "head_depth": int(head), "epoch": int(epoch), "rank": int(ds["logits_rank"].values[e]),
                         "above 1e-6": int(np.sum(sv > GK25_ABSOLUTE)), "largest": float(sv[0]), "smallest": float(sv[-1])})
    return rows


def logits_sentences(runs: Mapping[str, Any]) -> list[str]:
    """Per run: the class-mean logits' rank at the last checkpoint, and the checkpoints where it changed."""
    out = []
    for name, ds in runs.items():
        if "logits_rank" not in ds:
            continue
        K = int(ds.attrs.get("num_classes", ds.sizes.get("logits_sv", 0)))
        rtol = float(ds.attrs.get("logits_rank_rtol", float("nan")))
        head = int((ds.attrs.get("features") or {}).get("head_depth", 1))
        epochs, ranks = [int(e) for e in ds["epoch"].values], [int(r) for r in ds["logits_rank"].values]
        changes = [f"{r} from epoch {e}" for i, (e, r) in enumerate(zip(epochs, ranks)) if i == 0 or r != ranks[i - 1]]
        sv = np.asarray(ds["logits_singular_values"].values[-1], dtype=float)
        out.append(f"**{name}** ({'a linear head of depth ' + str(head) if head > 1 else 'the plain classifier'}): the class-mean "
                   f"logits have rank {ranks[-1]} of {K} at epoch {epochs[-1]} (singular values above {rtol:g} × the largest; "
                   f"{int(np.sum(sv > GK25_ABSOLUTE))} above an absolute {GK25_ABSOLUTE:g}); rank " + ", ".join(changes) + ".")
    return out


def logits_figure(runs: Mapping[str, Any], *, title_note: str = ""):
    """Per run: the singular values of the class-mean logits relative to the largest, at every
    checkpoint (log scale), the rank threshold dashed; the rank at each checkpoint in the title's line."""
    import matplotlib.pyplot as plt

    names = [n for n, ds in runs.items() if "logits_rank" in ds]
    cols = min(3, max(1, len(names)))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows + 0.6), squeeze=False, constrained_layout=True)
    for ax, name in zip(axes.flat, names):
        ds = runs[name]
        epochs = np.asarray(ds["epoch"].values, dtype=float)
        sv = np.asarray(ds["logits_singular_values"].values, dtype=float)
        relative = sv / np.where(sv[:, :1] > 0, sv[:, :1], np.nan)
        colors = _layer_colors(list(range(sv.shape[1])))
        for i in range(1, sv.shape[1]):  # the first is 1 by construction
            ax.plot(epochs, np.maximum(relative[:, i], 1e-17), color=colors[i], marker=".", ms=3, lw=1, label=f"σ{i + 1}/σ1")
        ax.axhline(float(ds.attrs.get("logits_rank_rtol", 1e-6)), color="k", ls="--", lw=0.8, label="rank threshold")
        ranks = [int(r) for r in ds["logits_rank"].values]
        ax.set_yscale("log")
        ax.set_title(f"{name}: rank {ranks[0]} → {ranks[-1]}", fontsize="small")
        ax.set_xlabel("epoch")
        _epoch_axis(ax, epochs)
        readable_log_ticks(ax)
    for ax in list(axes.flat)[len(names):]:
        ax.set_visible(False)
    if names:
        axes.flat[0].set_ylabel("σ_i / σ_1 of the class-mean logits")
        axes.flat[0].legend(fontsize="xx-small", ncol=2, loc="lower left")
    if title_note:
        figures.suptitle(fig, title_note, fontsize="small")
    return fig
