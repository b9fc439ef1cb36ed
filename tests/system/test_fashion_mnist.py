"""The real Fashion-MNIST, from Debian's dataset-fashion-mnist package (installed with apt-get when
missing: root and a package source, hence the system tier; the loaders themselves are tested on
synthetic IDX files in tests/unit/data/test_data.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepcollapse import data


@pytest.mark.system_package("dataset-fashion-mnist", path="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
def test_real_fashion_mnist_from_debian_package(tmp_path):
    """The Debian package's recompressed files are verified by content (installed by tests/system/conftest.py)."""
    root = Path("/usr/share/datasets/fashion-mnist")
    images = data.convert("fashion-mnist", download=False)  # no root: the installed files are found
    assert images.attrs["verified"] is True
    assert {Path(r["file"]).parent for r in images.attrs["sources"]} == {root}
    assert images.images["train"].shape == (60000, 1, 28, 28)
    assert images.images["test"].shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(images.labels["train"][:8], [9, 0, 0, 3, 0, 2, 7, 2])
    np.testing.assert_array_equal(np.bincount(images.labels["train"]), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(images.labels["test"]), [1000] * 10)
