"""The interface every UFM model implements.

A model is one class (registered in `ufm.models`) that knows everything model-specific:

* which `ufm.Config` fields it reads (`fields`) and their constraints (`parameter_constraints`,
  declared once in the vocabulary of `deepcollapse.constraints`, introspectable:
  `describe_constraints()`);
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
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

# the constraint vocabulary is the package's; a model declaration reads these names from here
from ...constraints import NONNEGATIVE, POSITIVE_INT, Interval, PerLayer, validate_fields  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..config import Config


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
        """The declared constraints of this model's fields, then the rules spanning them (override to add some)."""
        validate_fields(config, cls.parameter_constraints)

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
