"""scikit-learn's bundled 8x8 handwritten digits: the dataset that needs no network.

The 1,797 images (UCI optdigits, values 0..16) become uint8 by v -> round(255 v / 16).  There is no
official split of this set, so we fix one: in every class, the first 80 % of the images (in
scikit-learn's order, rounded up) are the training split, the rest the test split (1,442 / 355 images).
"""

from __future__ import annotations

import math

import numpy as np

from .raw import RawDataset, RawSplit

TRAIN_FRACTION = 0.8


def read_digits() -> RawDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[:, None, :, :]
    labels = bunch.target.astype(np.uint8)
    train = np.zeros(len(labels), dtype=bool)
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        train[members[: math.ceil(TRAIN_FRACTION * len(members))]] = True
    splits = {
        "train": RawSplit(images=images[train], labels=labels[train]),
        "test": RawSplit(images=images[~train], labels=labels[~train]),
    }
    import sklearn

    files = [{"file": f"sklearn.datasets.load_digits (scikit-learn {sklearn.__version__})", "verified": True}]
    return RawDataset(name="digits", splits=splits, files=files, verified=True)
