"""The datasets the package knows: name, shape, classes and where torchvision keeps them.

`RESOURCES` are torchvision's own tables (file name, MD5 of the published file), read from the
installed torchvision so that a checksum is never copied by hand.  `CONTENT_SHA256` adds
checksums of *decompressed* files that we computed ourselves from a trusted redistribution; it is
what lets a repacked archive (Debian recompresses the Fashion-MNIST .gz files, so their MD5s
differ from the published ones) be verified by content.
"""

from __future__ import annotations

import dataclasses

from ..errors import InputError


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    num_classes: int
    channels: int
    height: int
    width: int
    classes: tuple[str, ...]
    torchvision_class: str | None  # None: not a torchvision dataset (digits)
    origin: str  # one line for provenance/README
    train_images: int = 0  # size of the whole training split (what a run without train_per_class trains on)


_DIGIT_CLASSES = tuple(str(i) for i in range(10))

SPECS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec(
        "digits", 10, 1, 8, 8, _DIGIT_CLASSES, None,
        "scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set, 1797 images)", 1442,
    ),
    "mnist": DatasetSpec("mnist", 10, 1, 28, 28, _DIGIT_CLASSES, "MNIST", "MNIST (LeCun et al.) via torchvision", 60000),
    "fashion-mnist": DatasetSpec(
        "fashion-mnist", 10, 1, 28, 28,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "FashionMNIST", "Fashion-MNIST (Xiao et al. 2017) via torchvision", 60000,
    ),
    "cifar10": DatasetSpec(
        "cifar10", 10, 3, 32, 32,
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        "CIFAR10", "CIFAR-10 (Krizhevsky 2009) via torchvision", 50000,
    ),
}
#: The known datasets: the keys of SPECS (a configuration's `dataset` is checked against these).
NAMES: tuple[str, ...] = tuple(SPECS)

# SHA-256 of decompressed files, computed from Debian's `dataset-fashion-mnist`
# (0.0~git20200523.55506a9-1, files in /usr/share/datasets/fashion-mnist).  Its labels begin
# 9 0 0 3 0 2 7 2 as the upstream README shows, and the sizes match the IDX headers.
CONTENT_SHA256: dict[str, dict[str, str]] = {
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


# Where a distribution installs the standard files: used as the source when no root is given,
# before any download (Debian/Ubuntu: `apt-get install dataset-fashion-mnist`).
SYSTEM_ROOTS: dict[str, str] = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}


def spec(name: str) -> DatasetSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r} (known: {', '.join(NAMES)})") from None


def torchvision_class(name: str):
    """The torchvision dataset class of `name` (imported lazily: torchvision is slow to import)."""
    import torchvision.datasets as tvd

    cls_name = spec(name).torchvision_class
    if cls_name is None:
        raise InputError(f"dataset {name!r} does not come from torchvision")
    return getattr(tvd, cls_name)
