"""The known structures of a bias-free layered UFM, each as explicit parameters at its best scale (docs/math.md#candidates).

    from deepcollapse.ufm import Config
    from deepcollapse.ufm.candidates import candidates
    out = candidates(Config(model="deep", depth=2, loss="ce", K=4, n=50, d=20))
    out["dnc"]["objective"], out["cross-polytope"]["parameters"]["W2"]   # 0.2586917785229, a K × d array

Every candidate is a chain of m = L + 1 fixed factor *shapes* F_0 (the class means H̄1, d_1 × K),
F_1 … F_L (W_l, d_{l+1} × d_l; W_L is K × d_L), scaled by c_0 … c_L > 0.  ReLU is positively
homogeneous, so the class-mean logits are (Π c_i)·Z0 with Z0 the shapes' forward pass, and for a
fixed product P the penalty Σ (a_i/2) c_i² (a_0 = nλ_H ‖F_0‖², a_l = λ_Wl ‖F_l‖²) is least when
every term is equal (AM–GM): (m/2) A P^{2/m}, A = (Π a_i)^{1/m}.  The best scale is then one
scalar minimisation, loss(P·Z0) + (m/2) A P^{2/m} (`reduced.best_scale`), and the objective is
evaluated on the parameters themselves.

Structures (the names are the keys of `candidates`):
* "dnc": deep neural collapse — the logits s·I (MSE) or t·P_K (CE, the simplex ETF), every level a
  balanced frame; with ReLU the levels above H1 are nonnegative (coordinate) frames.
* linear CE only: each structured candidate of the reduced problem (`structures.patterns`:
  cross-polytope, antipodal pairs + origin, polygons, 4-simplex edge midpoints) and, for odd K,
  Garrod & Keating's (2025, App. B.3) odd structure "antipodal pairs + axis"; every one balanced
  (its Schatten-2/m value is attained).
* "srg" (ReLU, MSE, K = C(r, 2), L ≥ 2): the strongly-regular-graph structure of Súkeník, Lampert
  & Mondelli (2024) as we construct it (docs/math.md#candidates): class (i, j) ↔ edge {i, j} of
  K_r, the levels below the last ReLU the incidence columns e_i + e_j, the last ReLU turning their
  rank-r image BᵀB − 11ᵀ into the identity.
* "zero": every parameter 0 (the loss at 0).

Arrays are float64 in the math orientation: "H1" is d_1 × N with sample i in class i // n,
"W1" … "WL" with W_l of shape d_{l+1} × d_l and W_L of shape K × d_L — whatever the model calls
its parameters.  Theory side: gradient descent never imports this module.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import models, reduced
from .config import Config
from .structures import patterns

#: Gram matrix of unit class positions: pairs ±e_i and, for odd K, the last class alone on a
#: further axis (Garrod & Keating 2025, proof of Theorem 1, K = 2m + 1).
PAIRS_AXIS = "antipodal pairs + axis"


def _pairs_axis_pattern(K: int) -> np.ndarray:
    positions = np.zeros((K // 2 + 1, K))
    for i in range(K // 2):
        positions[i, 2 * i], positions[i, 2 * i + 1] = 1.0, -1.0
    positions[K // 2, K - 1] = 1.0
    return positions.T @ positions


def srg_vertices(K: int) -> int | None:
    """r with K = r(r − 1)/2 and r ≥ 3 (the SRG structure's complete graph K_r), else None."""
    r = int(round((1 + math.sqrt(1 + 8 * K)) / 2))
    return r if r >= 3 and r * (r - 1) // 2 == K else None


def incidence(r: int) -> np.ndarray:
    """B (r × K): column of class (i, j), i < j, in lexicographic order, is e_i + e_j."""
    pairs = [(i, j) for i in range(r) for j in range(i + 1, r)]
    B = np.zeros((r, len(pairs)))
    for k, (i, j) in enumerate(pairs):
        B[i, k] = B[j, k] = 1.0
    return B


# ----------------------------------------------------------------------------------- shapes
def _orthonormal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((rows, cols)))
    return q * np.sign(np.diag(r))


def _coordinates(rows: int, cols: int) -> np.ndarray:
    """The first `cols` coordinate vectors of R^rows (nonnegative, orthonormal)."""
    return np.eye(rows)[:, :cols]


