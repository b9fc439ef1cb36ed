"""The one model family behind every registered UFM: free features, L weight layers, optional bias.

    logits = W_L σ(W_{L-1} ⋯ σ(W_1 H_1)) (+ b 1ᵀ),   σ = identity or ReLU between layers

A concrete model only says how its config fields map onto this shape (`Layers`): the names of its
weights (top first: that is the order in which parameters are drawn and penalised, which keeps
today's seeds), the name of its free features, its widths, its λ per parameter, a bias or not,
and the names of its levels.  The plain UFM is depth 1 with an optional bias, the extended UFM
depth 2, the deep UFM any depth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .base import Level, Model


@dataclasses.dataclass(frozen=True)
class Layers:
    """The shape of one configured model (see the module docstring)."""

    weights: tuple[str, ...]  # top (acting on the last level, K rows) first
    features: str  # the free features H_1
    widths: tuple[int, ...]  # d_1 .. d_L (rows of H_1 .. H_L)
    penalties: dict[str, float]  # parameter -> λ, in objective order
    relu: bool
    bias: str | None = None  # parameter name of the bias, or None
    feature_levels: tuple[str, ...] = ()  # names of H_1 .. H_L
    preactivation_levels: tuple[str, ...] = ()  # names of Z_2 .. Z_L (ReLU only)
    feature_dims: tuple[str, ...] = ()  # public dim name of d_1 .. d_L

    @property
    def depth(self) -> int:
        return len(self.weights)

    def measured_levels(self, xs: Sequence[Any], zs: Sequence[Any], params: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
        """(level, features d×N, classifier acting on them or None, bias or None), bottom level first,
        from a forward pass: xs = X_1..X_L, zs = Z_2..Z_L (B, d, N) and the parameters (B, …); torch
        tensors or numpy arrays alike (only `@` and indexing).

        Linear: the product W_L⋯W_l acts on level l.  ReLU: only W_L (on H_L) is linear; the
        other levels and the pre-activations get the feature metrics only (the paper computes
        NC1/NC2 there).
        """
        b = params[self.bias][..., 0] if self.bias is not None else None
        if not self.relu:
            classifiers = [params[self.weights[0]]]
            for name in self.weights[1:]:
                classifiers.append(classifiers[-1] @ params[name])
            classifiers.reverse()  # classifiers[l-1] acts on level l
            return [
                (name, X, W, b if l == len(xs) else None)
                for l, (name, X, W) in enumerate(zip(self.feature_levels, xs, classifiers), start=1)
            ]
        top = params[self.weights[0]]
        out = [(self.feature_levels[0], xs[0], top if len(xs) == 1 else None, b)]
        for l in range(1, len(xs)):
            last = l == len(xs) - 1
            out.append((self.preactivation_levels[l - 1], zs[l - 1], None, None))
            out.append((self.feature_levels[l], xs[l], top if last else None, b if last else None))
        return out


class LayeredModel(Model):
    """Everything derived from `layers(config)`; subclasses define `layers` and their fields."""

    @classmethod
    def layers(cls, config) -> Layers:
        raise NotImplementedError

    @classmethod
    def regularization(cls, config) -> dict[str, float]:
        return dict(cls.layers(config).penalties)

    @classmethod
    def has_bias(cls, config) -> bool:
        return cls.layers(config).bias is not None

    @classmethod
    def depth(cls, config) -> int:
        return cls.layers(config).depth

    @classmethod
    def weight_names(cls, config) -> list[str]:
        """The weights bottom (W_1, acting on the free features) first."""
        return list(reversed(cls.layers(config).weights))

    @classmethod
    def layer_stack(cls, config) -> tuple[int, float, tuple[float, ...], tuple[int, ...]]:
        """(L, λ of the free features, λ of W_1..W_L, widths d_1..d_L), bottom first: what the theory of
        a stack of layers reads (docs/math.md#deep-ufm)."""
        spec = cls.layers(config)
        lambdas = tuple(float(spec.penalties[name]) for name in reversed(spec.weights))
        return spec.depth, spec.penalties[spec.features], lambdas, tuple(int(w) for w in spec.widths)

    @classmethod
    def param_shapes(cls, config) -> dict[str, tuple[int, ...]]:
        spec = cls.layers(config)
        rows = spec.widths[1:] + (config.K,)  # W_l maps d_l -> d_{l+1}, W_L maps d_L -> K
        shapes = {}
        for l in range(spec.depth, 0, -1):  # W_L first
            shapes[spec.weights[spec.depth - l]] = (rows[l - 1], spec.widths[l - 1])
        shapes[spec.features] = (spec.widths[0], config.N)
        if spec.bias:
            shapes[spec.bias] = (config.K, 1)
        return shapes

    @classmethod
    def param_dims(cls, config) -> dict[str, tuple[str, ...]]:
        spec = cls.layers(config)
        dims = spec.feature_dims + ("class",)
        out = {}
        for l in range(spec.depth, 0, -1):
            out[spec.weights[spec.depth - l]] = (dims[l], dims[l - 1])
        out[spec.features] = ("sample", dims[0])
        if spec.bias:
            out[spec.bias] = ("class",)
        return out

    @classmethod
    def sample_major(cls, config) -> tuple[str, ...]:
        return (cls.layers(config).features,)

    @classmethod
    def vectors(cls, config) -> tuple[str, ...]:
        bias = cls.layers(config).bias
        return (bias,) if bias else ()

    @classmethod
    def init_scales(cls, configs: Sequence[Any]) -> dict[str, list[float]]:
        spec = cls.layers(configs[0])
        weights = [c.weight_scale for c in configs]
        out = {name: weights for name in spec.weights}
        out[spec.features] = [c.feature_scale for c in configs]
        if spec.bias:
            out[spec.bias] = weights
        return out

    @classmethod
    def levels(cls, config) -> tuple[Level, ...]:
        spec = cls.layers(config)
        if not spec.relu:  # a linear classifier (the product of the weights above) acts on every level
            return tuple(Level(name, "features", True) for name in spec.feature_levels)
        out = [Level(spec.feature_levels[0], "features", spec.depth == 1)]
        for l in range(1, spec.depth):
            out.append(Level(spec.preactivation_levels[l - 1], "preactivation", False))
            out.append(Level(spec.feature_levels[l], "features", l == spec.depth - 1))
        return tuple(out)

    @classmethod
    def relu_levels(cls, config) -> tuple[str, ...]:
        spec = cls.layers(config)
        return spec.feature_levels[1:] if spec.relu else ()

    @classmethod
    def work(cls, config) -> int:
        spec = cls.layers(config)
        rows = spec.widths[1:] + (config.K,)
        return sum(r * c for r, c in zip(rows, spec.widths)) * config.N * 3
