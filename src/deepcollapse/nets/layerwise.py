"""NC metrics of every layer at every checkpoint, from a features store (`deepcollapse metrics`).

Output (an xarray Dataset, written as Zarr v3)::

    NC1, NC2_ETF, NC2_OF, NC2_W_ETF, NC2_W_OF, NC3_ETF, NC3_OF, NC4   (epoch, layer) float64
    loss, accuracy [, test_loss, test_accuracy]                        (epoch,)       float64
    logits_singular_values                                             (epoch, logits_sv) float64
    logits_rank                                                        (epoch,)       int64
    coords: epoch, layer (the store's `layers`: "stage1".."stage3", "penultimate" — stage4's pooled
            output, stored once — [, "stage1_map".."stage4_map"]), logits_sv (0..K-1)
    attrs: split, num_classes, classifier_layer, logits_rank_rtol, logits_rank_rule, features (the
           features store's attrs), provenance

The classifier keys (NC2_W_*, NC3_*, NC4) are defined only for the layer the classifier acts on
("penultimate"); elsewhere they are NaN.  Layers `stageN_map` are the unpooled maps of the
balanced subset stored with ``--maps-per-class``: NC over that subset, d = C·H·W, exact (no d×d).

Every number comes from `deepcollapse.metrics.Accumulator` fed in row blocks read from the store,
so memory is O(block + d·K) whatever the store's size; a second pass over the store is made only
where it is needed (the classifier layer for NC4, and layers with d > 4096).

The class-mean logits (K x K, row k the mean logit vector of class k) are the classifier applied to
the classifier layer's class means, exact because the head is affine (`metrics.core.
logits_singular_values`; the store's W is the head's whole linear map, W_L ... W_1 for a linear
head of depth L); their singular values and numerical rank (those above `LOGITS_RANK_RTOL` x the
largest, Garrod & Keating 2025, Fig. 3) are kept at every checkpoint, for every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..devices import cpu_threads
from ..errors import InputError
from ..metrics import KEYS, Accumulator, blocks, core
from ..provenance import collect
from ..store import open_dataset, write_dataset


def _layers(ds, split: str) -> list[tuple[str, str]]:
    """(layer name, variable name) pairs present in the store for `split`."""
    prefix = "" if split == "train" else "test_"
    out = []
    for name in ds.attrs.get("layers", []):
        if f"{prefix}{name}" in ds:
            out.append((name, f"{prefix}{name}"))
    if split == "train":  # unpooled maps keep every stage's name, also one stored pooled under an alias
        names = dict.fromkeys([*ds.attrs.get("layers", []), *ds.attrs.get("aliases", {})])
        out += [(f"{name}_map", f"{name}_map") for name in names if f"{name}_map" in ds]
    return out


def _layer_result(var, e: int, labels: np.ndarray, *, K: int, W: Any, b: Any) -> tuple[dict[str, float], np.ndarray | None]:
    """The layer's metrics, and with a classifier the singular values of its class-mean logits."""
    n = var.shape[1]
    d = int(np.prod(var.shape[2:]))

    def read(start: int, stop: int) -> np.ndarray:
        return np.asarray(var[e, start:stop].values).reshape(stop - start, d)

    acc = Accumulator(K, d)
    result = blocks.measure(acc, read, labels, n, W=W, b=b)
    if W is None:
        return result, None
    import torch

    means = acc.class_means()
    Wt = torch.as_tensor(W, dtype=torch.float64, device=means.device)
    bt = None if b is None else torch.as_tensor(b, dtype=torch.float64, device=means.device)
    sv = core.logits_singular_values(means[None], Wt[None], None if bt is None else bt[None])[0]
    return result, sv.cpu().numpy()


def _check_shapes(ds, features: Path, layers, labels, map_labels, *, K: int, epochs: int, classifier_layer: str, bias: bool) -> None:
    """The store's arrays agree with each other (one InputError naming the store and the array otherwise)."""
    for name, y in (("label", labels), ("map_label", map_labels)):
        if y is not None and y.ndim != 1:
            raise InputError(f"{features}: {name} must be one label per sample, got shape {y.shape}")
    for layer, var_name in layers:
        var = ds[var_name]
        y, y_name = (map_labels, "map_label") if layer.endswith("_map") else (labels, "label")
        if var.ndim < 3 or var.shape[0] != epochs:
            raise InputError(f"{features}: {var_name} must have dims (epoch, sample, ...) with {epochs} epochs, got shape {var.shape}")
        if y is None or var.shape[1] != y.shape[0]:
            have = "no" if y is None else f"{y.shape[0]}"
            raise InputError(f"{features}: {var_name} has {var.shape[1]} samples but {y_name} has {have} labels")
    classifier = dict(layers).get(classifier_layer)
    if classifier is None:
        return
    d = int(np.prod(ds[classifier].shape[2:]))
    if ds["W"].shape != (epochs, K, d):
        raise InputError(
            f"{features}: W has shape {ds['W'].shape}, expected (epoch, class, feature) = ({epochs}, {K}, {d}) "
            f"to act on layer {classifier_layer}"
        )
    if bias and ds["b"].shape != (epochs, K):
        raise InputError(f"{features}: b has shape {ds['b'].shape}, expected (epoch, class) = ({epochs}, {K})")


