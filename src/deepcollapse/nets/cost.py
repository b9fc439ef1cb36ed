"""What a network run will cost, from its configuration alone, before anything is paid
(`deepcollapse train --dry-run`).

    cost = estimate(config)               # a TrainConfig; no data is read, no weight computed
    print(describe(cost))

Derived from the model's size (its parameters and the shapes of its activations, traced on
PyTorch's "meta" device: shapes only, no arithmetic), the dataset's size (`data.registry`: the
whole splits, or `train_per_class`/`test_per_class` times the classes), the kept checkpoints and
the feature layers' widths (`nets.features.LAYERS`):

* steps: epochs x batches per epoch (`trainer.batch_starts`);
* checkpoints: one file per kept epoch, each the float32 weights and BatchNorm buffers plus the
  SGD momentum (none yet at epoch 0), and a rolling resume.pt;
* features: float32 per sample, per kept epoch, per stored layer (stage1..stage3 pooled,
  penultimate), for the training split and, with `features --test`, the test split, plus each
  sample's label and index, the classifier per kept epoch and the store's metadata; as written
  before compression (zstd saves little on these dense floats: the estimate is an upper bound);
* memory: the training split as uint8 and the model, its gradients and momentum on the device,
  plus the activations autograd keeps for one batch (the outputs of every convolution and of the
  normalisation after it, and of each hidden layer of a linear head, float32).

A linear head of depth L > 1 (`head_depth`) is part of the traced model: its parameters, its
multiply-adds and its hidden activations are counted like the rest; the features store keeps its
product W_L ... W_1 as the classifier (K x 512w), as at depth 1.

tests/unit/nets/test_cost.py checks each against a real tiny run (files on disk, tensors autograd
actually saved) within stated tolerances.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..data import registry
from .config import TrainConfig
from .features import LAYERS
from .resnet import ResNet18, stage_widths
from .trainer import batch_starts

_FLOAT = 4  # bytes: weights, momentum, features and activations are float32
#: torch.save's framing, the RNG states, history and config of one checkpoint file (measured on
#: tiny runs: 30-60 KB; the weights dominate every real run)
CHECKPOINT_OVERHEAD = 64 << 10
#: a features store's metadata (zarr.json files; the root one holds the run's provenance) and
#: per-epoch scalars (measured on tiny stores: ~57 KB)
FEATURES_OVERHEAD = 64 << 10
_INDEX = 16  # bytes per sample: its label and its row in the dataset, int64 each


@dataclasses.dataclass(frozen=True)
class Cost:
    train_samples: int
    test_samples: int
    steps_per_epoch: int
    steps: int
    parameters: int  # trainable
    buffers: int  # BatchNorm running statistics (floats)
    multiply_adds: int  # of one forward pass of one image
    checkpoints: int  # kept checkpoint files (epochs of `checkpoints`)
    checkpoint_bytes: int  # one kept checkpoint after training started (with momentum)
    checkpoints_bytes: int  # all kept checkpoints and the rolling resume.pt
    feature_floats: int  # per sample and checkpoint: the stored layers' widths summed
    train_features_bytes: int  # the training split, every kept checkpoint (and the store's classifier and metadata)
    test_features_bytes: int  # the test split (features --test), every kept checkpoint
    data_bytes: int  # the training split on the device (uint8)
    activation_bytes: int  # what autograd keeps for one training batch
    training_memory_bytes: int  # device memory of training: data, weights, gradients, momentum, activations

    def test_features_bytes_at(self, test_per_class: int | None, num_classes: int) -> int:
        """The test split's features when `features --test-per-class` keeps `test_per_class` per class."""
        if test_per_class is None or not self.test_samples:
            return self.test_features_bytes
        return self.test_features_bytes * min(self.test_samples, test_per_class * num_classes) // self.test_samples


def _split_size(total: int, per_class: int | None, num_classes: int) -> int:
    return total if per_class is None else min(total, per_class * num_classes)


def _trace(config: TrainConfig, spec: registry.DatasetSpec) -> tuple[int, int, int, int]:
    """(parameters, buffer floats, forward multiply-adds per image, saved activation floats per
    image) of the run's ResNet18, traced on the meta device (shapes only)."""
    with torch.device("meta"):
        model = ResNet18(num_classes=spec.num_classes, in_channels=spec.channels, width=config.width, stem=config.stem, bias=config.bias,
                         head_depth=config.head_depth, head_width=config.head_width)
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers() if not name.endswith("num_batches_tracked"))
    totals = {"macs": 0, "saved": 0}

    def hook(module, inputs, output):
        n = output[0].numel()  # one image
        if isinstance(module, nn.Conv2d):
            totals["macs"] += n * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            totals["saved"] += n  # the convolution's output, which the normalisation keeps
        elif isinstance(module, nn.BatchNorm2d):
            totals["saved"] += n  # its output, kept by the ReLU (or the residual sum's ReLU)
        elif isinstance(module, nn.Linear):
            totals["macs"] += n * module.in_features
            if module is not model.fc:  # a hidden layer of the head: its output is the next layer's saved input
                totals["saved"] += n

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear))]
    model.eval()  # shapes only; training-mode BatchNorm refuses a batch of one 1x1 map
    model(torch.empty(1, spec.channels, spec.height, spec.width, device="meta"))
    for h in handles:
        h.remove()
    saved = totals["saved"] + spec.channels * spec.height * spec.width  # the input, kept by the first convolution
    return params, buffers, totals["macs"], saved


