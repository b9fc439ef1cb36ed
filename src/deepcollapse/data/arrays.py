"""The converted dataset store: uint8 images and labels per split, a content hash, provenance.

Layout (Zarr v3, written atomically by `deepcollapse.store.write_dataset`)::

    train_image  (train_sample, channel, height, width)  uint8
    train_label  (train_sample,)                         uint8
    train_index  (train_sample,)                         int64   row in the source split
    test_image   (test_sample, channel, height, width)   uint8
    test_label / test_index  (test_sample,)
    attrs: dataset, num_classes, classes, content_hash (SHA-256 of the arrays), sources
           (files with MD5/SHA-256 and whether they matched a known checksum), verified,
           subsample, provenance

`load` reads it back whole (it is small: Fashion-MNIST is 55 MB) and re-checks the hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..store import open_dataset, reading, write_dataset
from . import registry
from .raw import SPLITS, RawDataset
from .subsample import balanced_indices

_CHUNK_BYTES = 8 << 20


def content_hash(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the named arrays (names, dtypes, shapes and bytes), in name order."""
    digest = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{a.dtype.str}|{a.shape}\n".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class ImageData:
    """A dataset in memory: uint8 images (N, C, H, W) and labels (N,) per split."""

    name: str
    num_classes: int
    classes: tuple[str, ...]
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    index: dict[str, np.ndarray]  # row of each sample in the full source split
    content_hash: str
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for split in SPLITS:
            out[f"{split}_image"] = self.images[split]
            out[f"{split}_label"] = self.labels[split]
            out[f"{split}_index"] = self.index[split]
        return out

    def subsample(
        self, *, train_per_class: int | None, test_per_class: int | None, seed: int,
        names: tuple[str, str] = ("train_per_class", "test_per_class"),
    ) -> "ImageData":
        """A balanced subset (None keeps a split whole); the hash is of the subset.  `names`: what
        the user set the two counts with (config keys, or the `data` command's options), for errors."""
        images, labels, index = dict(self.images), dict(self.labels), dict(self.index)
        for split, per_class, name in (("train", train_per_class, names[0]), ("test", test_per_class, names[1])):
            if per_class is None:
                continue
            rows = balanced_indices(
                labels[split], per_class=per_class, num_classes=self.num_classes, seed=seed, what=f"{split} split of {self.name!r}", name=name,
            )
            images[split], labels[split], index[split] = images[split][rows], labels[split][rows], index[split][rows]
        new = dataclasses.replace(self, images=images, labels=labels, index=index, content_hash="")
        return dataclasses.replace(new, content_hash=content_hash(new.arrays()))


def from_raw(raw: RawDataset) -> ImageData:
    spec = registry.spec(raw.name)
    images = {s: raw.splits[s].images for s in SPLITS}
    labels = {s: raw.splits[s].labels for s in SPLITS}
    index = {s: np.arange(len(labels[s]), dtype=np.int64) for s in SPLITS}
    data = ImageData(
        name=raw.name, num_classes=spec.num_classes, classes=spec.classes, images=images, labels=labels,
        index=index, content_hash="",
        attrs={"sources": raw.files, "verified": raw.verified, "origin": spec.origin},
    )
    return dataclasses.replace(data, content_hash=content_hash(data.arrays()))


def to_dataset(data: ImageData):
    import xarray as xr

    variables = {}
    for split in SPLITS:
        sample = f"{split}_sample"
        variables[f"{split}_image"] = ((sample, "channel", "height", "width"), data.images[split])
        variables[f"{split}_label"] = ((sample,), data.labels[split])
        variables[f"{split}_index"] = ((sample,), data.index[split])
    attrs = dict(data.attrs)
    attrs.update(dataset=data.name, num_classes=data.num_classes, classes=list(data.classes), content_hash=data.content_hash)
    return xr.Dataset(variables, attrs=attrs)


def encoding(data: ImageData) -> dict[str, dict]:
    """Chunks of ~8 MB, each image variable in one shard (one file per variable for DVC)."""
    enc = {}
    for split in SPLITS:
        n, c, h, w = data.images[split].shape
        rows = max(1, min(n, _CHUNK_BYTES // max(1, c * h * w)))
        shard_rows = -(-max(n, 1) // rows) * rows
        enc[f"{split}_image"] = {"chunks": (rows, c, h, w), "shards": (shard_rows, c, h, w)}
    return enc


def write(data: ImageData, path: str | Path, *, provenance: dict | None = None) -> Path:
    return write_dataset(to_dataset(data), path, kind="data", encoding=encoding(data), provenance=provenance)


def load(path: str | Path, *, expect: str | None = None) -> ImageData:
    """Read a converted store whole and check its content hash (and its dataset name, if `expect`)."""
    path = Path(path)
    ds = open_dataset(path)
    try:
        name = ds.attrs["dataset"]
        arrays = {}
        with reading(path):  # a damaged chunk: one line naming the store and the array
            for split in SPLITS:
                for var in ("image", "label", "index"):
                    arrays[f"{split}_{var}"] = np.asarray(ds[f"{split}_{var}"].values)
    except KeyError as exc:
        raise InputError(f"{path}: not a dataset store written by `deepcollapse data` (missing {exc})") from None
    if expect is not None and name != expect:
        raise InputError(f"{path}: holds dataset {name!r}, but the config asks for {expect!r}")
    digest = content_hash(arrays)
    if digest != ds.attrs.get("content_hash"):
        raise InputError(f"{path}: content hash mismatch (stored {ds.attrs.get('content_hash')}, computed {digest}); the store is corrupt")
    spec = registry.spec(name)
    return ImageData(
        name=name, num_classes=int(ds.attrs["num_classes"]), classes=tuple(ds.attrs.get("classes", spec.classes)),
        images={s: arrays[f"{s}_image"] for s in SPLITS}, labels={s: arrays[f"{s}_label"] for s in SPLITS},
        index={s: arrays[f"{s}_index"] for s in SPLITS}, content_hash=digest,
        attrs={k: v for k, v in ds.attrs.items() if k != "provenance"},
    )
