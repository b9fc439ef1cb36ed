"""Datasets: synthetic IDX files through torchvision's loaders, checksums, corrupt files, the store."""

from __future__ import annotations

import gzip
import hashlib
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepcollapse import data
from deepcollapse.data import registry
from deepcollapse.errors import InputError

IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (magic 0x0000 08 ndim, big-endian dims)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def synthetic_split(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10, dtype=np.uint8), n_per_class)
    rng.shuffle(labels)
    images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
    return images, labels


def write_idx_dir(folder: Path, *, compress: bool = True, n_train: int = 3, n_test: int = 2) -> dict[str, tuple]:
    folder.mkdir(parents=True, exist_ok=True)
    splits = {"train": synthetic_split(n_train, 1), "test": synthetic_split(n_test, 2)}
    for split, (images, labels) in splits.items():
        for base, array in zip(IDX_NAMES[split], (images, labels)):
            raw = idx_bytes(array)
            if compress:
                (folder / f"{base}.gz").write_bytes(gzip.compress(raw, mtime=0))
            else:
                (folder / base).write_bytes(raw)
    return splits


def test_synthetic_idx_through_torchvision_flat_layout(tmp_path):
    splits = write_idx_dir(tmp_path / "fm")
    images = data.convert("fashion-mnist", root=tmp_path / "fm", download=False, verify=False)
    for split, (imgs, labels) in splits.items():
        assert images.images[split].shape == (len(labels), 1, 28, 28)
        assert images.images[split].dtype == np.uint8
        np.testing.assert_array_equal(images.images[split][:, 0], imgs)
        np.testing.assert_array_equal(images.labels[split], labels)
    assert images.attrs["verified"] is False  # synthetic files match no published checksum
    assert all(r["verified"] is False for r in images.attrs["sources"])


def test_torchvision_layout_and_uncompressed_files(tmp_path):
    splits = write_idx_dir(tmp_path / "root" / "MNIST" / "raw", compress=False)
    images = data.convert("mnist", root=tmp_path / "root", download=False, verify=False)
    np.testing.assert_array_equal(images.labels["test"], splits["test"][1])
    np.testing.assert_array_equal(images.images["train"][:, 0], splits["train"][0])


def test_checksum_mismatch_names_the_file(tmp_path):
    write_idx_dir(tmp_path / "fm")
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte\.gz: checksum mismatch \(MD5 [0-9a-f]{32}, expected 8d4fb7e6.*`deepcollapse data --no-verify`"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False)


def test_known_content_checksum_verifies_a_recompressed_file(tmp_path, monkeypatch):
    """A .gz whose MD5 differs (recompressed) is accepted when its content SHA-256 is known."""
    splits = write_idx_dir(tmp_path / "fm")
    known = {}
    for split, (imgs, labels) in splits.items():
        for base, array in zip(IDX_NAMES[split], (imgs, labels)):
            known[base] = hashlib.sha256(idx_bytes(array)).hexdigest()
    monkeypatch.setitem(registry.CONTENT_SHA256, "fashion-mnist", known)
    images = data.convert("fashion-mnist", root=tmp_path / "fm", download=False)
    assert images.attrs["verified"] is True
    known["t10k-labels-idx1-ubyte"] = "0" * 64
    with pytest.raises(InputError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False)


def test_truncated_idx_file_names_the_file(tmp_path):
    write_idx_dir(tmp_path / "fm", compress=False)
    path = tmp_path / "fm" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte: truncated IDX file"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False, verify=False)


def test_truncated_gzip_names_the_file(tmp_path):
    write_idx_dir(tmp_path / "fm")
    path = tmp_path / "fm" / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match=r"t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip file"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False, verify=False)


def test_missing_split_names_the_file(tmp_path):
    write_idx_dir(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError, match=r"missing t10k-labels-idx1-ubyte\.gz .* test split"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False, verify=False)