def layer_metrics(
    features: str | Path, out: str | Path, *, split: str = "train", threads: int | None = None, progress: bool | None = None
) -> Path:
    """Compute the metrics dataset of a features store (see the module docstring); returns `out`.

    `threads`: torch's CPU threads while computing (None: torch's default)."""
    import torch

    if threads is not None and threads < 0:
        raise InputError(f"threads must be >= 0, got {threads}")
    with cpu_threads(threads or None, device=torch.device("cpu")):
        return _layer_metrics(Path(features), Path(out), split=split, threads=torch.get_num_threads(), progress=progress)


def _layer_metrics(features: Path, out: Path, *, split: str, threads: int, progress: bool | None) -> Path:
    import xarray as xr
    from tqdm.auto import tqdm

    ds = open_dataset(features)
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    required = ["label", "W", "b", "loss", "accuracy"] + (["test_label"] if split == "test" else [])
    absent = [v for v in required if v not in ds]
    if absent or "num_classes" not in ds.attrs:
        what = absent[0] if absent else "attribute num_classes"
        hint = " (extract with --test)" if split == "test" and absent else ""
        raise InputError(f"{features}: not a features store of `deepcollapse features` (missing {what}){hint}")
    K = int(ds.attrs["num_classes"])
    classifier_layer = ds.attrs.get("classifier_layer", "penultimate")
    bias = bool(ds.attrs.get("classifier_bias", True))
    layers = _layers(ds, split)
    if not layers:
        raise InputError(f"{features}: no layer features for split {split!r}")
    labels = np.asarray(ds["label" if split == "train" else "test_label"].values)
    map_labels = np.asarray(ds["map_label"].values) if "map_label" in ds else None

    epochs = np.asarray(ds["epoch"].values)
    _check_shapes(ds, features, layers, labels, map_labels, K=K, epochs=len(epochs), classifier_layer=classifier_layer, bias=bias)
    values = {key: np.full((len(epochs), len(layers)), np.nan) for key in KEYS}
    logits_sv = np.full((len(epochs), K), np.nan)
    with tqdm(total=len(epochs) * len(layers), desc=f"metrics {features.name}", unit="layer", disable=None if progress is None else not progress) as bar:
        for e in range(len(epochs)):
            W = np.asarray(ds["W"][e].values, dtype=np.float64)
            b = np.asarray(ds["b"][e].values, dtype=np.float64) if bias else None
            for j, (layer, var_name) in enumerate(layers):
                classifier = layer == classifier_layer
                y = map_labels if layer.endswith("_map") else labels
                try:
                    result, sv = _layer_result(ds[var_name], e, y, K=K, W=W if classifier else None, b=b if classifier else None)
                except InputError as exc:  # name the store, the layer and the checkpoint, not only the array
                    raise InputError(f"{features}: layer {layer} at epoch {int(epochs[e])}: {exc}") from None
                for key, value in result.items():
                    values[key][e, j] = value
                if sv is not None:
                    logits_sv[e] = sv
                bar.update(1)

    variables: dict[str, Any] = {key: (("epoch", "layer"), arr) for key, arr in values.items()}
    if classifier_layer in dict(layers):
        import torch

        variables["logits_singular_values"] = (("epoch", "logits_sv"), logits_sv)
        variables["logits_rank"] = (("epoch",), core.numerical_rank(torch.from_numpy(logits_sv)).numpy().astype(np.int64))
    for name in ("loss", "accuracy", "test_loss", "test_accuracy"):
        if name in ds:
            variables[name] = (("epoch",), np.asarray(ds[name].values, dtype=np.float64))
    coords = {"epoch": epochs, "layer": np.array([name for name, _ in layers], dtype=object)}
    if "logits_rank" in variables:
        coords["logits_sv"] = np.arange(K)
    features_attrs = {k: v for k, v in ds.attrs.items() if k != "provenance"}
    result = xr.Dataset(
        variables, coords=coords,
        attrs={"split": split, "num_classes": K, "classifier_layer": classifier_layer, "features": features_attrs, "features_path": str(features),
               "logits_rank_rtol": core.LOGITS_RANK_RTOL,
               "logits_rank_rule": "singular values of the class-mean logits above logits_rank_rtol x the largest (relative)"},
    )
    params = {"features": str(features), "split": split, "threads": threads}
    return write_dataset(result, out, kind="metrics", provenance=collect(params=params, seed=(features_attrs.get("run") or {}).get("config", {}).get("seed")))
