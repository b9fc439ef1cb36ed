"""`ufm.Config`: the parameters of one UFM experiment, validated when built (docs/math.md#ufm-plain, #gd-protocol, #deep-ufm).

Field names follow DESIGN.md.  Defaults are the paper's Fig. 2 / Fig. 5 setting (K=4, n=50,
d=20, every λ = 5e-3, step 0.1, 1e5 iterations, metrics every 5e3).  Which fields a model reads,
and their constraints, is declared by the model itself (`ufm.models`): a field that belongs to
another model must stay at its default (a value set there would silently do nothing, which is
refused instead).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Literal

from ..config import to_dict
from ..constraints import DEVICE, NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, Options, OrNone, validate_fields
from ..errors import InputError
from . import models

#: Fields that may differ between problems solved in one batch: they change numbers, not array
#: shapes, the model or the iteration schedule (the λ fields come from the models).
COMMON_BATCHABLE = ("seed", "lr", "init_scale", "init_scale_features")
BATCHABLE = COMMON_BATCHABLE[:1] + tuple(
    dict.fromkeys(f for name in models.names() for f in models.get(name).batchable)
) + COMMON_BATCHABLE[1:]


@dataclasses.dataclass(frozen=True)
class Config:
    """One UFM experiment: model, sizes, regularization, gradient-descent protocol and logging.

    ``model`` names a registered model (`ufm.models.names()`: plain, extended, deep).
    ``init_scale`` None means the model's default (plain 1.0, extended 0.1, deep 0.3);
    ``init_scale_features`` None means ``init_scale`` (Fig. 9d uses 0.1 for W2, W1 and 0.2 for
    H1).  Metrics are logged at iteration 0, every ``log_every`` iterations, at ``log_spaced``
    extra log-spaced iterations (to resolve the early collapse), and always at the final iterate
    ``iters``.  Deep model: ``depth`` L, ``d`` and ``lambda_W`` one number or a list of L (per
    layer, bottom first).  ``reinit_dead`` (ReLU models only, off by default) re-draws the free
    features of a sample whose pre-activations are all <= 0 at some level: a departure from plain
    GD, which cannot leave that state (docs/math.md#extended-relu).
    """

    model: str = "plain"
    activation: Literal["linear", "relu"] = "linear"
    bias: Literal["none", "unregularized", "regularized"] = "none"
    loss: Literal["mse", "ce"] = "mse"
    K: int = 4
    n: int = 50
    depth: int | None = None
    d: int | tuple[int, ...] = 20
    d1: int = 20
    d2: int = 20
    lambda_W: float | tuple[float, ...] = 5e-3
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
    reinit_dead: bool = False
    dtype: Literal["float64", "float32"] = "float64"
    device: str = "cpu"

    #: the fields every model reads; a model declares the constraints of its own fields
    #: (`models.get(name).parameter_constraints`), and `activation`, `bias`, `loss`, `dtype` and
    #: `reinit_dead` state theirs in their annotations (`constraints.declarations`)
    parameter_constraints: ClassVar[dict] = {
        "model": Options(models.names),
        "K": Interval(int, 2),
        "n": POSITIVE_INT,
        "lr": POSITIVE,
        "iters": POSITIVE_INT,
        "log_every": POSITIVE_INT,
        "log_spaced": NONNEGATIVE_INT,
        "init_scale": OrNone(POSITIVE),
        "init_scale_features": OrNone(POSITIVE),
        "seed": NONNEGATIVE_INT,
        "device": DEVICE,
    }

    def __post_init__(self) -> None:
        for name in ("d", "lambda_W"):  # a list from Python or YAML is stored as a tuple (hashable, frozen)
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        validate_fields(self)  # the declared constraints; a model's own fields are checked by the model
        self.validate()

    def validate(self) -> None:
        """The rules that span fields: another model's fields stay at their defaults, the model's
        own constraints and rules (`Model.validate`), reinit_dead needs a ReLU level, and the step
        size lets GD converge."""
        model = models.get(self.model)
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        for name in sorted(models.model_fields() - set(model.fields), key=list(defaults).index):
            if getattr(self, name) != defaults[name]:
                owners = [m for m in models.names() if name in models.get(m).fields]
                raise InputError(
                    f"{name}={getattr(self, name)!r} only applies to the {' and '.join(owners)} "
                    f"model{'s' if len(owners) > 1 else ''}; leave it out for model {self.model!r}"
                )
        model.validate(self)
        if self.reinit_dead and not model.relu_levels(self):
            raise InputError("reinit_dead only applies to models with a ReLU level (activation 'relu', depth >= 2)")
        self._check_step_size()

    def _check_step_size(self) -> None:
        """Refuse a step with which GD provably cannot converge (docs/math.md#gd-protocol).

        The Hessian's largest eigenvalue is at least that of any diagonal block: λ·I for each
        regularized factor, and exactly (1+λ_b)·I for the bias under MSE.  GD is unstable at any
        critical point where lr·λ_max ≥ 2.
        """
        for name, value in self.lambdas().items():
            if self.lr * value >= 2:
                raise InputError(f"lr={self.lr} with {name}={value} diverges: GD needs lr*{name} < 2")
        if self.has_bias and self.loss == "mse" and self.lr * (1 + self.lambda_b) >= 2:
            raise InputError(
                f"lr={self.lr} with lambda_b={self.lambda_b} diverges: the bias needs lr*(1+lambda_b) < 2"
            )

    # ------------------------------------------------------------------ derived quantities
    # The two init scales stay None when not given, so that a sweep over init_scale moves the
    # feature scale along with it; `resolved()` is what every output records.
    @property
    def weight_scale(self) -> float:
        return self.init_scale if self.init_scale is not None else models.get(self.model).default_init_scale

    @property
    def feature_scale(self) -> float:
        return self.init_scale_features if self.init_scale_features is not None else self.weight_scale

    def resolved(self) -> dict:
        """The fields as plain JSON types with the init-scale defaults filled in (re-runs identically)."""
        return {**to_dict(self), "init_scale": self.weight_scale, "init_scale_features": self.feature_scale}

    @property
    def N(self) -> int:
        return self.K * self.n

    @property
    def has_bias(self) -> bool:
        return models.get(self.model).has_bias(self)

    def lambdas(self) -> dict[str, float]:
        """The regularization weights this model uses, by name (per layer for the deep model)."""
        return models.get(self.model).lambdas(self)

    @property
    def label(self) -> str:
        """A short human description, e.g. 'plain UFM, MSE, bias unregularized'."""
        return models.get(self.model).label(self)

