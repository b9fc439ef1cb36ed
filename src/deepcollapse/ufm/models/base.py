"""The interface every UFM model implements, and the declarative field constraints it uses.

A model is one class (registered in `ufm.models`) that knows everything model-specific:

* which `ufm.Config` fields it reads (`fields`) and their constraints (`parameter_constraints`,
  declared once, scikit-learn style, and introspectable: `describe_constraints()`);
* its parameters: names in drawing order, shapes in the column layout of the math, public dims
  (sample-major features), initialisation scales (`param_shapes`, `param_dims`, `init_scales`);
* its regularisers (`regularization`: parameter -> λ) and the λ fields a sweep may vary;
* its feature levels ("H"; "H1", "Z2", "H2", ...); `ufm.problems.build` makes from them the
  object that evaluates the objective and its explicit gradients;
* the work of one GD iteration (`work`, multiply-adds), which picks the thread count.

Solver, batched solver, theory table and plots ask the model (`ufm.models.of(config)`) instead of
branching on the model name.  A model holds facts only: what theory knows about it (its closed
form, predicted structure, critical-point identities) is bound to the model class on the theory
side (`ufm.theory.THEORIES`), so that gradient descent never imports the closed forms.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ...errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..config import Config


# ----------------------------------------------------------------------------------- constraints
@dataclasses.dataclass(frozen=True)
class Interval:
    """A number (or integer) in [low, high], each end open or closed; None = unbounded."""

    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.kind is int and not isinstance(value, numbers.Integral):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        if self.high is None and self.low in (0, 1) and self.closed in ("both", "left"):
            if self.kind is int and self.low == 1:
                return "a positive integer"
            if self.kind is float and self.low == 0:
                return "a non-negative number"
        name = "an integer" if self.kind is int else "a finite number"
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self.closed in ('both', 'left') else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self.closed in ('both', 'right') else '<'} {self.high:g}")
        return name + (" " + " and ".join(parts) if parts else "")


@dataclasses.dataclass(frozen=True)
class PerLayer:
    """A value satisfying `item`, or a list of exactly `config.depth` of them (one per layer)."""

    item: Interval

    def accepts(self, value: Any, *, length: int | None = None) -> bool:
        if isinstance(value, (list, tuple)):
            return (length is None or len(value) == length) and all(self.item.accepts(v) for v in value)
        return self.item.accepts(value)

    def __str__(self) -> str:
        return f"{self.item}, or a list of one per layer"


def check_constraints(config: "Config", constraints: Mapping[str, Any], *, model: str, length: int | None = None) -> None:
    """Raise InputError naming the first field of `config` that violates its constraint."""
    for name, constraint in constraints.items():
        value = getattr(config, name)
        ok = constraint.accepts(value, length=length) if isinstance(constraint, PerLayer) else constraint.accepts(value)
        if not ok:
            extra = f" (depth {length})" if isinstance(constraint, PerLayer) and isinstance(value, (list, tuple)) else ""
            raise InputError(f"{name} must be {constraint}{extra}, got {value!r}")


POSITIVE_INT = Interval(int, 1)
NONNEGATIVE = Interval(float, 0.0)


# ----------------------------------------------------------------------------------- levels
@dataclasses.dataclass(frozen=True)
class Level:
    """One feature level of a model: its name and whether a linear classifier acts on it."""

    name: str
    kind: str  # "features" (H's) or "preactivation" (Z's, before a ReLU)
    has_classifier: bool


# ----------------------------------------------------------------------------------- the model
class Model:
    """Base class of a registered UFM model (see the module docstring for the contract)."""

    #: the `model:` value of a config
    name: ClassVar[str] = ""
    #: Config fields this model reads beyond the common ones (model, loss, K, n, lr, iters, ...);
    #: every other model-specific field must stay at its default.
    fields: ClassVar[tuple[str, ...]] = ()
    #: field -> constraint, checked when the Config is built
    parameter_constraints: ClassVar[dict[str, Any]] = {}
    #: fields a sweep may vary within one batch (beyond seed, lr and the init scales)
    batchable: ClassVar[tuple[str, ...]] = ()
    #: init scale of the weights when `init_scale` is not given (docs/math.md#gd-protocol)
    default_init_scale: ClassVar[float] = 1.0

    # ---- configuration
    @classmethod
    def validate(cls, config: "Config") -> None:
        """Model-specific checks beyond the declared constraints (cross-field rules)."""
        check_constraints(config, cls.parameter_constraints, model=cls.name)

    @classmethod
    def describe_constraints(cls) -> dict[str, str]:
        """field -> constraint in words (introspection, docs, error messages)."""
        return {name: str(c) for name, c in cls.parameter_constraints.items()}

    @classmethod
    def label(cls, config: "Config") -> str:
        return f"{cls.name} UFM, {config.loss.upper()}"

    @classmethod
    def lambdas(cls, config: "Config") -> dict[str, float]:
        """The regularisation weights by config field name (per-layer lists spelled out)."""
        raise NotImplementedError

    @classmethod
    def regularization(cls, config: "Config") -> dict[str, float]:
        """parameter name -> λ of its penalty λ/2‖·‖², in the order the objective adds them."""
        raise NotImplementedError

    @classmethod
    def has_bias(cls, config: "Config") -> bool:
        return False

    @classmethod
    def depth(cls, config: "Config") -> int | None:
        """The number of weight layers (None for a model that is not a stack of layers)."""
        return None

    @classmethod
    def table_columns(cls, config: "Config") -> dict[str, Any]:
        """The descriptive columns of an agreement-table row ("" for a field the model does not read)."""
        return {
            "activation": config.activation if "activation" in cls.fields else "",
            "depth": cls.depth(config),
            "bias": config.bias if "bias" in cls.fields else "",
        }

    # ---- parameters
    @classmethod
    def param_shapes(cls, config: "Config") -> dict[str, tuple[int, ...]]:
        """name -> shape in the math's column layout (features d × N), in drawing order."""
        raise NotImplementedError

    @classmethod
    def param_dims(cls, config: "Config") -> dict[str, tuple[str, ...]]:
        """name -> dims of the public (sample-major) layout of `ufm.solve`."""
        raise NotImplementedError

    @classmethod
    def sample_major(cls, config: "Config") -> tuple[str, ...]:
        """Parameters stored transposed in the public layout (the free features)."""
        return ()

    @classmethod
    def vectors(cls, config: "Config") -> tuple[str, ...]:
        """Parameters that are vectors in the public layout (stored as K × 1 columns inside)."""
        return ()

    @classmethod
    def init_scales(cls, configs: Sequence["Config"]) -> dict[str, list[float]]:
        """Per-parameter init scale of each problem (weights by init_scale, features by init_scale_features)."""
        raise NotImplementedError

    # ---- levels and work
    @classmethod
    def levels(cls, config: "Config") -> tuple[Level, ...]:
        raise NotImplementedError

    @classmethod
    def level_names(cls, config: "Config") -> tuple[str, ...]:
        return tuple(level.name for level in cls.levels(config))

    @classmethod
    def relu_levels(cls, config: "Config") -> tuple[str, ...]:
        """Feature levels computed through a ReLU (where samples can die, docs/math.md#extended-relu)."""
        return ()

    @classmethod
    def work(cls, config: "Config") -> int:
        """Multiply-adds of one GD iteration of one problem (forward and backward matmuls)."""
        raise NotImplementedError
