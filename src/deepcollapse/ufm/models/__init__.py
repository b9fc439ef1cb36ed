"""The registry of UFM models: `ufm.Config(model=NAME)` is solved by the class registered as NAME.

    from deepcollapse.ufm import models
    models.names()                  # ('plain', 'extended', 'deep')
    model = models.of(config)       # the class: fields, constraints, shapes, levels

Adding a model is one class (a `base.Model`, usually a `layered.LayeredModel`) that declares the
Config fields it reads and their `parameter_constraints`, registered with `register` (below);
then `python workflow/scripts/config_schema.py` regenerates params.yaml's schema rules from the
declarations (tests/unit/test_constraints.py fails until it is run); see deep.py for an example.
A model holds facts only: its closed form, if it has one, is bound to the class in
`ufm.theory.THEORIES` (theory imports the models, never the reverse, so that gradient descent does
not depend on the closed forms).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import InputError
from .base import Interval, Level, Model, PerLayer
from .deep import DeepUFM
from .extended import ExtendedUFM
from .plain import PlainUFM

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Config

_REGISTRY: dict[str, type[Model]] = {}


def register(cls: type[Model]) -> type[Model]:
    """Add a model class under its `name` (a second class of the same name is a bug)."""
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"cannot register UFM model {cls.name!r}: empty or already registered")
    _REGISTRY[cls.name] = cls
    return cls


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str) -> type[Model]:
    try:
        return _REGISTRY[name]
    except KeyError:
        choices = ", ".join(repr(n) for n in _REGISTRY)
        raise InputError(f"model={name!r} is not one of {choices}") from None


def of(config: "Config") -> type[Model]:
    """The model class of a config."""
    return get(config.model)


def model_fields() -> set[str]:
    """Every Config field that belongs to some model (the rest are common to all)."""
    return {field for cls in _REGISTRY.values() for field in cls.fields}


for _cls in (PlainUFM, ExtendedUFM, DeepUFM):
    register(_cls)

__all__ = [
    "Model", "Level", "Interval", "PerLayer",
    "register", "names", "get", "of", "model_fields",
    "PlainUFM", "ExtendedUFM", "DeepUFM",
]
