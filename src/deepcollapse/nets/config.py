"""Training configuration: one frozen dataclass, the paper's recipe as defaults.

Tirer & Bruna (2022, §6) train ResNet18 with SGD, lr 0.05 divided by 10 every 40 epochs, weight
decay 5e-4; MSE on one-hot targets without classifier bias, cross-entropy with bias.  Epochs,
batch size and momentum are not stated there; we use the common recipe of the neural-collapse
literature (Zhu et al. 2021): 200 epochs, batch 128, momentum 0.9 (docs/math.md#extended-ce).

Build it with `deepcollapse.config.from_mapping(TrainConfig, mapping)` / `from_yaml`, which
refuse unknown keys and wrong types; `__post_init__` checks the constraints declared in
`TrainConfig.parameter_constraints` and the rules that span fields.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from ..constraints import DEVICE, NONNEGATIVE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, ListOf, Options, OrNone, validate_fields
from ..data.registry import NAMES as DATASETS
from ..errors import InputError

# Dense early (collapse sets in fast), sparse late: 24 checkpoints over the 200 paper epochs.
PAPER_CHECKPOINTS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 140, 160, 180, 200)

#: Fields that only change *how* a run executes, not what it computes (up to floating-point
#: rounding: `precision` trades bits for speed): a run may be resumed with different values of
#: these, and run.json records each segment's values (`trainer`, provenance "segments").
EXECUTION_FIELDS = frozenset({"device", "precision", "compile", "cuda_graphs", "channels_last", "save_every", "data", "data_root", "threads"})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    # ---- data
    dataset: str = "digits"  # a name of data.registry (its SPECS)
    data: str | None = None  # store written by `deepcollapse data`; None: convert the source in memory
    data_root: str | None = None  # local directory of the standard files when `data` is None
    train_per_class: int | None = None  # balanced subsample of the training split (None: all of it)
    test_per_class: int | None = None
    # ---- model
    stem: Literal["3x3", "imagenet"] = "3x3"
    width: float = 1.0
    bias: bool | None = None  # classifier bias; None: the paper's choice for the loss (none with MSE, with CE)
    # linear head (Garrod & Keating 2025, Fig. 3): head_depth linear layers between the pooled
    # penultimate features and the logits, no nonlinearity between them; 1 is the plain classifier.
    # The hidden layers (head_depth - 1 of them, head_width outputs each) have no bias, the last
    # layer has `bias` (docs/configuration.md#networks).
    head_depth: int = 1
    head_width: int = 64
    # ---- loss: "mse" = mse_scale * mean over batch and classes of (logit - one_hot)^2,
    # i.e. mse_scale/(B K) * sum_i ||W h_i + b - e_{y_i}||^2 (torch's MSELoss(reduction="mean") at 1);
    # the UFM normalisation 1/(2N) sum_i ||...||^2 of docs/math.md#notation is mse_scale = K/2.
    loss: Literal["mse", "ce"] = "mse"
    mse_scale: float = 1.0
    # ---- optimisation (paper recipe)
    epochs: int = 200
    # BatchNorm cannot normalise a batch of one sample in training mode
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
    # fp32: IEEE float32 everywhere (TensorFloat-32 off, also for cuDNN convolutions, which torch
    # would otherwise run in TF32 on Ampere and later); tf32: TF32 tensor cores for fp32 matmuls
    # and convolutions (CUDA only); bf16: autocast of the forward pass (the loss in float32)
    precision: Literal["fp32", "tf32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: Literal["none", "default", "reduce-overhead", "max-autotune"] = "none"  # torch.compile mode
    cuda_graphs: bool = False  # capture the whole training step in a CUDA graph (CUDA only)
    threads: int = 0  # CPU threads of torch (0: torch's default); on a shared machine 1 is often fastest

    #: the meaningful values of each number field (the Literal, bool and str fields say theirs in
    #: their annotations; see `deepcollapse.constraints`)
    parameter_constraints: ClassVar[dict] = {
        "dataset": Options(DATASETS),
        "train_per_class": OrNone(POSITIVE_INT),
        "test_per_class": OrNone(POSITIVE_INT),
        # stage widths 64w, 128w, 256w, 512w (rounded); below 1/64 the first stage would have no channel
        "width": Interval(float, 1 / 64, 64, why="64*width channels in the first stage, at least one"),
        "head_depth": Interval(int, 1, 64, why="linear layers from the penultimate features to the logits; 1 is the plain classifier"),
        "head_width": Interval(int, 1, 1 << 16, why="outputs of each hidden layer of the linear head"),
        "mse_scale": POSITIVE,
        "epochs": POSITIVE_INT,
        "batch_size": Interval(int, 2, why="BatchNorm needs two samples per batch"),
        "lr": POSITIVE,
        "momentum": NONNEGATIVE,
        "weight_decay": NONNEGATIVE,
        "lr_step": POSITIVE_INT,
        "lr_gamma": Interval(float, 0, 1, closed="right"),
        "seed": Interval(int, 0, why="numpy seeds are non-negative"),
        "checkpoints": ListOf(NONNEGATIVE_INT),
        "save_every": NONNEGATIVE_INT,
        "device": DEVICE,
        "threads": NONNEGATIVE_INT,
    }

    def __post_init__(self) -> None:
        validate_fields(self)
        self.validate()
        if self.bias is None:  # resolved: the paper's pairing, MSE without bias and CE with it
            object.__setattr__(self, "bias", self.loss == "ce")
        # resolved: sorted, unique, and always the final epoch
        object.__setattr__(self, "checkpoints", tuple(sorted(set(self.checkpoints) | {self.epochs})))

    def validate(self) -> None:
        """The rules that span fields (each field's own values are declared above)."""
        bad = [e for e in self.checkpoints if not 0 <= e <= self.epochs]
        if bad:
            raise InputError(f"key 'checkpoints': epoch {bad[0]} is outside 0..epochs={self.epochs}")
        if self.cuda_graphs and self.compile != "none":
            raise InputError("keys 'cuda_graphs' and 'compile' exclude each other (compile mode 'reduce-overhead' already uses CUDA graphs)")
