"""What training and feature extraction share: device, math mode, data on the device, model construction."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from .. import data as datasets
from .. import devices
from ..errors import InputError
from .config import TrainConfig
from .resnet import ResNet18


def resolve_device(name: str, *, threads: int = 0) -> torch.device:
    """The torch device of a config's `device` (and its CPU thread count, if `threads` > 0).

    A CUDA device comes back with its index and is made the current one: work that names no
    device (a CUDA graph's capture and replay, new streams, RNG calls) must run on the run's
    device, not on cuda:0.  `auto` inside a job that was given a GPU but cannot use it is refused
    (`refuse_cpu_in_gpu_job`)."""
    if threads:
        torch.set_num_threads(threads)
    device = devices.resolve(name)
    if name == "auto":
        refuse_cpu_in_gpu_job(device, os.environ.get("CUDA_VISIBLE_DEVICES"))
    if device.type == "cuda":
        index = torch.cuda.current_device() if device.index is None else device.index
        check_cuda_index(name, index, torch.cuda.device_count())
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
    return device


def check_cuda_index(name: str, index: int, count: int) -> None:
    """One line, not torch's traceback, for a CUDA device this machine does not have."""
    if not 0 <= index < count:
        raise InputError(f"device {name!r}: this machine has {count} CUDA device(s), cuda:0..cuda:{count - 1}")


def refuse_cpu_in_gpu_job(device: torch.device, visible: str | None) -> None:
    """`device: auto` resolved to the CPU although the job was given a GPU (CUDA_VISIBLE_DEVICES
    names one): fail in one line rather than warn.  A paper-scale run on the CPU takes weeks, and
    a warning is read in a batch log after the allocation is spent; the usual cause (a driver
    older than torch's CUDA, a CPU-only torch) is fixed in minutes.  `device: cpu` trains on
    the CPU deliberately."""
    if device.type == "cpu" and visible and visible.strip() not in ("-1", "NoDevFiles"):
        built = torch.version.cuda or "none (a CPU-only build)"
        raise InputError(
            f"device 'auto': this job was given GPU(s) CUDA_VISIBLE_DEVICES={visible} but torch cannot use CUDA "
            f"(torch {torch.__version__}, its CUDA {built}; check the driver with nvidia-smi); set device: cpu to train on the CPU"
        )


# ---------------------------------------------------------------------------------- math mode
def _tf32_flags() -> list[tuple[Any, str]]:
    """The (object, attribute) pairs that decide whether float32 matmuls and convolutions may use
    TensorFloat-32: torch >= 2.9's `fp32_precision` ("ieee" | "tf32"), else the legacy
    `allow_tf32` booleans (the two APIs must not be mixed: torch refuses to read a mix)."""
    cudnn_conv = getattr(torch.backends.cudnn, "conv", None)
    if cudnn_conv is not None and hasattr(cudnn_conv, "fp32_precision"):
        return [(torch.backends.cuda.matmul, "fp32_precision"), (cudnn_conv, "fp32_precision")]
    return [(torch.backends.cuda.matmul, "allow_tf32"), (torch.backends.cudnn, "allow_tf32")]


@contextlib.contextmanager
def math_mode(device: torch.device, precision: str, *, benchmark: bool = False) -> Iterator[dict[str, Any]]:
    """Run with float32 arithmetic as `precision` says, then restore torch's flags.

    fp32 and bf16: IEEE float32 for every float32 matmul and convolution.  torch's defaults are
    not: its cuDNN convolutions run in TF32 on Ampere and later unless told otherwise.  tf32: TF32
    for both.  `benchmark`: cuDNN autotuning (faster, but it may pick other kernels in another
    process, so a resumed CUDA run need not be bitwise equal).  Yields `math_record`, the record
    of what was in force, for the provenance.
    """
    tf32 = precision == "tf32"
    flags = _tf32_flags()
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr in flags]
    saved_benchmark = torch.backends.cudnn.benchmark
    try:
        for obj, attr in flags:
            setattr(obj, attr, ("tf32" if tf32 else "ieee") if attr == "fp32_precision" else tf32)
        torch.backends.cudnn.benchmark = benchmark
        yield math_record(device, precision)
    finally:
        for obj, attr, value in saved:
            setattr(obj, attr, value)
        torch.backends.cudnn.benchmark = saved_benchmark


def math_record(device: torch.device, precision: str) -> dict[str, Any]:
    """What decides float32 rounding now, read from torch: recorded with every training segment
    and feature extraction."""
    record: dict[str, Any] = {"precision": precision, "autocast": "bfloat16" if precision == "bf16" else None}
    if device.type == "cuda":
        (matmul, m_attr), (conv, c_attr) = _tf32_flags()
        as_text = (lambda v: "tf32" if v is True else "ieee" if v is False else str(v))
        record.update({
            "cuda_matmul_fp32": as_text(getattr(matmul, m_attr)), "cudnn_conv_fp32": as_text(getattr(conv, c_attr)),
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        })
    else:
        # oneDNN's float32 mode ("none": IEEE; torch >= 2.9 spells it so, older torch has no such
        # switch).  Not torch.get_float32_matmul_precision(): it refuses to answer while the CUDA
        # flags are set through the new API, as math_mode sets them.
        mkldnn = torch.backends.mkldnn
        for name in ("matmul", "conv"):
            record[f"mkldnn_{name}_fp32"] = str(getattr(getattr(mkldnn, name, None), "fp32_precision", "ieee"))
    return record


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
    return ResNet18(num_classes=num_classes, in_channels=in_channels, width=config.width, stem=config.stem, bias=config.bias,
                    head_depth=config.head_depth, head_width=config.head_width)


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