def balanced_shapes(Z: np.ndarray, widths: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """Factors F_0 … F_L with F_L⋯F_1F_0 = Z, each with singular values σ(Z)^{1/m}, inner bases
    random orthonormal: their penalty at any scale is the Schatten-2/m term of Z (docs/math.md#deep-ufm)."""
    U, s, Vt = np.linalg.svd(Z)
    r = int(np.sum(s > 1e-12 * s.max()))
    U, root, Vt = U[:, :r], np.diag(s[:r] ** (1.0 / (len(widths) + 1))), Vt[:r]
    bases = [_orthonormal(d, r, rng) for d in widths]
    shapes = [bases[0] @ root @ Vt]
    shapes += [bases[l + 1] @ root @ bases[l].T for l in range(len(widths) - 1)]
    shapes.append(U @ root @ bases[-1].T)
    return shapes


def nonnegative_frame_shapes(top: np.ndarray, widths: tuple[int, ...], rng: np.random.Generator) -> list[np.ndarray]:
    """DNC with ReLU (L ≥ 2): H̄1 a random orthonormal K-frame, every level above it the first K
    coordinate vectors (nonnegative: ReLU acts as the identity), and W_L = `top` (K × K) on them."""
    K = top.shape[0]
    E = [_coordinates(d, K) for d in widths]
    H = _orthonormal(widths[0], K, rng)
    return [H, E[1] @ H.T, *(E[l + 1] @ E[l].T for l in range(1, len(widths) - 1)), top @ E[-1].T]


def srg_shapes(r: int, widths: tuple[int, ...]) -> list[np.ndarray]:
    """The SRG chain (L ≥ 2): H̄1 = B, W_l the identity on r coordinates up to level L − 1,
    W_{L−1} = Bᵀ − ½11ᵀ (the least-norm map with W_{L−1}B = BᵀB − 11ᵀ), W_L the identity on K."""
    B = incidence(r)
    K = B.shape[1]
    L = len(widths)
    low = [_coordinates(d, r) for d in widths[:-1]]
    top = _coordinates(widths[-1], K)
    shapes = [low[0] @ B]
    shapes += [low[l + 1] @ low[l].T for l in range(L - 2)]
    shapes.append(top @ (B.T - 0.5 * np.ones((K, r))) @ low[-1].T)
    shapes.append(top.T)
    return shapes


# ----------------------------------------------------------------------------------- scales
def forward(shapes: list[np.ndarray], relu: bool) -> np.ndarray:
    """The K × K class-mean logits of the chain: F_L σ(F_{L−1} ⋯ σ(F_1 F_0))."""
    out = shapes[0]
    for i, W in enumerate(shapes[1:], start=1):
        out = W @ out
        if relu and i < len(shapes) - 1:
            out = np.maximum(out, 0.0)
    return out


def at_best_scale(shapes, penalties, relu: bool, kind: str) -> tuple[list[np.ndarray], float]:
    """The chain scaled to its best product P (module docstring): (factors, the scalar optimum)."""
    m = len(shapes)
    Z0 = forward(shapes, relu)
    g = float(np.linalg.norm(Z0, 2))  # the pattern Z0/g has singular values of order 1 (best_scale's grid)
    a = [lam * float(np.sum(F * F)) for lam, F in zip(penalties, shapes)]
    A = math.exp(sum(math.log(v) for v in a) / m)
    t, value = reduced.best_scale(Z0 / g, A * g ** (-2.0 / m), m, kind)
    P = t / g
    scales = [math.sqrt(A * P ** (2.0 / m) / v) for v in a]
    return [c * F for c, F in zip(scales, shapes)], value


# ----------------------------------------------------------------------------------- candidates
def _parameters(factors: list[np.ndarray], n: int) -> dict[str, np.ndarray]:
    out = {"H1": np.repeat(factors[0], n, axis=1)}
    out.update({f"W{l}": W for l, W in enumerate(factors[1:], start=1)})
    return out


def structures(config: Config, *, seed: int = 0) -> dict[str, tuple[list[np.ndarray], bool]]:
    """name -> (factor shapes F_0 … F_L, ReLU or not) of every known structure of `config`."""
    model = models.of(config)
    if model.has_bias(config):
        raise ValueError(f"candidates: {config.label} has a bias; the known structures are of bias-free stacks")
    L, _, _, widths = model.layer_stack(config)
    K, relu, rng = config.K, config.activation == "relu", np.random.default_rng(seed)
    mse = config.loss == "mse"
    out: dict[str, tuple[list[np.ndarray], bool]] = {}
    if min(widths) >= K:
        top = np.eye(K) if mse else np.eye(K) - 1.0 / K
        if relu and L >= 2:
            out["dnc"] = (nonnegative_frame_shapes(top, widths, rng), True)
        else:
            out["dnc"] = (balanced_shapes(top, widths, rng), False)
    if not relu and not mse and min(widths) >= K:
        named = dict(patterns(K))
        named.pop("simplex ETF")  # = "dnc"
        if K % 2:
            named[PAIRS_AXIS] = _pairs_axis_pattern(K)
        for name, pattern in named.items():
            out[name] = (balanced_shapes(pattern, widths, rng), False)
    r = srg_vertices(K)
    if relu and mse and L >= 2 and r is not None and min(widths[:-1]) >= r and widths[-1] >= K:
        out["srg"] = (srg_shapes(r, widths), True)
    return out


def candidates(config: Config, *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """name -> {"objective": float, "parameters": {"H1", "W1", …, "WL"}} (module docstring).

    `seed` draws the inner orthonormal bases (the objective does not depend on it).  A structure
    whose widths are too small (DNC needs every d_l ≥ K) is left out; a model with a bias raises
    ValueError.
    """
    model = models.of(config)
    _, lam_H, lam_Ws, widths = model.layer_stack(config)
    n = config.n
    penalties = [n * lam_H, *lam_Ws]
    out = {}
    for name, (shapes, relu) in structures(config, seed=seed).items():
        factors, value = at_best_scale(shapes, penalties, relu, config.loss)
        out[name] = {"objective": float(value), "parameters": _parameters(factors, n)}
    rows = (*widths[1:], config.K)
    zero = [np.zeros((widths[0], config.K))] + [np.zeros((r, c)) for r, c in zip(rows, widths)]
    out["zero"] = {"objective": reduced.loss(np.zeros((config.K, config.K)), config.loss), "parameters": _parameters(zero, n)}
    return out
