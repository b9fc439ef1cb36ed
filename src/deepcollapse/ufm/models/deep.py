"""The deep UFM (docs/math.md#deep-ufm): free features H1 and L weight layers, σ = identity or ReLU between them.

    (1/2N)‖W_L H_L − Y‖² (or CE) + Σ_l λ_Wl/2 ‖W_l‖² + λ_H/2 ‖H_1‖²,   H_{l+1} = σ(W_l H_l), no bias

Config: ``depth`` L, ``d`` the widths d_1..d_L (one number: every level), ``lambda_W`` the λ of
W_1..W_L (one number: every layer), ``lambda_H`` the λ of H_1.  Parameters W_L, …, W_1, H1 (drawn
in that order, as the extended UFM draws W2, W1, H1, so depth 2 reproduces it exactly); levels
H1 … HL and, with ReLU, the pre-activations Z2 … ZL (Z_l = W_{l-1} H_{l-1}).
"""

from __future__ import annotations

from typing import Any

from ...errors import InputError
from .base import NONNEGATIVE, POSITIVE_INT, Interval, PerLayer
from .layered import Layers, LayeredModel

#: Deeper factorisations are not studied and would only make GD slower (docs/math.md#deep-ufm uses L <= 5).
MAX_DEPTH = 16


def per_layer(value: Any, depth: int) -> tuple:
    """A per-layer field as a tuple of `depth` values (one number means every layer)."""
    return tuple(value) if isinstance(value, tuple) else (value,) * depth


class DeepUFM(LayeredModel):
    name = "deep"
    fields = ("depth", "activation", "d", "lambda_W", "lambda_H")
    parameter_constraints = {
        "depth": Interval(int, 1, MAX_DEPTH),
        "d": PerLayer(POSITIVE_INT),
        "lambda_W": PerLayer(NONNEGATIVE),
        "lambda_H": NONNEGATIVE,
    }
    batchable = ("lambda_W", "lambda_H")
    default_init_scale = 0.3  # docs/math.md#deep-ufm: 0.1 sends most L >= 3 runs to the origin, 0.3 reaches the optimum

    @classmethod
    def validate(cls, config) -> None:
        if config.depth is None:
            raise InputError("model 'deep' needs depth (the number of weight layers L >= 1)")
        super().validate(config)  # PerLayer reads config.depth

    @classmethod
    def label(cls, config) -> str:
        return f"deep UFM (L={config.depth}), {config.loss.upper()}, {config.activation}"

    @classmethod
    def lambdas(cls, config) -> dict[str, float]:
        out = {f"lambda_W{l}": v for l, v in enumerate(per_layer(config.lambda_W, config.depth), start=1)}
        out["lambda_H"] = config.lambda_H
        return out

    @classmethod
    def layers(cls, config) -> Layers:
        L = config.depth
        lambdas = per_layer(config.lambda_W, L)
        weights = tuple(f"W{l}" for l in range(L, 0, -1))
        penalties = {f"W{l}": lambdas[l - 1] for l in range(L, 0, -1)}
        penalties["H1"] = config.lambda_H
        return Layers(
            weights=weights,
            features="H1",
            widths=tuple(int(w) for w in per_layer(config.d, L)),
            penalties=penalties,
            relu=config.activation == "relu",
            feature_levels=tuple(f"H{l}" for l in range(1, L + 1)),
            preactivation_levels=tuple(f"Z{l}" for l in range(2, L + 1)),
            feature_dims=tuple(f"feature{l}" for l in range(1, L + 1)),
        )