def test_label_count_mismatch_names_the_labels_file(tmp_path):
    write_idx_dir(tmp_path / "fm")
    labels = np.zeros(7, dtype=np.uint8)
    (tmp_path / "fm" / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(InputError, match=r"train-labels-idx1-ubyte\.gz: 7 labels for the 30 images"):
        data.convert("fashion-mnist", root=tmp_path / "fm", download=False, verify=False)


def test_cifar_checksum_mismatch_names_the_batch(tmp_path):
    folder = tmp_path / "c" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta"):
        (folder / name).write_bytes(b"not a pickle")
    with pytest.raises(InputError, match=r"data_batch_1: checksum mismatch"):
        data.convert("cifar10", root=tmp_path / "c", download=False)
    (folder / "test_batch").unlink()
    for name in ("data_batch_1",):
        (folder / name).unlink()
    with pytest.raises(InputError, match=r"data_batch_1: missing file of the train split"):
        data.convert("cifar10", root=tmp_path / "c", download=False)


def test_no_root_and_no_download_is_refused():
    with pytest.raises(InputError, match="needs --root"):
        data.convert("mnist", download=False)


def test_digits_split_is_stratified_and_deterministic():
    a = data.convert("digits")
    b = data.convert("digits")
    assert a.content_hash == b.content_hash
    assert (len(a.labels["train"]), len(a.labels["test"])) == (1442, 355)
    assert a.images["train"].shape[1:] == (1, 8, 8) and a.images["train"].max() == 255
    train_counts = np.bincount(a.labels["train"], minlength=10)
    test_counts = np.bincount(a.labels["test"], minlength=10)
    np.testing.assert_array_equal(train_counts, np.ceil(0.8 * (train_counts + test_counts)))


def test_balanced_subsample_properties():
    labels = np.repeat(np.arange(4), [5, 9, 7, 6])
    idx = data.balanced_indices(labels, per_class=5, num_classes=4, seed=3)
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.bincount(labels[idx]), [5, 5, 5, 5])
    np.testing.assert_array_equal(idx, data.balanced_indices(labels, per_class=5, num_classes=4, seed=3))
    assert not np.array_equal(idx, data.balanced_indices(labels, per_class=5, num_classes=4, seed=4))
    with pytest.raises(InputError, match="class 0 .* has 5 samples, fewer than the 6"):
        data.balanced_indices(labels, per_class=6, num_classes=4, seed=0)


def test_store_round_trip_and_tamper_detection(tmp_path):
    images = data.convert("digits", train_per_class=20, test_per_class=5, seed=1)
    assert len(images.labels["train"]) == 200 and len(images.labels["test"]) == 50
    data.write(images, tmp_path / "d.zarr")
    back = data.load(tmp_path / "d.zarr", expect="digits")
    assert back.content_hash == images.content_hash
    for split in ("train", "test"):
        np.testing.assert_array_equal(back.images[split], images.images[split])
        np.testing.assert_array_equal(back.index[split], images.index[split])
    with pytest.raises(InputError, match="holds dataset 'digits', but the config asks for 'mnist'"):
        data.load(tmp_path / "d.zarr", expect="mnist")
    import dataclasses

    forged = dataclasses.replace(images, content_hash="0" * 64)
    data.write(forged, tmp_path / "bad.zarr")
    with pytest.raises(InputError, match="content hash mismatch"):
        data.load(tmp_path / "bad.zarr")


def test_cli_data_writes_store_and_refuses_bad_root(tmp_path):
    ok = subprocess.run(
        [sys.executable, "-m", "deepcollapse", "data", "--dataset", "digits", "--train-per-class", "10", "--out", str(tmp_path / "d.zarr")],
        capture_output=True, text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert data.load(tmp_path / "d.zarr").labels["train"].shape == (100,)
    bad = subprocess.run(
        [sys.executable, "-m", "deepcollapse", "data", "--dataset", "fashion-mnist", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f.zarr")],
        capture_output=True, text=True,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "nowhere: no such directory" in bad.stderr
    assert not (tmp_path / "f.zarr").exists()


def test_the_data_command_names_exactly_the_registered_datasets():
    # `deepcollapse --help` must stay fast, so the command module cannot import the registry (it
    # pulls numpy and zarr in through deepcollapse.data); its help text spells the names, and this
    # keeps it equal to the registry, the one place a dataset is declared.
    import re

    from deepcollapse.commands import data as command
    from deepcollapse.data.registry import NAMES

    assert re.search(r"\(([^)]*)\)", command.HELP).group(1).split(", ") == list(NAMES)
    parser = __import__("argparse").ArgumentParser()
    command.configure(parser)
    [action] = [a for a in parser._actions if a.dest == "dataset"]
    assert action.help.split(" | ") == list(NAMES)
