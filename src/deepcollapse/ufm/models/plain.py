"""The plain UFM (docs/math.md#ufm-plain): (1/2N)‖WH + b1ᵀ − Y‖² + λ_W/2‖W‖² + λ_H/2‖H‖² (+ λ_b/2‖b‖²), or CE.

Depth 1 of the layered family, with the paper's names (W, H, b) and an optional bias.
"""

from __future__ import annotations

from ...errors import InputError
from .base import NONNEGATIVE, POSITIVE_INT
from .layered import Layers, LayeredModel


class PlainUFM(LayeredModel):
    name = "plain"
    fields = ("bias", "d", "lambda_W", "lambda_H", "lambda_b")
    parameter_constraints = {"d": POSITIVE_INT, "lambda_W": NONNEGATIVE, "lambda_H": NONNEGATIVE, "lambda_b": NONNEGATIVE}
    batchable = ("lambda_W", "lambda_H", "lambda_b")
    default_init_scale = 1.0

    @classmethod
    def validate(cls, config) -> None:
        for name in ("d", "lambda_W"):
            if isinstance(getattr(config, name), tuple):
                raise InputError(f"{name} must be a single value for model 'plain' (a list is per layer of model 'deep')")
        super().validate(config)
        if config.bias == "regularized" and config.lambda_b <= 0:
            raise InputError(f"bias 'regularized' needs lambda_b > 0, got {config.lambda_b} (use bias 'unregularized' for 0)")
        if config.bias != "regularized" and config.lambda_b != 0:
            raise InputError(f"lambda_b={config.lambda_b} needs bias 'regularized' (bias is {config.bias!r})")

    @classmethod
    def label(cls, config) -> str:
        return f"plain UFM, {config.loss.upper()}, bias {config.bias}"

    @classmethod
    def lambdas(cls, config) -> dict[str, float]:
        out = {"lambda_W": config.lambda_W, "lambda_H": config.lambda_H}
        if config.bias == "regularized":
            out["lambda_b"] = config.lambda_b
        return out

    @classmethod
    def layers(cls, config) -> Layers:
        penalties = {"W": config.lambda_W, "H": config.lambda_H}
        if config.bias == "regularized":
            penalties["b"] = config.lambda_b
        return Layers(
            weights=("W",),
            features="H",
            widths=(config.d,),
            penalties=penalties,
            relu=False,
            bias="b" if config.bias != "none" else None,
            feature_levels=("H",),
            feature_dims=("feature",),
        )
