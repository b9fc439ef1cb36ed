"""What a training run will cost, from its configuration alone (`deepcollapse.cost`).

ResNet18's multiply-adds per image follow from its widths (`resnet.stage_widths`), the stem and
the image size; a run does three times that (forward and backward) for every training image of
every epoch, plus a fixed cost per optimiser step.  Training is resumable and pre-emptable, so a
long run is legitimate: the check only refuses what would take more than `cost.MAX_SECONDS` at
the nominal rate of its device (``epochs: 1e9``; the paper's CIFAR-10 recipe on a CPU), and
``--allow-large`` accepts it (docs/usage.md, "Large jobs").
"""

from __future__ import annotations

import math

import torch

from ..cost import RATES, Estimate
from ..data.registry import spec
from .config import TrainConfig
from .resnet import stage_widths

#: The fixed cost of one optimiser step (seconds): kernel launches, data movement, Python.
STEP_SECONDS = 2e-3


def multiply_adds_per_image(config: TrainConfig) -> tuple[float, float]:
    """(multiply-adds of one forward pass of one image, activations stored for the backward pass)."""
    data = spec(config.dataset)
    widths = stage_widths(config.width)
    h, w, channels = data.height, data.width, data.channels
    if config.stem == "3x3":
        macs = 9 * channels * widths[0] * h * w
    else:
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        macs = 49 * channels * widths[0] * h * w
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    activations = 3 * widths[0] * h * w
    inp = widths[0]
    for i, planes in enumerate(widths):
        if i:
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        hw = h * w
        macs += 9 * inp * planes * hw + 9 * planes * planes * hw + (inp * planes * hw if inp != planes or i else 0)
        macs += 2 * 9 * planes * planes * hw
        activations += 4 * 3 * planes * hw  # four convolutions, each with its BatchNorm and ReLU outputs
        inp = planes
    return macs + widths[3] * data.num_classes, activations


def estimate(config: TrainConfig) -> Estimate:
    data = spec(config.dataset)
    images = config.train_per_class * data.num_classes if config.train_per_class else data.train_images
    macs, activations = multiply_adds_per_image(config)
    widths = stage_widths(config.width)
    params = 9 * widths[3] * widths[3] * 8  # within a factor of two of ResNet18's weights
    cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    device = "cuda" if cuda else "cpu"
    steps = config.epochs * math.ceil(images / config.batch_size)
    work = config.epochs * images * 3 * macs + steps * STEP_SECONDS * RATES[device]
    pixels = data.channels * data.height * data.width
    memory = 2 * images * pixels * 5 + min(config.batch_size, images) * activations * 4 * 3 + params * 4 * 4
    keys = {"epochs": (config.epochs, 200), "width": (config.width, 1.0), "batch_size": (config.batch_size, 128)}
    if config.train_per_class:
        keys["train_per_class"] = (config.train_per_class, 5000)
    return Estimate(memory=memory, work=work, what="training", keys=keys, device=device)
