"""What training and feature extraction share: device, data on the device, model construction."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .. import data as datasets
from .. import devices
from ..errors import InputError
from .config import TrainConfig
from .resnet import ResNet18


def resolve_device(name: str, *, threads: int = 0) -> torch.device:
    """The torch device of a config's `device` (and its CPU thread count, if `threads` > 0)."""
    if threads:
        torch.set_num_threads(threads)
    return devices.resolve(name)


def load_data(config: TrainConfig):
    """The run's dataset (from `config.data`, else converted in memory), subsampled as configured."""
    if config.data is not None:
        images = datasets.load(config.data, expect=config.dataset)
    else:
        images = datasets.convert(config.dataset, root=config.data_root)
    if config.train_per_class is not None or config.test_per_class is not None:
        images = images.subsample(train_per_class=config.train_per_class, test_per_class=config.test_per_class, seed=config.seed)
    return images


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """x -> (x/255 - mean) / std per channel, with mean/std of the training images (float64, then float32)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, images: np.ndarray) -> "Normalizer":
        # exact sums over uint8 in chunks: no float64 copy of the whole split (CIFAR10 would be 1.2 GB)
        C = images.shape[1]
        total, total_sq, count = np.zeros(C), np.zeros(C), 0
        for start in range(0, len(images), 4096):
            block = images[start: start + 4096].astype(np.int64)
            total += block.sum(axis=(0, 2, 3))
            total_sq += (block * block).sum(axis=(0, 2, 3))
            count += block.shape[0] * block.shape[2] * block.shape[3]
        mean = total / count / 255.0
        std = np.sqrt(np.maximum(total_sq / count / 255.0**2 - mean**2, 0.0))
        std[std == 0] = 1.0
        return cls(tuple(float(m) for m in mean), tuple(float(s) for s in std))

    def on(self, device: torch.device, *, channels_last: bool = False):
        """A function uint8 (B, C, H, W) on `device` -> normalized float32."""
        std = torch.tensor(self.std, dtype=torch.float32, device=device)
        scale = (1.0 / (255.0 * std)).view(1, -1, 1, 1)
        shift = (-torch.tensor(self.mean, dtype=torch.float32, device=device) / std).view(1, -1, 1, 1)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format

        def normalize(x: torch.Tensor) -> torch.Tensor:
            # `.to(..., memory_format=...)` allocates with canonical strides.  `.contiguous()` would
            # not: a (B, 1, H, W) batch whose size-1 channel dim has an NHWC-like stride counts as
            # contiguous yet makes convolutions pick channels-last kernels, whose results differ in
            # the last bits, so the same images from two sources would train to different weights.
            return x.to(torch.float32, memory_format=memory_format).mul_(scale).add_(shift)

        return normalize


def build_model(config: TrainConfig, *, num_classes: int, in_channels: int) -> ResNet18:
    """The run's ResNet18, initialised from `config.seed` (same seed, same initial weights)."""
    torch.manual_seed(config.seed)
    return ResNet18(num_classes=num_classes, in_channels=in_channels, width=config.width, stem=config.stem, bias=config.bias)


def loss_function(config: TrainConfig, num_classes: int):
    """loss(logits float32 (B, K), labels (B,)) -> mean loss of the batch (see TrainConfig)."""
    import torch.nn.functional as F

    if config.loss == "ce":
        return F.cross_entropy
    scale = config.mse_scale

    def mse(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        target = F.one_hot(labels, num_classes).to(logits.dtype)
        return scale * torch.mean((logits - target) ** 2)

    return mse
