"""Per-checkpoint features of every ResNet18 stage into one Zarr v3 store (`deepcollapse features`).

Store layout (readable by `xarray.open_zarr`; one store per training run)::

    stage1..stage3   (epoch, sample, stageN_channel)    float32  stage output, global-average-pooled
    penultimate      (epoch, sample, penultimate_dim)   float32  the last stage's (stage4's) output,
                                                                 pooled: what the classifier sees
    W                (epoch, class, penultimate_dim)    float32  classifier weights: the head's whole
                                                                 linear map, W_L ... W_1 for a linear
                                                                 head of depth L (formed in float64)
    b                (epoch, class)                     float32  classifier bias (zeros without one)
    loss, accuracy   (epoch,)                           float64  eval-mode loss (the training loss
                                                                 without weight decay) and accuracy
    label            (sample,)                          int64
    sample_index     (sample,)                          int64    row in the dataset's training split
  with --test, the same for the test split: test_stage1.., test_penultimate, test_loss,
  test_accuracy over (epoch, test_sample), test_label, test_sample_index (with test_per_class, a
  balanced subset of the test split: an analysis choice, the run is not retrained);
  with maps_per_class > 0, unpooled maps of a balanced subset:
    stageN_map       (epoch, map_sample, stageN_channel, stageN_height, stageN_width)  float32
    map_label, map_sample_index (map_sample,)            (map_sample_index: row in `sample`)
  coordinate: epoch (the checkpoint epochs; 0 = initialisation)
  attrs: num_classes, layers, classifier_layer ("penultimate"), classifier_bias, head_depth,
         head_width, loss, run
         (config, data and provenance of the training run), provenance (of this extraction),
         aliases ({"stage4": "penultimate"}: the other name of a stored layer)

Each layer is stored once.  In ResNet18 the penultimate features *are* the pooled stage4 output (the
classifier follows the global average pool), so the last stage's pooled output has one name,
`penultimate`; `attrs["aliases"]` records that it is stage4's (stores written before this rule
hold a `stage4` copy too, and are read as before).  The unpooled maps keep their stage names.

Each per-sample variable is chunked in blocks of a few MB and sharded one shard per epoch: the
store is a few files per checkpoint for DVC, and reading one epoch of one layer touches one file.
The small per-epoch variables (W, b, loss, accuracy, epoch) are one shard each across all epochs.  The
features are computed in eval mode (BatchNorm running statistics), in IEEE float32 whatever the
run's precision (no TF32, no autocast; `runtime.math_mode`, recorded as provenance "math").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import from_mapping
from ..data import balanced_indices
from ..errors import InputError
from ..outputs import MARKER, writing
from ..progress import duration, log_line, wanted
from ..provenance import collect
from ..rundir import DONE, done_path, meta_path
from ..store import jsonable, to_zarr
from . import checkpoint
from .config import TrainConfig
from .resnet import STAGES
from .runtime import Normalizer, build_model, load_data, loss_function, math_mode, resolve_device
from .trainer import read_run

#: The pooled layers a store holds, shallow to deep: the last stage's pooled output is `penultimate`.
POOLED_STAGES = STAGES[:-1]
LAYERS = (*POOLED_STAGES, "penultimate")
CLASSIFIER_LAYER = "penultimate"
#: other names of a stored layer (ResNet18's global average pool follows the last stage directly)
ALIASES = {STAGES[-1]: "penultimate"}
_CHUNK_BYTES = 4 << 20


def _rows_per_chunk(row_bytes: int, n: int) -> int:
    return max(1, min(n, _CHUNK_BYTES // max(1, row_bytes)))


@torch.no_grad()
def _extract_split(model, images: np.ndarray, labels: np.ndarray, *, normalize, loss_fn, device, batch_size: int, map_rows: np.ndarray | None):
    """Pooled features of every layer, loss and accuracy of one split (and maps of `map_rows`)."""
    n = len(labels)
    pooled: dict[str, np.ndarray] = {}
    maps: dict[str, np.ndarray] = {}
    loss_sum, correct = 0.0, 0
    map_set = None if map_rows is None else {int(r): i for i, r in enumerate(map_rows)}
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        x = normalize(torch.from_numpy(images[start:stop]).to(device))
        y = torch.from_numpy(labels[start:stop].astype(np.int64)).to(device)
        stage_maps, penultimate, logits = model.features(x)
        feats = {name: stage_maps[name].float().mean(dim=(2, 3)) for name in POOLED_STAGES}
        feats["penultimate"] = penultimate.float()
        for name, value in feats.items():
            if name not in pooled:
                pooled[name] = np.empty((n, value.shape[1]), dtype=np.float32)
            pooled[name][start:stop] = value.cpu().numpy()
        loss_sum += float(loss_fn(logits.float(), y)) * (stop - start)
        correct += int((logits.argmax(dim=1) == y).sum())
        if map_set:
            rows = [r for r in range(start, stop) if r in map_set]
            if rows:
                local = torch.tensor([r - start for r in rows], device=device)
                for name in STAGES:
                    m = stage_maps[name].float().index_select(0, local).cpu().numpy()
                    if name not in maps:
                        maps[name] = np.empty((len(map_rows), *m.shape[1:]), dtype=np.float32)
                    maps[name][[map_set[r] for r in rows]] = m
    return pooled, maps, loss_sum / n, correct / n


def _epoch_dataset(epoch: int, model, split_results: dict[str, tuple], *, bias: bool):
    import xarray as xr

    variables: dict[str, Any] = {}
    for split, (pooled, maps, loss, accuracy) in split_results.items():
        prefix = "" if split == "train" else "test_"
        sample = "sample" if split == "train" else "test_sample"
        for name, value in pooled.items():
            dim = "penultimate_dim" if name == "penultimate" else f"{name}_channel"
            variables[f"{prefix}{name}"] = (("epoch", sample, dim), value[None])
        for name, value in maps.items():
            dims = ("epoch", "map_sample", f"{name}_channel", f"{name}_height", f"{name}_width")
            variables[f"{name}_map"] = (dims, value[None])
        variables[f"{prefix}loss"] = (("epoch",), np.array([loss]))
        variables[f"{prefix}accuracy"] = (("epoch",), np.array([accuracy]))
    # a linear head acts on the penultimate features as one linear map (its product) plus fc's bias
    weight = model.fc.weight if model.head is None else model.effective_classifier()
    W = weight.detach().float().cpu().numpy()
    b = model.fc.bias.detach().float().cpu().numpy() if bias else np.zeros(W.shape[0], dtype=np.float32)
    variables["W"] = (("epoch", "class", "penultimate_dim"), W[None])
    variables["b"] = (("epoch", "class"), b[None])
    return xr.Dataset(variables, coords={"epoch": np.array([epoch], dtype=np.int64)})


_SAMPLE_DIMS = ("sample", "test_sample", "map_sample")


def _encoding(ds, *, epochs: int) -> dict[str, dict]:
    """Per-sample variables: chunks of a few MB, one shard per epoch.  The small per-epoch ones
    (W, b, loss, accuracy, the epoch coordinate): one chunk per epoch, one shard for all `epochs`,
    so that they add a file per variable, not a kilobyte file per epoch and variable."""
    enc = {}
    for name, var in ds.variables.items():
        if var.dims[:1] != ("epoch",):
            continue
        if var.ndim >= 3 and var.dims[1] in _SAMPLE_DIMS:
            n = var.shape[1]
            row_bytes = int(np.prod(var.shape[2:])) * var.dtype.itemsize
            rows = _rows_per_chunk(row_bytes, n)
            chunks = (1, rows, *var.shape[2:])
            enc[name] = {"chunks": chunks, "shards": (1, -(-n // rows) * rows, *var.shape[2:])}
        else:
            enc[name] = {"chunks": (1, *var.shape[1:]), "shards": (epochs, *var.shape[1:])}
    return enc


def extract_features(
    run_dir: str | Path,
    out: str | Path,
    *,
    test: bool = False,
    maps_per_class: int = 0,
    batch_size: int = 512,
    test_per_class: int | None = None,
    device: str | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> Path:
    """Write the features store of a finished run (see the module docstring); returns `out`.

    `test_per_class`: with `test`, a balanced subset of this many test images per class (drawn
    with the run's seed from the run's test split); `threads`: torch's CPU threads (None: the
    run's `threads`).  Without a progress bar, one line per checkpoint on stderr."""
    import warnings

    from tqdm.auto import tqdm

    run_dir, out = Path(run_dir), Path(out)
    meta = read_run(run_dir)
    if not done_path(run_dir).is_file():
        raise InputError(f"{run_dir}: training is not complete (no {DONE}); finish `deepcollapse train` first")
    config = from_mapping(TrainConfig, meta["config"], source=str(meta_path(run_dir)))
    if threads is not None and threads < 0:
        raise InputError(f"threads must be >= 0, got {threads}")
    dev = resolve_device(device or config.device, threads=config.threads if threads is None else threads)
    data = load_data(config)
    if data.content_hash != meta["data"]["content_hash"]:
        raise InputError(f"{run_dir}: the dataset {config.data or config.dataset} has changed since training (content hash differs)")
    if test_per_class is not None:
        if not test:
            raise InputError("test per class needs the test split (--test, networks.features.test)")
        if test_per_class < 1:
            raise InputError(f"test per class must be positive, got {test_per_class}")
        data = data.subsample(train_per_class=None, test_per_class=test_per_class, seed=config.seed)
    kept = checkpoint.kept_epochs(run_dir)
    missing = [e for e in config.checkpoints if e not in kept]
    if missing:
        raise InputError(f"{run_dir}: checkpoint of epoch {missing[0]} is missing from {checkpoint.directory(run_dir)}")
    epochs = list(config.checkpoints)
    if maps_per_class < 0:
        raise InputError(f"maps per class must be >= 0, got {maps_per_class}")
    if batch_size < 1:
        raise InputError(f"batch size must be positive, got {batch_size}")

    norm = meta["data"]["normalization"]
    normalize = Normalizer(tuple(norm["mean"]), tuple(norm["std"])).on(dev, channels_last=config.channels_last)
    loss_fn = loss_function(config, data.num_classes)
    splits = ["train", "test"] if test else ["train"]
    map_rows = None
    if maps_per_class:
        map_rows = balanced_indices(data.labels["train"], per_class=maps_per_class, num_classes=data.num_classes, seed=config.seed, what="training split")
    model = build_model(config, num_classes=data.num_classes, in_channels=data.images["train"].shape[1]).to(dev)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.eval()

    params = {"run": str(run_dir), "test": test, "maps_per_class": maps_per_class, "batch_size": batch_size,
              "test_per_class": test_per_class, "threads": torch.get_num_threads()}
    attrs = {
        "num_classes": data.num_classes, "layers": list(LAYERS), "aliases": dict(ALIASES), "classifier_layer": CLASSIFIER_LAYER,
        "classifier_bias": config.bias, "head_depth": config.head_depth, "head_width": config.head_width,
        "loss": config.loss, "dataset": data.name,
        "run": {"config": meta["config"], "data": meta["data"], "provenance": meta.get("provenance")},
        "provenance": collect(params=params, seed=config.seed, device=dev),
        MARKER: "features",
    }
    static = {"label": (("sample",), data.labels["train"].astype(np.int64)), "sample_index": (("sample",), data.index["train"])}
    if test:
        static["test_label"] = (("test_sample",), data.labels["test"].astype(np.int64))
        static["test_sample_index"] = (("test_sample",), data.index["test"])
    if map_rows is not None:
        static["map_label"] = (("map_sample",), data.labels["train"][map_rows].astype(np.int64))
        static["map_sample_index"] = (("map_sample",), map_rows.astype(np.int64))

    # the output contract (deepcollapse.outputs): claimed, locked, written to a temporary path
    with math_mode(dev, "fp32") as math, writing(out, "features") as tmp, warnings.catch_warnings():
        attrs["provenance"]["math"] = math
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        log_checkpoints, started = not wanted(progress), time.perf_counter()
        for i, epoch in enumerate(tqdm(epochs, desc=f"features {run_dir.name}", unit="checkpoint", disable=None if progress is None else not progress)):
            t0 = time.perf_counter()
            state = checkpoint.load(kept[epoch], map_location=dev)
            checkpoint.restore(model, state, kept[epoch])
            results = {}
            for split in splits:
                results[split] = _extract_split(
                    model, data.images[split], data.labels[split], normalize=normalize, loss_fn=loss_fn, device=dev,
                    batch_size=batch_size, map_rows=map_rows if split == "train" else None,
                )
            ds = _epoch_dataset(epoch, model, results, bias=config.bias)
            ds.attrs = jsonable(attrs)  # on every write: an append replaces the group's attributes
            if i == 0:
                import xarray as xr

                ds = ds.assign(**{k: xr.Variable(*v) for k, v in static.items()})
                to_zarr(ds, tmp, mode="w", encoding=_encoding(ds, epochs=len(epochs)))
            else:
                to_zarr(ds, tmp, append_dim="epoch")
            if log_checkpoints:
                eta = (time.perf_counter() - started) / (i + 1) * (len(epochs) - i - 1)
                log_line(f"features {run_dir.name}: checkpoint {i + 1}/{len(epochs)} (epoch {epoch}) "
                         f"{time.perf_counter() - t0:.1f} s ETA {duration(eta)}")
    return out
