"""The extended UFM of the paper (docs/math.md#extended-linear): (1/2N)‖W2 σ(W1H1) − Y‖² + Σ λ/2‖·‖², or CE.

Depth 2 of the layered family with the paper's names (W2, W1, H1; widths d1, d2); its levels are
H1, the pre-activation "Z" (ReLU only) and H2.
"""

from __future__ import annotations

from .base import NONNEGATIVE, POSITIVE_INT
from .layered import Layers, LayeredModel


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
