"""The interface of a model's theory: what the closed forms know about one registered model.

A model (`ufm.models`) declares facts only — fields, parameters, levels — and nothing about its
closed form, so that gradient descent never imports theory.  `ufm.theory` binds a `TheoryHooks`
to each model class that has a theory (`theory.THEORIES`); a model without an entry there gets
`TheoryHooks()` itself, which knows nothing.  `ufm.theory` (minimizer, structure, realize),
`ufm.agreement` (observed, identities) and the report pages (frames) ask
`theory.hooks(config)`.  Every method takes the config (and, for the observed quantities, one GD
end point in the public layout of `ufm.solve`, numpy float64).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .config import Config

#: The frame names a model's `frames` hook predicts (the words the report pages print).
OF, ETF, NEITHER, ZERO = "orthogonal frame", "simplex ETF", "neither ETF nor OF", "zero solution"


class TheoryHooks:
    """What theory knows about a model: this base class knows nothing (a model without theory)."""

    reason = "no closed form or reduced problem is registered for this model"

    def minimizer(self, config: "Config") -> dict[str, Any]:
        """The global minimum (key "objective") and its scalars; "available" False without theory."""
        nan = float("nan")
        return {"model": config.label, "available": False, "reason": self.reason, "objective": nan, "zero": None}

    def structure(self, config: "Config") -> dict[str, Any]:
        """The predicted gauge-invariant structure of a minimizer (Gram matrices, alignments), keyed as `observed`."""
        return {}

    def realize(self, config: "Config", *, seed: int = 0) -> dict[str, Any]:
        """One explicit minimizer in the public layout (raises ValueError without a closed form)."""
        raise ValueError(f"no closed form for this configuration: {self.reason}")

    def observed(self, config: "Config", params: Mapping[str, Any]) -> dict[str, Any]:
        """The quantities `structure` predicts, measured on a GD end point."""
        return {}

    def identities(self, config: "Config", params: Mapping[str, Any]) -> dict[str, float]:
        """Relative residuals of the identities that hold at every critical point (0 there)."""
        return {}

    def frames(self, config: "Config", info: Mapping[str, Any]) -> dict[str, str]:
        """{level: frame} (OF, ETF, NEITHER, ZERO) of the class means that a *verified* theory
        predicts, given `info = minimizer(config)`; {} claims nothing (the report pages then say
        nothing about the structure)."""
        return {}
