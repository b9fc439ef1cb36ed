"""Read a dataset's raw files through torchvision's own loaders into uint8 arrays.

Sources, in order of preference:
* a local directory (`root`) holding the standard files, either flat (Debian's
  ``/usr/share/datasets/fashion-mnist``: ``train-images-idx3-ubyte.gz`` ...) or in torchvision's
  layout (``root/FashionMNIST/raw/...``, ``root/cifar-10-batches-py/...``, or the archive
  ``root/cifar-10-python.tar.gz``); nothing is downloaded then;
* without `root`: the files a distribution installed (`registry.SYSTEM_ROOTS`: Debian's
  dataset-fashion-mnist), else torchvision's download (it checks the published MD5s) into a temporary folder;
* `digits` comes from scikit-learn and needs neither.

The files are staged (decompressed, verified, structurally checked) in a scratch folder in
torchvision's layout and then loaded by the torchvision dataset class with ``download=False``,
so that the bytes are parsed by the same code every torchvision user runs.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import registry, verify
from .digits import read_digits
from .raw import SPLITS, RawDataset, RawSplit

# split -> (images file, labels file) of the IDX datasets (MNIST, Fashion-MNIST)
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read(name: str, *, root: str | Path | None = None, download: bool = True, verify_checksums: bool = True) -> RawDataset:
    """All splits of dataset `name` as uint8 arrays (see the module docstring for sources)."""
    registry.spec(name)
    if name == "digits":
        return read_digits()
    with tempfile.TemporaryDirectory(prefix="deepcollapse-data-") as scratch:
        scratch = Path(scratch)
        if root is None and Path(registry.SYSTEM_ROOTS.get(name, "/nonexistent")).is_dir():
            root = registry.SYSTEM_ROOTS[name]
        if root is None:
            if not download:
                raise InputError(f"dataset {name!r} needs --root DIR (the standard files) or downloading enabled")
            root = _download(name, scratch / "download")
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"{root}: no such directory (the --root of dataset {name!r})")
        stage = scratch / "stage"
        stage.mkdir()
        if name == "cifar10":
            return _read_cifar(root, stage, verify_checksums=verify_checksums)
        return _read_idx(name, root, stage, verify_checksums=verify_checksums)


def _download(name: str, target: Path) -> Path:
    cls = registry.torchvision_class(name)
    target.mkdir(parents=True)
    for split in SPLITS:
        try:
            cls(root=str(target), train=(split == "train"), download=True)
        except Exception as exc:  # URLError, RuntimeError (MD5 mismatch), OSError ...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"could not download {name!r} through torchvision ({first}); without network, pass "
                "--root DIR holding the standard files"
            ) from None
    return target


# ------------------------------------------------------------------ MNIST, Fashion-MNIST (IDX)
def _find(root: Path, layout_dir: str, base: str) -> Path | None:
    for folder in (root, root / layout_dir / "raw"):
        for candidate in (folder / f"{base}.gz", folder / base):
            if candidate.is_file():
                return candidate
    return None


def _read_idx(name: str, root: Path, stage: Path, *, verify_checksums: bool) -> RawDataset:
    cls = registry.torchvision_class(name)
    raw = stage / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    published = {fname.removesuffix(".gz"): md5 for fname, md5 in cls.resources}
    known = registry.CONTENT_SHA256.get(name, {})
    records, all_verified = [], True
    sources: dict[str, Path] = {}
    for split in SPLITS:
        for base in IDX_FILES[split]:
            source = _find(root, cls.__name__, base)
            if source is None:
                raise InputError(f"{root}: missing {base}.gz (or {base}) for the {split} split of {name!r}")
            sources[base] = source
    for base, source in sources.items():
        gz = source.suffix == ".gz"
        md5 = verify.file_md5(source) if gz else None
        sha = verify.copy_with_sha256(source, raw / base, gunzip=gz)
        ok = (gz and md5 == published.get(base)) or sha == known.get(base)
        if verify_checksums and not ok:
            raise verify.mismatch(source, md5=md5, expected_md5=published.get(base) if gz else None, sha256=sha)
        all_verified &= ok
        verify.check_idx(raw / base, shown=source, ndim=3 if "images" in base else 1)
        records.append({"file": str(source), "md5": md5, "content_sha256": sha, "verified": ok})
    splits = {}
    for split in SPLITS:
        ds = cls(root=str(stage), train=(split == "train"), download=False)
        images = ds.data.numpy()[:, None, :, :]
        labels = ds.targets.numpy()
        image_file, label_file = (sources[b] for b in IDX_FILES[split])
        if len(images) != len(labels):
            raise InputError(
                f"{label_file}: {len(labels)} labels for the {len(images)} images of {image_file}"
            )
        splits[split] = RawSplit(images=np.ascontiguousarray(images, dtype=np.uint8), labels=_labels(labels, label_file, name))
    return RawDataset(name=name, splits=splits, files=records, verified=all_verified)


def _labels(labels: np.ndarray, source: Path, name: str) -> np.ndarray:
    K = registry.spec(name).num_classes
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise InputError(f"{source}: label {int(labels.max())} outside 0..{K - 1} for {name!r}")
    return labels.astype(np.uint8)


# ------------------------------------------------------------------ CIFAR10 (python pickles)
def _read_cifar(root: Path, stage: Path, *, verify_checksums: bool) -> RawDataset:
    cls = registry.torchvision_class("cifar10")
    records = []
    batches = root / cls.base_folder
    archive = root / cls.filename
    if batches.is_dir():
        verify.copy_tree_or_link(batches, stage / cls.base_folder)
    elif archive.is_file():
        md5 = verify.file_md5(archive)
        if verify_checksums and md5 != cls.tgz_md5:
            raise verify.mismatch(archive, md5=md5, expected_md5=cls.tgz_md5, sha256=None)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(stage, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InputError(f"{archive}: corrupt or truncated archive ({exc})") from None
        records.append({"file": str(archive), "md5": md5, "verified": md5 == cls.tgz_md5})
    else:
        raise InputError(f"{root}: missing {cls.base_folder}/ or {cls.filename} for 'cifar10'")
    # torchvision checks these MD5s itself but only says "not found or corrupted": check first to name the file.
    for split, files in (("train", cls.train_list), ("test", cls.test_list), ("meta", [[cls.meta["filename"], cls.meta["md5"]]])):
        for fname, expected in files:
            path = stage / cls.base_folder / fname
            shown = batches / fname if batches.is_dir() else Path(f"{archive}:{cls.base_folder}/{fname}")
            if not path.is_file():
                raise InputError(f"{shown}: missing file of the {split} split of 'cifar10'")
            md5 = verify.file_md5(path)
            if md5 != expected:
                # not optional: torchvision refuses such files whatever we say
                raise verify.mismatch(shown, md5=md5, expected_md5=expected, sha256=None)
            records.append({"file": str(shown), "md5": md5, "verified": True})
    splits = {}
    for split in SPLITS:
        ds = cls(root=str(stage), train=(split == "train"), download=False)
        images = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2), dtype=np.uint8)  # HWC -> CHW
        splits[split] = RawSplit(images=images, labels=_labels(np.asarray(ds.targets), batches, "cifar10"))
    return RawDataset(name="cifar10", splits=splits, files=records, verified=all(r["verified"] for r in records))
