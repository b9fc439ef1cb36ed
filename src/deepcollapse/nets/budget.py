"""What a training run will cost, from its configuration alone (`deepcollapse.cost`).

The run's sizes come from `nets.cost.estimate` (its ResNet18 traced on the meta device: the one
cost model of a network run, also behind `deepcollapse info --cost`); a run does three times the
forward pass's multiply-adds (forward and backward) for every training image of every epoch, plus a
fixed cost per optimiser step.  Training is resumable and pre-emptable, so a
long run is legitimate: the check only refuses what would take more than `cost.MAX_SECONDS` at
the nominal rate of its device (``epochs: 1e9``; the paper's CIFAR-10 recipe on a CPU), and
``--allow-large`` accepts it (docs/usage.md, "Large jobs").
"""

from __future__ import annotations

import torch

from ..cost import RATES, Estimate
from . import cost
from .config import TrainConfig

#: The fixed cost of one optimiser step (seconds): kernel launches, data movement, Python.
STEP_SECONDS = 2e-3


def estimate(config: TrainConfig) -> Estimate:
    run = cost.estimate(config)
    cuda = config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available())
    device = "cuda" if cuda else "cpu"
    work = config.epochs * run.train_samples * 3 * run.multiply_adds + run.steps * STEP_SECONDS * RATES[device]
    # train_per_class is no key here: the run trains on at most the whole split (a count above it
    # is refused when the data are read, naming the key)
    keys = {"epochs": (config.epochs, 200), "width": (config.width, 1.0), "batch_size": (config.batch_size, 128)}
    return Estimate(memory=run.training_memory_bytes, work=work, what="training", keys=keys, device=device)
