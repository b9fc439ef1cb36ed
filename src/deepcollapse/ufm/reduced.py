"""The reduced K × K problem of the deep linear UFM, solved where it has no closed form.

After collapse, a deep linear UFM with m = L + 1 factors (L weights and the class means) is
    Φ(Z) = loss(Z) + (m/2) ρ_L Σ_j σ_j(Z)^{2/m},      Z = W_L⋯W_1 H̄1 ∈ R^{K×K},
with loss(Z) = (1/K) Σ_k CE(Z e_k, k) (cross-entropy; column k holds the logits of class k) or
(1/2K)‖Z − I‖² (MSE).  For m ≥ 3 the penalty is a non-convex Schatten quasi-norm: it favours
low rank, and for CE the winner depends on K and Kρ_L (simplex ETF, cross-polytope, polygons,
4-simplex edge midpoints, ... — docs/math.md, "low-rank bias").

`solve(K, rho, m)` certifies a value the only way available without a proof: it takes the best
of (a) every structured candidate, each optimised exactly over its scale, and (b) seeded
multi-start L-BFGS on balanced factors Z = A_m⋯A_1 with penalty (ρ/2)Σ‖A_i‖² (whose minimum
over factorisations is the Schatten term), evaluated exactly at the Z it reaches.  It returns the
structure found (named when it matches a candidate), and every candidate's value, so that a GD
run stopping at a non-global candidate can be called a local minimum with its known value.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from .structures import classify, numerical_rank, patterns


# ----------------------------------------------------------------------------------- objective
def loss(Z: np.ndarray, kind: str = "ce") -> float:
    """The data term of the reduced problem at Z (float64)."""
    K = Z.shape[0]
    if kind == "mse":
        return float(np.sum((Z - np.eye(K)) ** 2) / (2 * K))
    top = Z.max(axis=0)
    lse = top + np.log(np.exp(Z - top).sum(axis=0))
    return float(np.mean(lse - np.diag(Z)))


def loss_gradient(Z: np.ndarray, kind: str = "ce") -> np.ndarray:
    K = Z.shape[0]
    if kind == "mse":
        return (Z - np.eye(K)) / K
    e = np.exp(Z - Z.max(axis=0))
    return (e / e.sum(axis=0) - np.eye(K)) / K


#: Singular values below this fraction of the largest are rounding noise of an exact zero: raised
#: to the power 2/m they would add ~1e-11 (m = 3) to 1e-5 (m = 6) to the penalty.  A local
#: minimum never has a small nonzero one (the penalty's slope is infinite at 0).
ZERO_SINGULAR_RTOL = 1e-10


def penalty(singular_values: np.ndarray, rho: float, m: int) -> float:
    """(m/2) ρ Σ σ^{2/m}, over the singular values that are not rounding noise."""
    s = np.abs(np.asarray(singular_values, dtype=np.float64))
    if s.size == 0 or s.max() == 0:
        return 0.0
    s = s[s > ZERO_SINGULAR_RTOL * s.max()]
    return 0.5 * m * rho * float(np.sum(s ** (2.0 / m)))


def objective(Z: np.ndarray, rho: float, m: int, kind: str = "ce") -> float:
    """Φ(Z), exact (the Schatten term from the SVD)."""
    return loss(Z, kind) + penalty(np.linalg.svd(Z, compute_uv=False), rho, m)


# ----------------------------------------------------------------------------------- candidates
# (the candidates themselves, `patterns(K)`, and their names, `classify`, are in `ufm.structures`)
def _scale_minimum(pattern: np.ndarray, rho: float, m: int, kind: str) -> tuple[float, float]:
    """min over t ≥ 0 of Φ(t·pattern): (t*, Φ*); t = 0 competes (Φ = loss(0))."""
    S = penalty(np.linalg.svd(pattern, compute_uv=False), 1.0, m) * 2.0 / m
    return best_scale(pattern, rho * S, m, kind)


def best_scale(pattern: np.ndarray, weight: float, m: int, kind: str) -> tuple[float, float]:
    """min over t ≥ 0 of loss(t·pattern) + (m/2)·weight·t^{2/m}: (t*, value); t = 0 competes.

    The reduced problem's candidates have weight ρ Σσ(pattern)^{2/m}; a chain of m fixed factor
    shapes at their best scales has weight (Π a_i)^{1/m} (`ufm.candidates`).  φ'(t) =
    ⟨∇loss(tZ0), Z0⟩ + weight·t^{2/m−1} is +∞ at 0+ for m ≥ 3, so every interior minimum is a − to +
    sign change of φ' on a fine log grid (t up to 200: `pattern` should have singular values of
    order 1), polished by brentq.
    """
    from scipy.optimize import brentq

    def phi(t: float) -> float:
        return loss(t * pattern, kind) + 0.5 * m * weight * t ** (2.0 / m)

    def dphi(t: float) -> float:
        return float(np.sum(loss_gradient(t * pattern, kind) * pattern)) + weight * t ** (2.0 / m - 1)

    best_t, best = 0.0, loss(np.zeros_like(pattern), kind)
    grid = np.geomspace(1e-6, 200.0, 1500)
    signs = np.sign([dphi(t) for t in grid])
    for i in np.nonzero((signs[:-1] < 0) & (signs[1:] > 0))[0]:
        t = brentq(dphi, grid[i], grid[i + 1], xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)
        if phi(t) < best:
            best_t, best = t, phi(t)
    return best_t, best


# ----------------------------------------------------------------------------------- multi-start
def _factor_objective(flat: np.ndarray, K: int, m: int, rho: float, kind: str) -> tuple[float, np.ndarray]:
    """loss(A_m⋯A_1) + (ρ/2)Σ‖A_i‖² and its gradient (A_i are K × K, stacked in `flat`)."""
    A = flat.reshape(m, K, K)
    prefix = [np.eye(K)]  # prefix[i] = A_{i-1}⋯A_0 (product of the factors below i)
    for i in range(m):
        prefix.append(A[i] @ prefix[-1])
    Z = prefix[-1]
    G = loss_gradient(Z, kind)
    grads = np.empty_like(A)
    upper = G  # (A_{m-1}⋯A_{i+1})ᵀ G, built from the top
    for i in range(m - 1, -1, -1):
        grads[i] = upper @ prefix[i].T + rho * A[i]
        upper = A[i].T @ upper
    value = loss(Z, kind) + 0.5 * rho * float(np.sum(A * A))
    return value, grads.ravel()


def _balanced_factors(Z: np.ndarray, m: int) -> np.ndarray:
    """Factors A_m⋯A_1 = Z with equal singular values σ^{1/m} (a minimiser of the factor penalty)."""
    U, s, Vt = np.linalg.svd(Z)
    root = np.diag(s ** (1.0 / m))
    K = Z.shape[0]
    A = [root @ Vt] + [root for _ in range(m - 2)] + [U @ root] if m >= 2 else [Z]
    return np.stack(A[:m]).reshape(m, K, K)


def _local_minimum(start: np.ndarray, K: int, m: int, rho: float, kind: str) -> np.ndarray:
    from scipy.optimize import minimize

    res = minimize(
        _factor_objective,
        start.ravel(),
        args=(K, m, rho, kind),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20000, "maxcor": 30, "gtol": 1e-13, "ftol": 1e-16},
    )
    A = res.x.reshape(m, K, K)
    Z = A[0]
    for i in range(1, m):
        Z = A[i] @ Z
    return Z


def factor_hessian(Z: np.ndarray, rho: float, m: int, kind: str = "ce", *, step: float = 1e-5) -> dict[str, float]:
    """Second-order test of Z as a point of the factor problem loss(A_m⋯A_1) + (ρ/2)Σ‖A_i‖², at
    balanced factors of Z (where the factor penalty equals Φ's Schatten term).

    The Hessian (m K² × m K²) by central differences of the analytic gradient (error O(step²));
    returns the gradient norm there, the smallest and largest eigenvalues.  A smallest eigenvalue
    below −1e-6 × the largest is a descent direction: Z is then no local minimum (a saddle).  None
    below is the second-order condition only (the gauge directions give exact zeros).
    """
    K = Z.shape[0]
    U, sv, Vt = np.linalg.svd(Z)
    sv[sv <= ZERO_SINGULAR_RTOL * sv.max()] = 0.0  # rounding noise of an exact zero would enter as σ^{1/m}
    root = np.diag(sv ** (1.0 / m))
    x0 = np.stack([root @ Vt] + [root] * (m - 2) + [U @ root]).ravel()  # `_balanced_factors`, exact zeros kept
    grad = _factor_objective(x0, K, m, rho, kind)[1]
    H = np.empty((x0.size, x0.size))
    for i in range(x0.size):
        e = np.zeros_like(x0)
        e[i] = step
        H[:, i] = (_factor_objective(x0 + e, K, m, rho, kind)[1] - _factor_objective(x0 - e, K, m, rho, kind)[1]) / (2 * step)
    eig = np.linalg.eigvalsh(0.5 * (H + H.T))
    return {"gradient_norm": float(np.linalg.norm(grad)), "min_eigenvalue": float(eig[0]), "max_eigenvalue": float(eig[-1])}


# ----------------------------------------------------------------------------------- classification
# ----------------------------------------------------------------------------------- solve
@dataclasses.dataclass(frozen=True)
class Solution:
    """The certified value of the reduced problem and how it was found.

    ``value``: the best Φ found; ``Z``: a matrix attaining it; ``structure``: its name;
    ``rank`` and ``singular_values`` of Z; ``candidates``: Φ and scale t of every structured
    candidate (including "zero"); ``multistart``: the sorted distinct Φ values the local searches
    ended at; ``source``: "candidate" when a structured candidate attains the best value (exact to
    float64), "multi-start" when the local searches found a lower, unnamed point.
    """

    K: int
    rho: float
    m: int
    loss: str
    value: float
    Z: np.ndarray
    structure: str
    rank: int
    singular_values: tuple[float, ...]
    candidates: dict[str, dict[str, float]]
    multistart: tuple[float, ...]
    source: str

    def summary(self) -> dict[str, Any]:
        """JSON-ready: every field but Z."""
        out = dataclasses.asdict(self)
        out.pop("Z")
        out["singular_values"] = list(self.singular_values)
        out["multistart"] = list(self.multistart)
        return out


def solve(K: int, rho: float, m: int, *, kind: str = "ce", starts: int = 24, seed: int = 0) -> Solution:
    """Best value of Φ over K × K matrices: structured candidates + seeded multi-start (see module doc)."""
    if m < 2:
        raise ValueError("the reduced problem needs m >= 2 factors (the plain UFM is convex: use its closed form)")
    from threadpoolctl import threadpool_limits  # a dependency of scikit-learn

    # K × K products: BLAS threads only spin (measured: 10× slower CPU time with 2 threads)
    with threadpool_limits(limits=1, user_api="blas"):
        return _solve_cached(int(K), float(rho), int(m), kind, int(starts), int(seed))


@functools.lru_cache(maxsize=256)
def _solve_cached(K: int, rho: float, m: int, kind: str, starts: int, seed: int) -> Solution:
    candidates: dict[str, dict[str, float]] = {"zero": {"value": loss(np.zeros((K, K)), kind), "scale": 0.0}}
    matrices: dict[str, np.ndarray] = {"zero": np.zeros((K, K))}
    for name, pattern in patterns(K).items():
        t, value = _scale_minimum(pattern, rho, m, kind)
        candidates[name] = {"value": value, "scale": t}
        matrices[name] = t * pattern
    rng = np.random.default_rng(seed)
    ends: list[tuple[float, np.ndarray]] = []
    for i in range(starts):
        if i < len(matrices) - 1:  # first: each nonzero candidate, perturbed (are they local minima?)
            name = list(matrices)[i + 1]
            base = matrices[name] if candidates[name]["scale"] > 0 else 3.0 * patterns(K)[name]
            start = _balanced_factors(base, m) + 0.05 * rng.standard_normal((m, K, K))
        else:  # then: random factors whose product has singular values of order 1–10
            scale = rng.uniform(1.0, 10.0) ** (1.0 / m)
            start = scale * rng.standard_normal((m, K, K)) / math.sqrt(K)
        Z = _local_minimum(start, K, m, rho, kind)
        ends.append((objective(Z, rho, m, kind), Z))
    best_candidate = min(candidates, key=lambda name: candidates[name]["value"])
    best_value = candidates[best_candidate]["value"]
    best_end, best_Z = min(ends, key=lambda pair: pair[0])
    # the local searches stop at a tolerance: a candidate within 1e-9 of their best is the same
    # point, and its exact scalar optimum is the better value
    if best_end < best_value - 1e-9 * max(1.0, abs(best_value)):
        value, Z, source = best_end, best_Z, "multi-start"
        structure = classify(Z, K)
    else:
        value, Z, source, structure = best_value, matrices[best_candidate], "candidate", best_candidate
    s = np.linalg.svd(Z, compute_uv=False)
    distinct = sorted({round(v, 10) for v, _ in ends})
    return Solution(
        K=K,
        rho=rho,
        m=m,
        loss=kind,
        value=float(value),
        Z=Z,
        structure=structure,
        rank=numerical_rank(s),
        singular_values=tuple(float(x) for x in s),
        candidates=candidates,
        multistart=tuple(distinct),
        source=source,
    )
