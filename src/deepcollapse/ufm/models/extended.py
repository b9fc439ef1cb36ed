"""The extended UFM of the paper (docs/math.md#extended-linear): (1/2N)‖W2 σ(W1H1) − Y‖² + Σ λ/2‖·‖², or CE.

Depth 2 of the layered family with the paper's names (W2, W1, H1; widths d1, d2); its levels are
H1, the pre-activation "Z" (ReLU only) and H2.
"""

from __future__ import annotations

from .base import NONNEGATIVE, OF, POSITIVE_INT, ZERO, ImplementedTheory
from .layered import Layers, LayeredModel


class ExtendedTheory(ImplementedTheory):
    """Theorems 4.1 (linear MSE) and 4.2 (ReLU MSE), the reduced K × K problem (linear CE), no theory
    for ReLU CE (docs/math.md#extended-linear, #extended-relu, #extended-ce); implemented in
    `ufm.theory.extended_*` and `ufm.agreement.extended_*`."""

    implemented_by = {"minimizer": "theory.extended_minimizer", "structure": "theory.extended_structure", "realize": "theory.extended_realize",
                      "observed": "agreement.extended_observed", "identities": "agreement.extended_identities"}  # fmt: skip

    def frames(self, config, info):
        if info.get("zero"):
            return {"H2": ZERO}
        if config.loss == "mse":  # Thm 4.1: OF at both levels; Thm 4.2: no claim on H1
            return {"H1": OF, "H2": OF} if config.activation == "linear" else {"H2": OF}
        return {}  # CE: the reduced problem's structure depends on K and Kρ (docs/math.md#extended-ce)


class ExtendedUFM(LayeredModel):
    name = "extended"
    fields = ("activation", "d1", "d2", "lambda_W1", "lambda_W2", "lambda_H1")
    parameter_constraints = {
        "d1": POSITIVE_INT,
        "d2": POSITIVE_INT,
        "lambda_W1": NONNEGATIVE,
        "lambda_W2": NONNEGATIVE,
        "lambda_H1": NONNEGATIVE,
    }
    batchable = ("lambda_W1", "lambda_W2", "lambda_H1")
    default_init_scale = 0.1  # docs/math.md#gd-protocol: N(0,1) diverges at step 0.1
    theory = ExtendedTheory()

    @classmethod
    def label(cls, config) -> str:
        return f"extended UFM, {config.loss.upper()}, {config.activation}"

    @classmethod
    def lambdas(cls, config) -> dict[str, float]:
        return {"lambda_W2": config.lambda_W2, "lambda_W1": config.lambda_W1, "lambda_H1": config.lambda_H1}

    @classmethod
    def layers(cls, config) -> Layers:
        return Layers(
            weights=("W2", "W1"),
            features="H1",
            widths=(config.d1, config.d2),
            penalties={"W2": config.lambda_W2, "W1": config.lambda_W1, "H1": config.lambda_H1},
            relu=config.activation == "relu",
            feature_levels=("H1", "H2"),
            preactivation_levels=("Z",),
            feature_dims=("feature1", "feature2"),
        )
