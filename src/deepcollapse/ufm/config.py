"""`ufm.Config`: the parameters of one UFM experiment, validated when built (docs/math.md#ufm-plain, docs/math.md#gd-protocol).

Field names follow DESIGN.md.  Defaults are the paper's Fig. 2 / Fig. 5 setting (K=4, n=50,
d=20, every λ = 5e-3, step 0.1, 1e5 iterations, metrics every 5e3).  Fields that belong to the
other model (``d`` and ``lambda_W`` for the extended UFM, ``d1`` for the plain one, ...) must stay
at their defaults: a value set there would silently do nothing, which is refused instead.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import typing
from typing import Literal

from ..config import check_field_types
from ..errors import InputError

#: Fields used by one model only; the others must keep their defaults there.
PLAIN_ONLY = ("bias", "d", "lambda_W", "lambda_H", "lambda_b")
EXTENDED_ONLY = ("activation", "d1", "d2", "lambda_W1", "lambda_W2", "lambda_H1")

#: Fields that may differ between problems solved in one batch: they change numbers, not array
#: shapes, the model or the iteration schedule.
BATCHABLE = (
    "seed",
    "lambda_W",
    "lambda_H",
    "lambda_b",
    "lambda_W1",
    "lambda_W2",
    "lambda_H1",
    "lr",
    "init_scale",
    "init_scale_features",
)

#: Default init scale per model (docs/math.md#gd-protocol: the extended UFM diverges from N(0,1) at step 0.1).
DEFAULT_INIT_SCALE = {"plain": 1.0, "extended": 0.1}

_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


@dataclasses.dataclass(frozen=True)
class Config:
    """One UFM experiment: model, sizes, regularization, gradient-descent protocol and logging.

    ``init_scale`` None means 1.0 (plain) or 0.1 (extended); ``init_scale_features`` None means
    ``init_scale`` (Fig. 9d uses 0.1 for W2, W1 and 0.2 for H1).  Metrics are logged
    at iteration 0, every ``log_every`` iterations, at ``log_spaced`` extra log-spaced iterations
    (to resolve the early collapse), and always at the final iterate ``iters``.
    """

    model: Literal["plain", "extended"] = "plain"
    activation: Literal["linear", "relu"] = "linear"
    bias: Literal["none", "unregularized", "regularized"] = "none"
    loss: Literal["mse", "ce"] = "mse"
    K: int = 4
    n: int = 50
    d: int = 20
    d1: int = 20
    d2: int = 20
    lambda_W: float = 5e-3
    lambda_H: float = 5e-3
    lambda_b: float = 0.0
    lambda_W1: float = 5e-3
    lambda_W2: float = 5e-3
    lambda_H1: float = 5e-3
    lr: float = 0.1
    iters: int = 100_000
    log_every: int = 5000
    log_spaced: int = 0
    init_scale: float | None = None
    init_scale_features: float | None = None
    seed: int = 0
    dtype: Literal["float64", "float32"] = "float64"
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_field_types(self)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        unused = EXTENDED_ONLY if self.model == "plain" else PLAIN_ONLY
        for name in unused:
            if getattr(self, name) != defaults[name]:
                other = "extended" if self.model == "plain" else "plain"
                raise InputError(
                    f"{name}={getattr(self, name)!r} only applies to the {other} model; "
                    f"leave it out for model {self.model!r}"
                )
        if self.K < 2:
            raise InputError(f"K must be at least 2, got {self.K}")
        for name in ("n", "d", "d1", "d2", "log_every"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for name in ("iters", "log_spaced", "seed"):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must be non-negative, got {getattr(self, name)}")
        for name, value in self.lambdas().items():
            if not (math.isfinite(value) and value >= 0):
                raise InputError(f"{name} must be a non-negative number, got {value}")
        if self.bias == "regularized" and self.lambda_b <= 0:
            raise InputError(f"bias 'regularized' needs lambda_b > 0, got {self.lambda_b} (use bias 'unregularized' for 0)")
        if self.bias != "regularized" and self.lambda_b != 0:
            raise InputError(f"lambda_b={self.lambda_b} needs bias 'regularized' (bias is {self.bias!r})")
        self._check_step_size()
        if not _DEVICE.match(self.device):
            raise InputError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        for name in ("init_scale", "init_scale_features"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be a positive number, got {value}")

    def _check_step_size(self) -> None:
        """Refuse a step with which GD provably cannot converge (docs/math.md#gd-protocol).

        The Hessian's largest eigenvalue is at least that of any diagonal block: λ·I for each
        regularized factor, and exactly (1+λ_b)·I for the bias under MSE.  GD is unstable at any
        critical point where lr·λ_max ≥ 2.
        """
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be a positive number, got {self.lr}")
        for name, value in self.lambdas().items():
            if self.lr * value >= 2:
                raise InputError(f"lr={self.lr} with {name}={value} diverges: GD needs lr*{name} < 2")
        if self.has_bias and self.loss == "mse" and self.lr * (1 + self.lambda_b) >= 2:
            raise InputError(
                f"lr={self.lr} with lambda_b={self.lambda_b} diverges: the bias needs lr*(1+lambda_b) < 2 (docs/math.md#gd-protocol)"
            )

    # ------------------------------------------------------------------ derived quantities
    # The two init scales stay None when not given, so that a sweep over init_scale moves the
    # feature scale along with it; `resolved()` is what every output records.
    @property
    def weight_scale(self) -> float:
        return self.init_scale if self.init_scale is not None else DEFAULT_INIT_SCALE[self.model]

    @property
    def feature_scale(self) -> float:
        return self.init_scale_features if self.init_scale_features is not None else self.weight_scale

    def resolved(self) -> dict:
        """The fields as plain JSON types with the init-scale defaults filled in (re-runs identically)."""
        from ..config import to_dict

        return {**to_dict(self), "init_scale": self.weight_scale, "init_scale_features": self.feature_scale}

    @property
    def N(self) -> int:
        return self.K * self.n

    @property
    def has_bias(self) -> bool:
        return self.model == "plain" and self.bias != "none"

    def lambdas(self) -> dict[str, float]:
        """The regularization weights this model uses, by field name."""
        if self.model == "plain":
            out = {"lambda_W": self.lambda_W, "lambda_H": self.lambda_H}
            if self.bias == "regularized":
                out["lambda_b"] = self.lambda_b
            return out
        return {"lambda_W2": self.lambda_W2, "lambda_W1": self.lambda_W1, "lambda_H1": self.lambda_H1}

    @property
    def label(self) -> str:
        """A short human description, e.g. 'plain UFM, MSE, unregularized bias'."""
        if self.model == "plain":
            return f"plain UFM, {self.loss.upper()}, bias {self.bias}"
        return f"extended UFM, {self.loss.upper()}, {self.activation}"
