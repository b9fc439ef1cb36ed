"""Closed-form global minimizers of the UFMs (docs/math.md: #ufm-plain, #extended-linear, #extended-relu, #extended-ce, #deep-ufm).

Where no closed form exists (linear UFMs with cross-entropy and two or more weight layers) the
value is the certified optimum of the reduced K × K problem (`ufm.reduced`); the deep linear UFM
with MSE has the closed form of `ufm.deep_theory`.

* `minimizer(config)`: the minimal objective and the scalars that describe the minimizer
  (singular values, scales, the threshold above which the minimizer is zero).
* `structure(config)`: the gauge-invariant matrices every global minimizer has (W Wᵀ, H̄ᵀH̄,
  W H̄, b, ...), for comparison with a GD endpoint (`ufm.agreement`).
* `realize(config)`: one explicit global minimizer, in the layout `ufm.solve` returns.

These three ask the model's theory hooks (`hooks(config)`); the functions below them are the
closed forms per model (`plain_*`, `extended_*`, `deep_*`), and the balanced construction
(`realize_balanced`) shared by every stack of linear layers.  At the end of the module,
`THEORIES` binds each model class of `ufm.models` to its hooks (`PlainTheory`, `ExtendedTheory`,
`DeepTheory`) by reference: the models know nothing of their theory, so gradient descent never
imports this module (docs/math.md is implemented here, the GD stores hold none of it).

Conventions of the spec: s = √(nλ_Wλ_H), c = K s, κ = √(nλ_H/λ_W) for the plain UFM;
ρ = (nλ_W2λ_W1λ_H1)^{1/3} for the extended one.  Everything is float64 numpy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import deep_theory, models, observables, reduced
from .config import Config
from .theory_hooks import ETF, NEITHER, OF, ZERO, TheoryHooks

#: Kρ below which the extended UFM's nonzero critical point is the global minimizer (§2.1).
EXTENDED_THRESHOLD = 2.0 ** (-4.0 / 3.0)
#: Kρ up to which the quartic t⁴ − t + Kρ has a positive root (a nonzero critical point).
QUARTIC_ROOT_LIMIT = 0.75 * 4.0 ** (-1.0 / 3.0)

NAN = float("nan")


# ----------------------------------------------------------------------------------- scalar pieces
def quartic_largest_root(q: float) -> float | None:
    """Largest positive root t* of t⁴ − t + q = 0 (q ≥ 0), or None when there is none.

    f(t) = t⁴ − t + q is convex on t > 0 with its minimum at t₀ = 4^{-1/3}; the largest root lies
    in [t₀, 1] (f(1) = q ≥ 0).  Newton's method from t = 1 decreases monotonically onto it
    (convexity); it stops when the step no longer decreases t, and never goes below t₀.
    """
    t0 = 4.0 ** (-1.0 / 3.0)
    if t0**4 - t0 + q > 0:
        return None
    t = 1.0
    for _ in range(200):
        step = (t**4 - t + q) / (4 * t**3 - 1)
        if not step > 0 or t - step < t0:
            break
        t -= step
        if step <= 1e-17 * t:
            break
    return max(t, t0)


def _ce_extended_scalar(K: int, rho: float) -> tuple[float, float]:
    """argmin and min over x ≥ 0 of g(x) = log(1 + (K−1)e^{−x}) + (3/2)(K−1)ρ x^{2/3} (docs/math.md#extended-ce).

    g'(x) → +∞ as x → 0+, so g rises first; its interior minimum (if any) is bracketed on a
    log-spaced grid of sign changes of g' and polished by bisection; x = 0 (g = log K) competes.
    """
    from scipy.optimize import brentq  # a third-party import kept lazy, as in `ufm.reduced`: scipy loads slowly

    def g(x: float) -> float:
        return math.log1p((K - 1) * math.exp(-x)) + 1.5 * (K - 1) * rho * x ** (2.0 / 3.0)

    def dg(x: float) -> float:
        e = (K - 1) * math.exp(-x)
        return -e / (1 + e) + (K - 1) * rho * x ** (-1.0 / 3.0)

    best_x, best = 0.0, math.log(K)
    grid = np.geomspace(1e-9, 1e3, 4000)
    signs = np.sign([dg(x) for x in grid])
    for i in np.nonzero((signs[:-1] < 0) & (signs[1:] > 0))[0]:  # g' from − to +: a local minimum
        x = brentq(dg, grid[i], grid[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        if g(x) < best:
            best_x, best = x, g(x)
    return best_x, best


# ----------------------------------------------------------------------------------- minimizer
def _unavailable(config: Config, reason: str, **extra: Any) -> dict[str, Any]:
    return {"model": config.label, "available": False, "reason": reason, "objective": NAN, "zero": None, **extra}


ZERO_LAMBDA = "a regularization weight is 0; the closed forms assume every λ > 0"


def minimizer(config: Config) -> dict[str, Any]:
    """Closed-form global minimum of `config`'s problem and the scalars describing its minimizer.

    Always: "model", "source", "verified" (GD reproduces it per the spec), "available", "reason"
    (why not), "objective" (NaN when unavailable), "zero" (the minimizer is 0; None when
    unavailable).  When available also "control" and "control_name" (c or Kρ), "threshold" (the
    control value from which the minimizer is 0), "x_star" (singular value of W H̄ or W2W1H̄1)
    and the model's scales (kappa, p, beta, a_sq, b_sq, c1_sq, rank_levels, ...).
    """
    return hooks(config).minimizer(config)


def plain_minimizer(config: Config) -> dict[str, Any]:
    """The plain UFM (docs/math.md#ufm-plain): Theorems 3.1, 3.2, the regularized bias, cross-entropy."""
    if any(value == 0 for value in config.lambdas().values()):
        return _unavailable(config, ZERO_LAMBDA, source="", verified=False)
    need = config.K - 1 if (config.bias == "unregularized" or config.loss == "ce") else config.K
    if config.d < need:
        return _unavailable(config, f"the closed form needs d >= {need} (got d={config.d})", source="", verified=False)
    out = _plain_ce(config) if config.loss == "ce" else _plain_mse(config)
    return {"model": config.label, "available": True, "reason": "", **out}


def extended_minimizer(config: Config) -> dict[str, Any]:
    """The extended UFM (docs/math.md#extended-linear, #extended-relu, #extended-ce): Theorems 4.1, 4.2, the reduced problem."""
    if any(value == 0 for value in config.lambdas().values()):
        return _unavailable(config, ZERO_LAMBDA, source="", verified=False)
    if config.activation == "relu" and config.loss == "ce":
        return _unavailable(config, "no closed form is known for the extended ReLU UFM with cross-entropy", source="", verified=False)
    if min(config.d1, config.d2) < config.K:
        reason = f"the closed form needs d1, d2 >= K={config.K} (got d1={config.d1}, d2={config.d2})"
        return _unavailable(config, reason, source="", verified=False)
    out = _extended_ce(config) if config.loss == "ce" else _extended_mse(config)
    return {"model": config.label, "available": True, "reason": "", **out}


def _plain_scalars(config: Config) -> dict[str, float]:
    s = math.sqrt(config.n * config.lambda_W * config.lambda_H)
    return {"s": s, "c": config.K * s, "kappa": math.sqrt(config.n * config.lambda_H / config.lambda_W)}


def _plain_mse(config: Config) -> dict[str, Any]:
    K, lb = config.K, config.lambda_b
    sc = _plain_scalars(config)
    s, c, kappa = sc["s"], sc["c"], sc["kappa"]
    zero = c >= 1
    x = 0.0 if zero else 1.0 - c  # x_c: the singular value of W H̄ on the centered directions
    centered = (K - 1) / K * (c - c * c / 2) if not zero else (K - 1) / (2 * K)
    out: dict[str, Any] = {**sc, "control_name": "c", "control": c, "threshold": 1.0, "zero": zero, "x_star": x}
    if config.bias == "none":  # Theorem 3.1: W H̄ = (1−c) I
        out.update(source="docs/math.md#ufm-bias-free (Theorem 3.1)", verified=True, p=x / K, beta=0.0)
        out["objective"] = 0.5 if zero else c - c * c / 2
    elif config.bias == "unregularized":  # Theorem 3.2: W H̄ = (1−c) P_K, b = 1/K
        out.update(source="docs/math.md#ufm-unregularized-bias (Theorem 3.2)", verified=True, p=0.0, beta=1.0 / K, objective=centered)
    else:  # regularized bias, docs/math.md#ufm-regularized-bias
        out.update(source="docs/math.md#ufm-regularized-bias (regularized bias)", verified=True)
        out["lambda_b_threshold"] = c / (1 - c) if c < 1 else math.inf
        if zero:
            p, beta = 0.0, 1.0 / (K * (1 + lb))
            objective = (K - 1) / (2 * K) + lb / (2 * K * (1 + lb))
        elif c * (1 + 1 / lb) < 1:
            p, beta = 1.0 / K - s * (1 + 1 / lb), s / lb
            objective = centered + K / 2 * (2 * s / K - s * s - s * s / lb)
        else:
            p, beta = 0.0, 1.0 / (K * (1 + lb))
            objective = centered + K / 2 * (lb / (K * K * (1 + lb)))
        out.update(p=p, beta=beta, objective=objective)
    # W H̄ = x P_K + p 11ᵀ; ‖h_G‖² = p/κ; W Wᵀ = κ(·), H̄ᵀH̄ = (·)/κ
    out["hG_sq"] = out["p"] / kappa
    out["WWt_scale"] = kappa * x
    out["means_gram_scale"] = x / kappa
    return out


def _plain_ce(config: Config) -> dict[str, Any]:
    K = config.K
    sc = _plain_scalars(config)
    s, c = sc["s"], sc["c"]
    zero = c >= 1
    x = 0.0 if zero else math.log((1 - (K - 1) * s) / s)
    objective = math.log(K) if zero else math.log1p((K - 1) * math.exp(-x)) + (K - 1) * s * x
    return {
        **sc,
        "source": "docs/math.md#ufm-cross-entropy (cross-entropy plain UFM)",
        "verified": True,
        "control_name": "c",
        "control": c,
        "threshold": 1.0,
        "zero": zero,
        "x_star": x,
        "objective": objective,
        "WWt_scale": sc["kappa"] * x,
        "means_gram_scale": x / sc["kappa"],
    }


def _extended_rho(config: Config) -> float:
    return (config.n * config.lambda_W2 * config.lambda_W1 * config.lambda_H1) ** (1.0 / 3.0)


def _extended_mse(config: Config) -> dict[str, Any]:
    K = config.K
    rho = _extended_rho(config)
    q = K * rho
    t = quartic_largest_root(q)
    out: dict[str, Any] = {
        "source": "docs/math.md#extended-linear (Theorem 4.1)" if config.activation == "linear" else "docs/math.md#extended-relu (Theorem 4.2)",
        "verified": True,
        "control_name": "K_rho",
        "control": q,
        "threshold": EXTENDED_THRESHOLD,
        "rho": rho,
        "quartic_root_exists": t is not None,
    }
    if t is None:  # no nonzero critical point at all
        local = NAN
        x = 0.0
    else:
        x = t**3
        local = 0.5 * (x - 1) ** 2 + 1.5 * K * rho * x ** (2.0 / 3.0)
    zero = not q < EXTENDED_THRESHOLD
    out.update(t_star=NAN if t is None else t, x_local=x, local_objective=local, zero=zero)
    out["objective"] = 0.5 if zero else local
    # rank-r points of the reduced problem: (K−r)/2K + (r/K) f(x*)  (local minima GD can stop at)
    out["rank_levels"] = [(K - r) / (2 * K) + r / K * local for r in range(K + 1)] if t is not None else [0.5]
    xs = 0.0 if zero else x
    balance = 0.0 if zero else rho * t * t  # λ_W2 a² = λ_W1 b² = nλ_H1 c₁² = ρ t*²
    out.update(
        x_star=xs,
        a_sq=balance / config.lambda_W2,
        b_sq=balance / config.lambda_W1,
        c1_sq=balance / (config.n * config.lambda_H1),
    )
    return out


def _reduced_ce(K: int, rho_value: float, m: int) -> dict[str, Any]:
    """The reduced K × K problem with CE (m factors): its certified value, structure and candidates."""
    sol = reduced.solve(K, rho_value, m)
    return {
        "objective": sol.value,
        "zero": sol.structure == "zero",
        "structure_name": sol.structure,
        "rank": sol.rank,
        "Z_singular_values": list(sol.singular_values),
        "candidates": {name: c["value"] for name, c in sol.candidates.items()},
        # stationary values GD can stop at: every structured candidate and every multi-start end
        "local_values": sorted({*(c["value"] for c in sol.candidates.values()), *sol.multistart}),
        "reduced_source": sol.source,
    }


def _extended_ce(config: Config) -> dict[str, Any]:
    K = config.K
    rho = _extended_rho(config)
    x_etf, etf = _ce_extended_scalar(K, rho)
    out = _reduced_ce(K, rho, 3)
    balance = 0.0 if x_etf == 0.0 else rho * x_etf ** (2.0 / 3.0)
    return {
        "source": "reduced K×K problem (Schatten-2/3 penalty), certified by structured candidates and multi-start",
        "verified": True,
        "control_name": "K_rho",
        "control": K * rho,
        "threshold": NAN,
        "rho": rho,
        **out,
        # the simplex-ETF critical point Z = x P_K (global only in part of the (K, Kρ) plane)
        "x_etf": x_etf,
        "etf_objective": etf,
        "etf_is_global": out["structure_name"] == "simplex ETF",
        "x_star": x_etf if out["structure_name"] == "simplex ETF" else NAN,
        "a_sq": balance / config.lambda_W2,
        "b_sq": balance / config.lambda_W1,
        "c1_sq": balance / (config.n * config.lambda_H1),
    }


# ----------------------------------------------------------------------------------- deep UFM
def layers_of(config: Config) -> tuple[int, float, tuple[float, ...], tuple[int, ...]]:
    """(L, λ of H̄1, λ of W_1..W_L, widths d_1..d_L) of a layered config, bottom first (the model's `layer_stack`)."""
    return models.of(config).layer_stack(config)


def deep_minimizer(config: Config) -> dict[str, Any]:
    """A bias-free stack of L weight layers (the deep UFM; any layered model without bias):
    closed form (linear MSE), reduced problem (linear CE), DNC bound (ReLU)."""
    depth, lam_H, lam_Ws, widths = layers_of(config)
    K, relu = config.K, config.activation == "relu"
    if lam_H == 0 or min(lam_Ws) == 0:
        return _unavailable(config, ZERO_LAMBDA, source="", verified=False)
    if min(widths) < K:
        return _unavailable(config, f"the theory needs every width >= K={K} (got d={list(widths)})", source="", verified=False)
    rho_L = deep_theory.rho(config.n, lam_H, lam_Ws)
    common = {"depth": depth, "rho": rho_L, "control_name": "K_rho_L", "control": K * rho_L}
    if config.loss == "mse":
        closed = deep_theory.deep_linear_mse(K, config.n, lam_H, lam_Ws)
        closed["dnc_objective"] = closed["objective"]
        closed["local_values"] = closed["rank_levels"][:-1] if closed["rank_levels"] else []
        if relu and depth >= 3:
            # DNC (nonnegative orthogonal frames) attains the linear value, but it is not the
            # minimum in general for L >= 3 (Súkeník et al. 2024): an upper bound only.
            return _unavailable(
                config,
                "no closed form for the deep ReLU UFM with L >= 3: the deep-neural-collapse value "
                "(dnc_objective) is only an upper bound",
                source="",
                verified=False,
                **common,
                dnc_objective=closed["objective"],
            )
        source = "deep linear UFM, MSE: Z = s* I, (1 − s) s^((L−1)/(L+1)) = Kρ_L"
        if relu:
            source += " (ReLU: attained with nonnegative frames; global under Thm 4.2's premise for L = 2)"
        return {"model": config.label, "available": True, "reason": "", "source": source, "verified": True, **common, **closed}
    if relu and depth >= 2:
        return _unavailable(config, "no closed form is known for the deep ReLU UFM with cross-entropy", source="", verified=False, **common)
    if depth == 1:  # the plain CE UFM without bias: convex in Z, the ETF closed form of §1.4
        s = rho_L
        zero = K * s >= 1
        x = 0.0 if zero else math.log((1 - (K - 1) * s) / s)
        objective = math.log(K) if zero else math.log1p((K - 1) * math.exp(-x)) + (K - 1) * s * x
        return {
            "model": config.label, "available": True, "reason": "", "source": "cross-entropy UFM, one layer: Z = x* P_K",
            "verified": True, **common, "zero": zero, "x_star": x, "objective": objective, "threshold": 1.0,
            "structure_name": "zero" if zero else "simplex ETF", "local_values": [],
        }
    reduced_info = _reduced_ce(K, rho_L, depth + 1)
    return {
        "model": config.label,
        "available": True,
        "reason": "",
        "source": f"reduced K×K problem (Schatten-2/{depth + 1} penalty), certified by structured candidates and multi-start",
        "verified": True,
        **common,
        "threshold": NAN,
        **reduced_info,
    }


# ----------------------------------------------------------------------------------- structure
def _P(K: int) -> np.ndarray:
    return np.eye(K) - 1.0 / K


def structure(config: Config) -> dict[str, Any]:
    """Gauge-invariant quantities of every global minimizer, keyed as `agreement.observed` names them.

    Plain: "WWt" (W Wᵀ), "Hbar_gram" (H̄ᵀH̄, uncentered means), "W_Hbar", "kappa" (W = κ H̄ᵀ),
    "b" or, for CE with an unregularized bias, "b_centered" (P_K b = 0).  Extended: "W2W2t",
    "H2bar_gram", "W2_H2bar", "kappa2" (W2 = κ₂ H̄2ᵀ), and for the linear model also
    "H1bar_gram", "W2W1_H1bar" and "W1_singular_values".  Where the optimum comes from the
    reduced problem (linear CE, two or more layers) the structure is known only up to relabelling
    the classes: then the spectra (`layered_spectra`).  Deep UFM: `deep_structure`.  Empty when
    no closed form is available.
    """
    return hooks(config).structure(config)


def plain_structure(config: Config) -> dict[str, Any]:
    """`structure` of the plain UFM: W Wᵀ, H̄ᵀH̄, W H̄, κ and the bias."""
    info = minimizer(config)
    if not info["available"]:
        return {}
    K = config.K
    P, ones = _P(K), np.ones((K, K))
    out: dict[str, Any] = {}
    x, kappa = info["x_star"], info["kappa"]
    core = x * P if config.loss == "ce" else x * P + info["p"] * ones  # W H̄
    out["W_Hbar"] = core
    out["WWt"] = kappa * core
    out["Hbar_gram"] = core / kappa
    if not info["zero"]:
        out["kappa"] = kappa
    if config.bias != "none":
        if config.loss == "ce" and config.bias == "unregularized":
            out["b_centered"] = np.zeros(K)  # CE is blind to b ∝ 1: only its centered part is fixed
        elif config.loss == "ce":
            out["b"] = np.zeros(K)
        else:
            out["b"] = np.full(K, info["beta"])
    return out


def extended_structure(config: Config) -> dict[str, Any]:
    """`structure` of the extended UFM: the top level and classifier, and for the linear model H̄1 and W1;
    the spectra where the reduced problem (linear CE) has a minimizer other than the ETF."""
    info = minimizer(config)
    if not info["available"]:
        return {}
    if config.loss == "ce" and not info["etf_is_global"]:
        return layered_spectra(config, info)
    K = config.K
    out: dict[str, Any] = {}
    frame = _P(K) if config.loss == "ce" else np.eye(K)
    x, a_sq, b_sq, c1_sq = info["x_star"], info["a_sq"], info["b_sq"], info["c1_sq"]
    out["W2W2t"] = a_sq * frame
    out["H2bar_gram"] = b_sq * c1_sq * frame
    out["W2_H2bar"] = x * frame
    if not info["zero"]:
        out["kappa2"] = math.sqrt(a_sq / (b_sq * c1_sq))
    if config.activation == "linear":
        out["H1bar_gram"] = c1_sq * frame
        out["W2W1_H1bar"] = x * frame
        rank = K - 1 if config.loss == "ce" else K
        sv = np.zeros(min(config.d1, config.d2))
        sv[:rank] = math.sqrt(b_sq)
        out["W1_singular_values"] = sv
    return out


def _level_gram_scales(config: Config) -> list[float]:
    """H̄_lᵀH̄_l = scale_l (ZᵀZ)^{l/m} at a balanced minimizer: scale_1 = ρ/(nλ_H1), ×ρ/λ_Wl per level."""
    depth, lam_H, lam_Ws, _ = layers_of(config)
    rho_L = deep_theory.rho(config.n, lam_H, lam_Ws)
    scales = [rho_L / (config.n * lam_H)]
    for lam in lam_Ws[:-1]:
        scales.append(scales[-1] * rho_L / lam)
    return scales


def layered_spectra(config: Config, info: dict[str, Any]) -> dict[str, Any]:
    """Relabelling-invariant predictions of a linear layered model from the singular values of Z.

    "Z_singular_values" (of W_L⋯W_1H̄1, sorted descending) and "H{l}bar_gram_eigenvalues"
    (sorted descending; H̄_lᵀH̄_l = scale_l (ZᵀZ)^{l/m} by balance).
    """
    depth = layers_of(config)[0]
    m = depth + 1
    sv = np.sort(np.asarray(info["Z_singular_values"], dtype=np.float64))[::-1]
    sv = np.where(sv > 1e-10 * max(sv.max(), 1e-300), sv, 0.0)  # rounding noise of exact zeros (then raised to 2l/m)
    out: dict[str, Any] = {"Z_singular_values": sv}
    for l, scale in enumerate(_level_gram_scales(config), start=1):
        out[f"H{l}bar_gram_eigenvalues"] = scale * sv ** (2.0 * l / m)
    return out


def deep_structure_of(config: Config) -> dict[str, Any]:
    """`structure` of the deep UFM (`deep_structure` of its minimizer)."""
    info = minimizer(config)
    return deep_structure(config, info) if info["available"] else {}


def deep_structure(config: Config, info: dict[str, Any]) -> dict[str, Any]:
    """Deep UFM predictions, keyed as `agreement.observed` names them.

    Linear MSE: "H{l}bar_gram" = c_l I at every level (deep neural collapse with orthogonal
    frames), "top_WWt" = W_L W_Lᵀ, "Z_singular_values" (all s*).  ReLU MSE (L ≤ 2): the top level
    and classifier only.  Linear CE: the spectra (`layered_spectra`).
    """
    K, eye = config.K, np.eye(config.K)
    if config.loss == "ce":
        if "Z_singular_values" not in info:  # depth 1: Z = x* P_K
            info = {**info, "Z_singular_values": [info["x_star"]] * (K - 1) + [0.0]}
        return layered_spectra(config, info)
    depth = info["depth"]
    out: dict[str, Any] = {"top_WWt": info["weight_sq"][-1] * eye, f"H{depth}bar_gram": info["means_gram"][-1] * eye}
    if config.activation == "linear":
        out["Z_singular_values"] = np.full(K, info["s_star"])
        for l, c in enumerate(info["means_gram"], start=1):
            out[f"H{l}bar_gram"] = c * eye
    return out


# ----------------------------------------------------------------------------------- realize
def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def _factor(gram: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """A dim × K matrix A with AᵀA = gram (PSD), spanning a random subspace."""
    vals, vecs = np.linalg.eigh(gram)
    keep = vals > 1e-14 * max(vals.max(), 1e-300)
    root = vecs[:, keep] * np.sqrt(vals[keep])  # K × r, root rootᵀ = gram
    return _orthonormal(dim, int(keep.sum()), rng) @ root.T


def realize(config: Config, *, seed: int = 0) -> dict[str, np.ndarray]:
    """One explicit global minimizer of `config`'s problem, in the layout of `ufm.solve`'s output.

    Plain: W (K, d), H (N, d) sample-major, b (K,).  Extended: W2 (K, d2), W1 (d2, d1),
    H1 (N, d1).  The ReLU model gets the linear minimizer with W1H̄1 ≥ 0 (disjoint supports),
    where σ is the identity and both models coincide.  Raises ValueError without a closed form.
    """
    return hooks(config).realize(config, seed=seed)


def _available(config: Config) -> dict[str, Any]:
    info = minimizer(config)
    if not info["available"]:
        raise ValueError(f"no closed form for this configuration: {info['reason']}")
    return info


def plain_realize(config: Config, *, seed: int = 0) -> dict[str, np.ndarray]:
    """`realize` of the plain UFM: means with the predicted Gram matrix, W = κ H̄ᵀ, the predicted bias."""
    info = _available(config)
    rng = np.random.default_rng(seed)
    K, n = config.K, config.n
    st = structure(config)
    means = _factor(st["Hbar_gram"], config.d, rng) if not info["zero"] else np.zeros((config.d, K))
    out = {"W": info["kappa"] * means.T, "H": np.repeat(means, n, axis=1).T}
    if config.bias != "none":
        out["b"] = st.get("b", np.zeros(K))
    return out


def extended_realize(config: Config, *, seed: int = 0) -> dict[str, np.ndarray]:
    """`realize` of the extended UFM: Theorem 4.1's factors (MSE), balanced factors of Z (CE)."""
    info = _available(config)
    if config.loss == "ce":
        return realize_balanced(config, seed=seed)
    rng = np.random.default_rng(seed)
    K, n = config.K, config.n
    if info["zero"]:
        return {"W2": np.zeros((K, config.d2)), "W1": np.zeros((config.d2, config.d1)), "H1": np.zeros((n * K, config.d1))}
    a, b, c1 = (math.sqrt(info[k]) for k in ("a_sq", "b_sq", "c1_sq"))
    frame = np.eye(K)  # W2W1H̄1 = x* I (MSE)
    r = frame.shape[1]
    U1 = _orthonormal(config.d1, r, rng)
    if config.activation == "relu":
        U2 = np.eye(config.d2)[:, rng.permutation(config.d2)[:r]]  # nonnegative, disjoint supports
    else:
        U2 = _orthonormal(config.d2, r, rng)
    means1 = c1 * U1 @ frame.T  # d1 × K, Gram c₁² frame frameᵀ
    return {"W2": a * frame @ U2.T, "W1": b * U2 @ U1.T, "H1": np.repeat(means1, n, axis=1).T}


def optimal_product(config: Config) -> np.ndarray:
    """Z = W_L⋯W_1H̄1 of one global minimizer of a linear (or ReLU-MSE) layered config."""
    info = minimizer(config)
    K = config.K
    if config.loss == "mse":
        s = info["s_star"] if "s_star" in info else info["x_star"]
        return s * np.eye(K)
    depth, lam_H, lam_Ws, _ = layers_of(config)
    if depth == 1:
        return info["x_star"] * _P(K)
    return reduced.solve(K, deep_theory.rho(config.n, lam_H, lam_Ws), depth + 1).Z


def deep_realize(config: Config, *, seed: int = 0) -> dict[str, np.ndarray]:
    """`realize` of the deep UFM (`realize_balanced`)."""
    _available(config)
    return realize_balanced(config, seed=seed)


def realize_balanced(config: Config, *, seed: int = 0) -> dict[str, np.ndarray]:
    """A global minimizer of a layered config built from Z by balanced factors (docs/math.md#deep-ufm balance).

    With Z = U diag(σ) Vᵀ (rank r) and a_i the penalty of factor i (nλ_H1, λ_W1, …, λ_WL), each
    factor's singular values are √(ρ_L σ^{2/m}/a_i); the inner bases are random orthonormal.  ReLU
    (MSE only, Z = s*I): the hidden levels use distinct coordinate vectors, so every level above
    H1 is a nonnegative orthogonal frame on which ReLU is the identity (the DNC point).
    """
    depth, lam_H, lam_Ws, widths = layers_of(config)
    K, n, m = config.K, config.n, depth + 1
    rng = np.random.default_rng(seed)
    Z = optimal_product(config)
    U, sv, Vt = np.linalg.svd(Z)
    r = int(np.sum(sv > 1e-10 * max(sv.max(), 1e-300)))
    U, sv, Vt = U[:, :r], sv[:r], Vt[:r]
    rho_L = deep_theory.rho(n, lam_H, lam_Ws)
    root = sv ** (1.0 / m)

    def diag(a: float) -> np.ndarray:
        return np.diag(np.sqrt(rho_L / a) * root)

    relu = config.activation == "relu"
    if relu:  # nonnegative frames: Z = s*I, U = V = I; hidden bases are disjoint coordinate vectors
        U, Vt = np.eye(K)[:, :r], np.eye(K)[:r]
        bases = [np.eye(d)[:, rng.permutation(d)[:r]] for d in widths]
        bases[0] = _orthonormal(widths[0], r, rng)  # H1 itself may have any sign
    else:
        bases = [_orthonormal(d, r, rng) for d in widths]
    means = bases[0] @ diag(n * lam_H) @ Vt  # d_1 × K
    model = models.of(config)
    out = {model.layers(config).features: np.repeat(means, n, axis=1).T}
    names = model.weight_names(config)
    for l in range(1, depth):
        out[names[l - 1]] = bases[l] @ diag(lam_Ws[l - 1]) @ bases[l - 1].T
    out[names[-1]] = U @ diag(lam_Ws[-1]) @ bases[-1].T
    return out


# ----------------------------------------------------------------------------------- theory hooks
class ImplementedTheory(TheoryHooks):
    """Hooks bound to one family's five functions (forwarded once here, not five methods per family);
    a family adds only its `frames`."""

    def __init__(self, minimizer, structure, realize, observed, identities):
        # instance attributes shadow the base class's methods of the same names
        self.minimizer, self.structure, self.realize = minimizer, structure, realize
        self.observed, self.identities = observed, identities


class PlainTheory(ImplementedTheory):
    """Theorems 3.1 (bias-free: OF), 3.2 (unregularized bias: ETF), the regularized bias and CE
    (docs/math.md#ufm-plain)."""

    def __init__(self):
        super().__init__(plain_minimizer, plain_structure, plain_realize, observables.plain_observed, observables.plain_identities)

    def frames(self, config, info):
        if info.get("zero"):
            return {"H": ZERO}
        if config.loss == "ce" or config.bias == "unregularized":
            return {"H": ETF}
        if config.bias == "regularized":  # the ETF up to λ_b = c/(1−c) (p = 0), neither above
            return {"H": ETF if info.get("p", 0.0) == 0.0 else NEITHER}
        return {"H": OF}


class ExtendedTheory(ImplementedTheory):
    """Theorems 4.1 (linear MSE) and 4.2 (ReLU MSE), the reduced K × K problem (linear CE), no theory
    for ReLU CE (docs/math.md#extended-linear, #extended-relu, #extended-ce)."""

    def __init__(self):
        super().__init__(extended_minimizer, extended_structure, extended_realize, observables.extended_observed, observables.extended_identities)

    def frames(self, config, info):
        if info.get("zero"):
            return {"H2": ZERO}
        if config.loss == "mse":  # Thm 4.1: OF at both levels; Thm 4.2: no claim on H1
            return {"H1": OF, "H2": OF} if config.activation == "linear" else {"H2": OF}
        return {}  # CE: the reduced problem's structure depends on K and Kρ (docs/math.md#extended-ce)


class DeepTheory(ImplementedTheory):
    """The theory of a bias-free stack of L layers: the closed form for linear MSE (`ufm.deep_theory`),
    the certified reduced K × K problem for linear CE (`ufm.reduced`), and for ReLU with L >= 3 only
    the deep-neural-collapse value as an upper bound ("no closed form").  These functions read the
    model's `layer_stack`, so any bias-free `LayeredModel` can use these hooks."""

    def __init__(self):
        super().__init__(deep_minimizer, deep_structure_of, deep_realize, observables.layered_observed, observables.layered_identities)

    def frames(self, config, info):
        # the zero solution is zero at every level; otherwise no structure is claimed for the deep
        # models on the report pages (the low-rank study reports ranks and structures itself)
        return {f"H{models.of(config).depth(config)}": ZERO} if info.get("zero") else {}


#: The theory of every model class that has one; a model absent here has none (`TheoryHooks()`).
THEORIES: dict[type[models.Model], TheoryHooks] = {
    models.PlainUFM: PlainTheory(),
    models.ExtendedUFM: ExtendedTheory(),
    models.DeepUFM: DeepTheory(),
}
NO_THEORY = TheoryHooks()


def hooks(config: Config) -> TheoryHooks:
    """The theory hooks of `config`'s model (`TheoryHooks()`, which knows nothing, for a model without theory)."""
    return THEORIES.get(models.of(config), NO_THEORY)
