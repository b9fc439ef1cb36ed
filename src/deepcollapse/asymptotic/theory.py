"""Closed forms of the fixed-noisy-features study (docs/math.md#ufm-bias-free, docs/math.md#extended-linear, docs/math.md#theorem-5-1).

The collapsed minimizers are written sample-major, like the rest of the API: the class means
H̄* are the K rows of a (K, d) array and the classifier W* has shape (K, d), so Theorem 3.1's
W* = κ H̄*ᵀ (columns) reads W* = κ · means here.

The frame is fixed and coordinate-aligned: class k's mean is h·e_k.  Any orthogonal frame is a
minimizer (the problem is rotation invariant); the aligned one keeps the stored arrays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError

# The extended UFM's threshold (a nonzero global minimizer iff Kρ < 2^(-4/3)) and the quartic's
# root are the UFM closed forms' own (docs/math.md#extended-linear): one implementation of each.
from ..ufm.theory import EXTENDED_THRESHOLD, quartic_largest_root


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise InputError(f"{name} must be a positive finite number, got {value!r}")


def _check_sigma(sigma: float) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) or sigma < 0:
        raise InputError(f"sigma must be a non-negative finite number, got {sigma!r}")


def limit(*, K: int, lambda_W: float, lambda_H_tilde: float, sigma: float) -> float:
    """Attenuation factor a of Theorem 5.1: W(H*+E) → a·W* as n → ∞ (docs/math.md#theorem-5-1).

    a = 1 / (1 + K σ² √(λ̃_H/λ_W)) when K√(λ̃_H λ_W) < 1, and 0 otherwise (then W* = 0 and
    W(H) → 0).  It follows from h² + Kλ_W = √(λ_W/λ̃_H): the noise adds Kσ² to that ridge.
    """
    if isinstance(K, bool) or not isinstance(K, int) or K < 2:
        raise InputError(f"K must be an integer of at least 2, got {K!r}")
    _check_positive(lambda_W=lambda_W, lambda_H_tilde=lambda_H_tilde)
    _check_sigma(sigma)
    if K * math.sqrt(lambda_H_tilde * lambda_W) >= 1.0:
        return 0.0
    return 1.0 / (1.0 + K * sigma**2 * math.sqrt(lambda_H_tilde / lambda_W))


@dataclass(frozen=True)
class PlainMinimizer:
    """Theorem 3.1 with λ_H = λ̃_H/n: the collapsed means and classifier, independent of n."""

    c: float  # K √(λ̃_H λ_W): nonzero minimizer iff c < 1
    h2: float  # ‖h̄_k‖² = √(λ_W/λ̃_H) (1 − c), 0 when c ≥ 1
    kappa: float  # W* = κ H̄*ᵀ, κ = √(λ̃_H/λ_W)
    means: np.ndarray  # (K, d): row k = h̄*_k
    W: np.ndarray  # (K, d)

    @property
    def is_zero(self) -> bool:
        return self.h2 == 0.0


def plain_minimizer(*, K: int, d: int, lambda_W: float, lambda_H_tilde: float) -> PlainMinimizer:
    _check_positive(lambda_W=lambda_W, lambda_H_tilde=lambda_H_tilde)
    c = K * math.sqrt(lambda_H_tilde * lambda_W)
    h2 = math.sqrt(lambda_W / lambda_H_tilde) * (1.0 - c) if c < 1.0 else 0.0
    kappa = math.sqrt(lambda_H_tilde / lambda_W)
    means = math.sqrt(h2) * np.eye(K, d)
    return PlainMinimizer(c=c, h2=h2, kappa=kappa, means=means, W=kappa * means)


@dataclass(frozen=True)
class ExtendedMinimizer:
    """Theorem 4.1 (extended linear UFM) with λ_H1 = λ̃_H1/n, so that H̄1* does not depend on n."""

    rho: float  # (λ_W2 λ_W1 λ̃_H1)^(1/3)
    t: float  # largest root of t⁴ − t + Kρ = 0 (NaN when there is none)
    x: float  # x* = t³: the singular values of W2 W1 H̄1 (0 for the zero minimizer)
    c1_sq: float  # ‖h̄1_k‖² = ρ t² / λ̃_H1 (0 for the zero minimizer)
    mu: float  # √(λ_W1 λ_W2): the nuclear-norm weight of the product W2 W1 (two-factor lemma)
    means: np.ndarray  # (K, d1): row k = h̄1*_k
    P: np.ndarray  # (K, d1): the end-to-end classifier W2* W1* = (x*/c1²) H̄1*ᵀ

    @property
    def is_zero(self) -> bool:
        return self.c1_sq == 0.0


def extended_minimizer(
    *, K: int, d1: int, lambda_W1: float, lambda_W2: float, lambda_H1_tilde: float
) -> ExtendedMinimizer:
    _check_positive(lambda_W1=lambda_W1, lambda_W2=lambda_W2, lambda_H1_tilde=lambda_H1_tilde)
    rho = (lambda_W2 * lambda_W1 * lambda_H1_tilde) ** (1.0 / 3.0)
    mu = math.sqrt(lambda_W1 * lambda_W2)
    root = quartic_largest_root(K * rho)
    t = float("nan") if root is None else root
    if K * rho < EXTENDED_THRESHOLD:
        x, c1_sq = t**3, rho * t**2 / lambda_H1_tilde
    else:
        x, c1_sq = 0.0, 0.0
    means = math.sqrt(c1_sq) * np.eye(K, d1)
    P = (x / c1_sq) * means if c1_sq > 0 else np.zeros((K, d1))
    return ExtendedMinimizer(rho=rho, t=t, x=x, c1_sq=c1_sq, mu=mu, means=means, P=P)


def extended_limit(minimizer: ExtendedMinimizer, *, K: int, sigma: float) -> float:
    """EXPLORATORY (derived here, not a theorem of the paper): the n → ∞ attenuation of W2 W1.

    With H1 fixed at H1* + E, minimising over (W2, W1) equals minimising over P = W2 W1 with the
    penalty μ‖P‖_* (two-factor lemma, d2 ≥ K).  As n → ∞ the data term tends to
    (1/2K)‖P H̄1* − I‖² + (σ²/2)‖P‖², whose minimizer is P* / (1 + Kσ²/c1²): again a pure
    attenuation, with the nuclear norm leaving the threshold x* unchanged.  0 for the zero minimizer.
    """
    _check_sigma(sigma)
    if minimizer.is_zero:
        return 0.0
    return 1.0 / (1.0 + K * sigma**2 / minimizer.c1_sq)
