"""What a gradient-descent end point shows: the observables theory predicts, and the critical-point identities.

Per model family, the functions the theory hooks (`ufm.theory`) bind: `plain_*`, `extended_*` and
`layered_*` (any bias-free stack of layers) `observed(config, params)` — Gram matrices, alignments
and spectra, keyed as `theory.structure` names its predictions — and `*_identities(config,
params)`, the relative residuals of the identities every critical point satisfies
(docs/math.md#critical-point-identities); `dead_at_end(point)`, the ReLU dead samples of a stored
run's final iterate.  Parameters are in the public layout of `ufm.solve` (H sample-major), numpy
float64.  Only the model's facts are read (`ufm.models`), no closed form.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import models
from .config import Config


def _class_means(features: np.ndarray, K: int) -> np.ndarray:
    """Class means as columns (p × K) of column-layout features (p × N, class-major)."""
    p, N = features.shape
    return features.reshape(p, K, N // K).mean(axis=-1)


def _descending(values: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.float64))[::-1]


def weight_names(config: Config) -> list[str]:
    """The weights of a layered model, bottom (W_1) first."""
    return models.of(config).weight_names(config)


def level_means(config: Config, params: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Class means (p × K, uncentered) of H_1 … H_L of a layered GD end point (ReLU applied)."""
    relu = config.activation == "relu"
    X = params[models.of(config).layers(config).features].T
    out = [_class_means(X, config.K)]
    for name in weight_names(config)[:-1]:
        X = params[name] @ X
        if relu:
            X = np.maximum(X, 0)
        out.append(_class_means(X, config.K))
    return out


def _spectra(config: Config, params: dict[str, np.ndarray], means: list[np.ndarray]) -> dict[str, Any]:
    """Relabelling-invariant observables: singular values of the logits' class means, Gram spectra."""
    top = params[weight_names(config)[-1]]
    out: dict[str, Any] = {"Z_singular_values": np.linalg.svd(top @ means[-1], compute_uv=False)}
    for l, mean in enumerate(means, start=1):
        out[f"H{l}bar_gram_eigenvalues"] = _descending(np.linalg.eigvalsh(mean.T @ mean))
    return out


def layered_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of a stack of layers (the deep UFM): every level's Gram matrix, the top classifier, spectra."""
    means = level_means(config, params)
    top = params[weight_names(config)[-1]]
    out = {"top_WWt": top @ top.T, "means_top": means[-1], **_spectra(config, params, means)}
    out.update({f"H{l}bar_gram": mean.T @ mean for l, mean in enumerate(means, start=1)})
    return out


def plain_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of the plain UFM: W Wᵀ, H̄ᵀH̄, W H̄, the class means and the bias."""
    W, H = params["W"], params["H"].T
    means = _class_means(H, config.K)
    out = {"WWt": W @ W.T, "Hbar_gram": means.T @ means, "W_Hbar": W @ means, "means": means}
    if "b" in params:
        out["b"] = params["b"]
        out["b_centered"] = params["b"] - params["b"].mean()
    return out


def extended_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of the extended UFM, keyed as `theory.extended_structure` names its predictions."""
    K = config.K
    W2, W1, H1 = params["W2"], params["W1"], params["H1"].T
    Z = W1 @ H1
    H2 = np.maximum(Z, 0) if config.activation == "relu" else Z
    means1, means2 = _class_means(H1, K), _class_means(H2, K)
    return {
        "W2W2t": W2 @ W2.T,
        "H1bar_gram": means1.T @ means1,
        "H2bar_gram": means2.T @ means2,
        "W2_H2bar": W2 @ means2,
        "W2W1_H1bar": W2 @ W1 @ means1,
        "W1_singular_values": np.linalg.svd(W1, compute_uv=False),
        "means2": means2,
        **_spectra(config, params, [means1, means2]),
    }


#: Sides of an identity smaller than this (in Frobenius norm) count as 0: at the zero solution
#: both sides are ~1e-30 and their relative difference means nothing.
IDENTITY_FLOOR = 1e-12


def _balance(left: np.ndarray, right: np.ndarray) -> float:
    """‖left − right‖ / max(‖left‖, ‖right‖, IDENTITY_FLOOR)."""
    scale = max(float(np.linalg.norm(left)), float(np.linalg.norm(right)), IDENTITY_FLOOR)
    return float(np.linalg.norm(left - right)) / scale


def plain_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """The plain UFM's balance λ_W WᵀW = λ_H HHᵀ, and b = 1/K − W h_G for an unregularized bias (MSE)."""
    W, H = params["W"], params["H"].T
    out = {"lambda_W WtW = lambda_H HHt": _balance(config.lambda_W * W.T @ W, config.lambda_H * H @ H.T)}
    if config.bias == "unregularized" and config.loss == "mse":
        b = params["b"]
        out["b = 1/K - W h_G"] = _balance(b, 1.0 / config.K - W @ H.mean(axis=1))
    return out


def extended_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """The extended UFM's adjacent-factor balances (per hidden unit through the ReLU)."""
    W2, W1, H1 = params["W2"], params["W1"], params["H1"].T
    out = {"lambda_W1 W1tW1 = lambda_H1 H1H1t": _balance(config.lambda_W1 * W1.T @ W1, config.lambda_H1 * H1 @ H1.T)}
    top, below = config.lambda_W2 * W2.T @ W2, config.lambda_W1 * W1 @ W1.T
    if config.activation == "relu":  # only per hidden unit through the ReLU
        out["diag(lambda_W2 W2tW2) = diag(lambda_W1 W1W1t)"] = _balance(np.diag(top), np.diag(below))
    else:
        out["lambda_W2 W2tW2 = lambda_W1 W1W1t"] = _balance(top, below)
    return out


def layered_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """Adjacent-factor balance of the deep UFM: λ_W1 W1ᵀW1 = λ_H H1H1ᵀ, λ_{l+1} W_{l+1}ᵀW_{l+1} = λ_l W_l W_lᵀ.

    Through a ReLU only the diagonals (per hidden unit) balance, as for the extended model.
    """
    _, lam_H, lam_Ws, _ = models.of(config).layer_stack(config)
    names = weight_names(config)
    H1, W1 = params["H1"].T, params[names[0]]
    out = {"lambda_W1 W1tW1 = lambda_H H1H1t": _balance(lam_Ws[0] * W1.T @ W1, lam_H * H1 @ H1.T)}
    for l in range(1, len(names)):
        upper, lower = params[names[l]], params[names[l - 1]]
        top, below = lam_Ws[l] * upper.T @ upper, lam_Ws[l - 1] * lower @ lower.T
        key = f"lambda_W{l + 1} W{l + 1}tW{l + 1} = lambda_W{l} W{l}W{l}t"
        if config.activation == "relu":
            out["diag(" + key + ")"] = _balance(np.diag(top), np.diag(below))
        else:
            out[key] = _balance(top, below)
    return out


def dead_at_end(point) -> int:
    """Dead samples at the final iterate, summed over the ReLU levels (0 without the variables)."""
    total = 0
    for name in point.data_vars:
        if name.startswith("dead_samples_"):
            value = point[name]
            if "iteration" in value.dims:
                value = value.isel(iteration=-1)
            total += int(np.asarray(value.values).sum())
    return total
