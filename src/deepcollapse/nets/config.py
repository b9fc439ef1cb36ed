"""Training configuration: one frozen dataclass, the paper's recipe as defaults.

Tirer & Bruna (2022, §6) train ResNet18 with SGD, lr 0.05 divided by 10 every 40 epochs, weight
decay 5e-4; MSE on one-hot targets without classifier bias, cross-entropy with bias.  Epochs,
batch size and momentum are not stated there; we use the common recipe of the neural-collapse
literature (Zhu et al. 2021): 200 epochs, batch 128, momentum 0.9 (docs/math.md#extended-ce).

Build it with `deepcollapse.config.from_mapping(TrainConfig, mapping)` / `from_yaml`, which
refuse unknown keys and wrong types; `__post_init__` checks the ranges.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from ..config import check_field_types
from ..errors import InputError

# Dense early (collapse sets in fast), sparse late: 24 checkpoints over the 200 paper epochs.
PAPER_CHECKPOINTS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 140, 160, 180, 200)

#: Fields that only change *how* a run executes, not what it computes (up to floating-point
#: reassociation): a run may be resumed with different values of these.
EXECUTION_FIELDS = frozenset({"device", "compile", "cuda_graphs", "channels_last", "save_every", "data", "data_root", "threads"})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # ---- data
    dataset: Literal["digits", "mnist", "fashion-mnist", "cifar10"] = "digits"
    data: str | None = None  # store written by `deepcollapse data`; None: convert the source in memory
    data_root: str | None = None  # local directory of the standard files when `data` is None
    train_per_class: int | None = None  # balanced subsample of the training split (None: all of it)
    test_per_class: int | None = None
    # ---- model
    stem: Literal["3x3", "imagenet"] = "3x3"
    width: float = 1.0  # stage widths 64w, 128w, 256w, 512w
    bias: bool | None = None  # classifier bias; None: the paper's choice for the loss (none with MSE, with CE)
    # ---- loss: "mse" = mse_scale * mean over batch and classes of (logit - one_hot)^2,
    # i.e. mse_scale/(B K) * sum_i ||W h_i + b - e_{y_i}||^2 (torch's MSELoss(reduction="mean") at 1);
    # the UFM normalisation 1/(2N) sum_i ||...||^2 of docs/math.md#notation is mse_scale = K/2.
    loss: Literal["mse", "ce"] = "mse"
    mse_scale: float = 1.0
    # ---- optimisation (paper recipe)
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_step: int = 40  # lr *= lr_gamma every lr_step epochs
    lr_gamma: float = 0.1
    seed: int = 0
    # ---- checkpoints: kept at these epochs (0 = initialisation) for `deepcollapse features`;
    # a rolling resume point is also written every `save_every` epochs (0: never)
    checkpoints: tuple[int, ...] = PAPER_CHECKPOINTS
    save_every: int = 1
    # ---- execution
    device: str = "auto"  # "auto" (cuda if available), "cpu", "cuda", "cuda:1", ...
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16: autocast of the forward pass (the loss is computed in float32)
    channels_last: bool = False
    compile: Literal["none", "default", "reduce-overhead", "max-autotune"] = "none"  # torch.compile mode
    cuda_graphs: bool = False  # capture the whole training step in a CUDA graph (CUDA only)
    threads: int = 0  # CPU threads of torch (0: torch's default); on a shared machine 1 is often fastest

    def __post_init__(self) -> None:
        check_field_types(self)
        positive_ints = ("epochs", "batch_size", "lr_step")
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise InputError(f"key {name!r} must be a positive integer, got {getattr(self, name)}")
        for name in ("train_per_class", "test_per_class"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise InputError(f"key {name!r} must be a positive integer or null, got {value}")
        if not self.width > 0:
            raise InputError(f"key 'width' must be positive, got {self.width}")
        if not self.lr > 0:
            raise InputError(f"key 'lr' must be positive, got {self.lr}")
        for name in ("momentum", "weight_decay"):
            if getattr(self, name) < 0:
                raise InputError(f"key {name!r} must be non-negative, got {getattr(self, name)}")
        if not 0 < self.lr_gamma <= 1:
            raise InputError(f"key 'lr_gamma' must be in (0, 1], got {self.lr_gamma}")
        if not self.mse_scale > 0:
            raise InputError(f"key 'mse_scale' must be positive, got {self.mse_scale}")
        if self.threads < 0:
            raise InputError(f"key 'threads' must be >= 0, got {self.threads}")
        if self.save_every < 0:
            raise InputError(f"key 'save_every' must be >= 0, got {self.save_every}")
        bad = [e for e in self.checkpoints if not 0 <= e <= self.epochs]
        if bad:
            raise InputError(f"key 'checkpoints': epoch {bad[0]} is outside 0..epochs={self.epochs}")
        if self.bias is None:  # resolved: the paper's pairing, MSE without bias and CE with it
            object.__setattr__(self, "bias", self.loss == "ce")
        # resolved: sorted, unique, and always the final epoch
        object.__setattr__(self, "checkpoints", tuple(sorted(set(self.checkpoints) | {self.epochs})))
        if not (self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda")):
            raise InputError(f"key 'device' must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        if self.cuda_graphs and self.compile != "none":
            raise InputError("keys 'cuda_graphs' and 'compile' exclude each other (compile mode 'reduce-overhead' already uses CUDA graphs)")
