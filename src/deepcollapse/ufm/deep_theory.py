"""Closed form of the deep linear UFM with MSE, any depth L (docs/math.md, "Deep UFM").

The problem: L weight layers after free features H1,
    (1/2N)‖W_L⋯W_1 H1 − Y‖² + Σ_l (λ_Wl/2)‖W_l‖² + (λ_H1/2)‖H1‖².
Collapse reduces it to Z = W_L⋯W_1 H̄1 (K × K) with the Schatten-2/m penalty (m = L+1 factors)
    (1/2K)‖Z − I‖² + (m/2) ρ_L Σ_j σ_j(Z)^{2/m},   ρ_L = (n λ_H1 Π_l λ_Wl)^{1/m},
whose singular values decouple: each solves min_s (s−1)²/(2K) + (m/2)ρ_L s^{2/m}, s ≥ 0.  The
interior stationary points satisfy (1 − s) s^{(L−1)/(L+1)} = Kρ_L; the minimizer is the largest
root while Kρ_L < τ_L = (1/L)((L−1)/L)^{(L−1)/(L+1)}, and 0 above.  L = 1 is Theorem 3.1
(s* = 1 − c), L = 2 is Theorem 4.1 (s* = t*³ of the quartic).

Every function here takes plain numbers (no Config), so that the reduced solver, the theory
table and the low-rank-bias study share one implementation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

NAN = float("nan")


def factor_count(depth: int) -> int:
    """m = L + 1: the L weights and the class means H̄1."""
    return depth + 1


def rho(n: int, lambda_H1: float, lambda_Ws: Sequence[float]) -> float:
    """ρ_L = (n λ_H1 Π λ_Wl)^{1/(L+1)}: the weight of the Schatten-2/(L+1) penalty."""
    m = len(lambda_Ws) + 1
    log_product = math.log(n * lambda_H1) + sum(math.log(v) for v in lambda_Ws)
    return math.exp(log_product / m)


def exponent(depth: int) -> float:
    """p = (L−1)/(L+1), the power of s in the stationarity equation (1 − s) s^p = Kρ_L."""
    return (depth - 1) / (depth + 1)


def threshold(depth: int) -> float:
    """τ_L = (1/L)((L−1)/L)^{(L−1)/(L+1)}: the Kρ_L from which the global minimizer is Z = 0.

    At Kρ_L = τ_L the largest root is s = (L−1)/L and the objective ties with 0 at 1/2.
    τ_1 = 1 (0⁰ = 1), τ_2 = 2^{-4/3}.
    """
    if depth == 1:
        return 1.0
    return (1.0 / depth) * ((depth - 1) / depth) ** exponent(depth)


def root_limit(depth: int) -> float:
    """The largest Kρ_L for which (1 − s) s^p = Kρ_L has a root: max_s (1 − s)s^p at s = p/(1+p)."""
    if depth == 1:
        return 1.0
    p = exponent(depth)
    s0 = p / (1 + p)
    return (1 - s0) * s0**p


def lambda_threshold(K: int, n: int, depth: int) -> float:
    """The common λ (= λ_H1 = every λ_Wl) at which Kρ_L = τ_L: τ_L / (K n^{1/(L+1)})."""
    return threshold(depth) / (K * n ** (1.0 / factor_count(depth)))


def largest_root(q: float, depth: int) -> float | None:
    """Largest s in (0, 1] with (1 − s) s^p = q (q ≥ 0), or None when there is none.

    h(s) = (1 − s)s^p rises on (0, s0] and falls on [s0, 1] (s0 = p/(1+p)), so the largest root
    is the unique one in [s0, 1]; bisection to the last float (h is monotone there).
    """
    if depth == 1:
        return 1.0 - q if q <= 1 else None
    p = exponent(depth)
    lo = p / (1 + p)
    if (1 - lo) * lo**p < q:
        return None
    hi = 1.0
    if q == 0:
        return 1.0
    for _ in range(200):  # h(lo) ≥ q > h(hi) = 0
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if (1 - mid) * mid**p >= q:
            lo = mid
        else:
            hi = mid
    return lo


def scalar_objective(s: float, q: float, depth: int) -> float:
    """K·g(s) = (1 − s)²/2 + (m/2) Kρ_L s^{2/m}: the objective when all K singular values are s."""
    m = factor_count(depth)
    return 0.5 * (1 - s) ** 2 + 0.5 * m * q * s ** (2.0 / m)


def rank_levels(K: int, q: float, depth: int) -> list[float]:
    """L_r for r = 0..K: r singular values at the largest root s*, the rest at 0.

    L_r = (r(1 − s*)² + (K − r))/(2K) + r (m/2) ρ_L s*^{2/m}.  These are the stationary values GD
    ends on below the threshold when its init is too small (and above it, with L_r > 1/2).
    Empty when there is no nonzero root.
    """
    s = largest_root(q, depth)
    if s is None:
        return []
    m = factor_count(depth)
    rho_L = q / K
    return [(r * (1 - s) ** 2 + (K - r)) / (2 * K) + r * 0.5 * m * rho_L * s ** (2.0 / m) for r in range(K + 1)]


def level_scales(
    sigma_sq_root: float, n: int, lambda_H1: float, lambda_Ws: Sequence[float], rho_L: float
) -> dict[str, list[float]]:
    """Balanced factor scales for one singular value σ of Z, given σ^{2/m} as `sigma_sq_root`.

    Balance: each factor A with penalty weight a has squared singular value ρ_L σ^{2/m} / a
    (a = nλ_H1 for H̄1, λ_Wl for W_l).  Returns "weight_sq" (per W_l, l = 1..L) and "means_gram"
    (the eigenvalue of H̄_lᵀH̄_l per level l = 1..L: c_1 = ρσ^{2/m}/(nλ_H1), c_{l+1} = c_l·w_l²).
    """
    unit = rho_L * sigma_sq_root
    weight_sq = [unit / lam for lam in lambda_Ws]
    gram = [unit / (n * lambda_H1)]
    for w in weight_sq[:-1]:
        gram.append(gram[-1] * w)
    return {"weight_sq": weight_sq, "means_gram": gram}


def deep_linear_mse(K: int, n: int, lambda_H1: float, lambda_Ws: Sequence[float]) -> dict[str, Any]:
    """Global minimum of the deep linear UFM with MSE and the scalars describing its minimizer.

    Keys: "depth", "rho", "control" (Kρ_L), "threshold" (τ_L), "root_limit", "zero", "s_star"
    (singular value of Z = W_L⋯W_1H̄1 at the minimizer, 0 when zero), "s_local" (the largest root,
    also above τ_L where it is only a local minimum; NaN without one), "local_objective",
    "objective", "rank_levels" (L_r, r = 0..K), "weight_sq" (squared nonzero singular value of
    each W_l, all K equal), "means_gram" (H̄_lᵀH̄_l = c_l I per level), "kappa_L" (W_L = κ_L H̄_Lᵀ).
    """
    depth = len(lambda_Ws)
    if depth < 1:
        raise ValueError("the deep UFM needs at least one weight layer")
    m = factor_count(depth)
    rho_L = rho(n, lambda_H1, lambda_Ws)
    q = K * rho_L
    tau = threshold(depth)
    s_local = largest_root(q, depth)
    local = scalar_objective(s_local, q, depth) if s_local is not None else NAN
    zero = not q < tau
    s_star = 0.0 if zero else s_local
    scales = level_scales(s_star ** (2.0 / m), n, lambda_H1, lambda_Ws, rho_L)
    kappa = math.sqrt(scales["weight_sq"][-1] / scales["means_gram"][-1]) if not zero else NAN
    return {
        "depth": depth,
        "rho": rho_L,
        "control_name": "K_rho_L",
        "control": q,
        "threshold": tau,
        "root_limit": root_limit(depth),
        "zero": zero,
        "s_star": s_star,
        "s_local": NAN if s_local is None else s_local,
        "local_objective": local,
        "objective": 0.5 if zero else local,
        "rank_levels": rank_levels(K, q, depth),
        "weight_sq": scales["weight_sq"],
        "means_gram": scales["means_gram"],
        "kappa_L": kappa,
    }


def dnc_objective(K: int, n: int, lambda_H1: float, lambda_Ws: Sequence[float]) -> float:
    """The deep-neural-collapse value: every level an orthogonal frame (the deep linear optimum).

    ReLU attains it too, with nonnegative frames (ReLU acts as the identity on them), so for the
    deep ReLU UFM with MSE it is an upper bound on the minimum, and GD below it shows DNC is not
    optimal.
    """
    return deep_linear_mse(K, n, lambda_H1, lambda_Ws)["objective"]