def estimate(config: TrainConfig) -> Cost:
    """The cost of training `config` and extracting its features (see the module docstring)."""
    spec = registry.spec(config.dataset)
    K = spec.num_classes
    n_train = _split_size(spec.train_size, config.train_per_class, K)
    n_test = _split_size(spec.test_size, config.test_per_class, K)
    steps_per_epoch = len(batch_starts(n_train, config.batch_size))
    params, buffers, macs, saved = _trace(config, spec)
    kept = len(config.checkpoints)
    weights = _FLOAT * (params + buffers) + CHECKPOINT_OVERHEAD
    with_momentum = weights + _FLOAT * params
    # epoch 0 holds no momentum yet; resume.pt exists only while it is newer than every kept one
    checkpoints_bytes = sum(weights if e == 0 else with_momentum for e in config.checkpoints) + with_momentum
    widths = dict(zip(("stage1", "stage2", "stage3", "stage4"), stage_widths(config.width)))
    floats = sum(widths[layer] if layer in widths else widths["stage4"] for layer in LAYERS)
    per_sample = _FLOAT * floats * kept + _INDEX
    classifier = _FLOAT * (K * widths["stage4"] + K) * kept
    image = spec.channels * spec.height * spec.width
    batch = min(config.batch_size, n_train)
    activation_bytes = _FLOAT * saved * batch
    data_bytes = n_train * image
    return Cost(
        train_samples=n_train, test_samples=n_test, steps_per_epoch=steps_per_epoch, steps=config.epochs * steps_per_epoch,
        parameters=params, buffers=buffers, multiply_adds=macs, checkpoints=kept, checkpoint_bytes=with_momentum,
        checkpoints_bytes=checkpoints_bytes, feature_floats=floats,
        train_features_bytes=n_train * per_sample + classifier + FEATURES_OVERHEAD, test_features_bytes=n_test * per_sample, data_bytes=data_bytes, activation_bytes=activation_bytes,
        training_memory_bytes=data_bytes + _FLOAT * (3 * params + buffers) + activation_bytes,
    )


def size(nbytes: float) -> str:
    """Bytes in the largest binary unit that keeps the number >= 1 (B, KiB, MiB, GiB, TiB)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(nbytes) < 1024:
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} TiB"


def describe(cost: Cost, config: TrainConfig) -> str:
    """The estimate as the lines `deepcollapse train --dry-run` prints."""
    K = registry.spec(config.dataset).num_classes
    total = cost.checkpoints_bytes + cost.train_features_bytes + cost.test_features_bytes
    lines = [
        f"run: {config.dataset}, {cost.train_samples} training images, ResNet18 width {config.width:g}"
        + (f" with a linear head of depth {config.head_depth} (width {config.head_width})" if config.head_depth > 1 else "")
        + f" ({cost.parameters:,} parameters), loss {config.loss}",
        f"steps: {cost.steps:,} ({config.epochs} epochs x {cost.steps_per_epoch} batches of {config.batch_size}); "
        f"{3 * cost.multiply_adds * config.batch_size / 1e9:.3g} G multiply-adds per step (forward and backward)",
        f"disk, checkpoints: {size(cost.checkpoints_bytes)} ({cost.checkpoints} kept of {size(cost.checkpoint_bytes)}, and resume.pt)",
        f"disk, features: {size(cost.train_features_bytes)} for the training split "
        f"({cost.feature_floats} floats per image at each of {cost.checkpoints} checkpoints), "
        f"{size(cost.test_features_bytes)} more with --test ({cost.test_samples} test images; "
        f"--test-per-class 100: {size(cost.test_features_bytes_at(100, K))}); before compression, an upper bound",
        f"disk, total: {size(total)} (with the test split's features)",
        f"memory, training: {size(cost.training_memory_bytes)} on the device (data {size(cost.data_bytes)}, "
        f"weights, gradients and momentum {size(4 * 3 * cost.parameters)}, activations of a batch {size(cost.activation_bytes)}), "
        "plus the framework's own (~0.5 GiB on a CPU)",
        "time: steps x the cost of a step on your device (measured ones: docs/measurements.md#networks-what-a-real-run-costs)",
    ]
    return "\n".join(lines)
