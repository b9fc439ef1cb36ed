"""The named structures of a K × K matrix of logits' class means Z (docs/math.md, "low-rank bias").

`patterns(K)` lists the structured candidates (simplex ETF, cross-polytope, antipodal pairs plus
the origin, regular polygons, 4-simplex edge midpoints), each as the Gram matrix of unit class
positions; `classify(Z)` names the one a matrix matches (scale-free, under relabelling of the
classes), and `numerical_rank` counts singular values above a relative tolerance.  Facts about
matrices, no closed form: the low-rank study's gradient-descent stage names its end points with
them, and the reduced problem (`ufm.reduced`) optimises over the candidates.
"""

from __future__ import annotations

import math

import numpy as np

#: Two structures are the same when their sorted singular values and sorted entries (both
#: invariant under relabelling the classes) agree to this relative tolerance.
MATCH_RTOL = 1e-3


def _cross_polytope_pattern(K: int) -> np.ndarray:
    """Classes 2i, 2i+1 antipodal on axis i (a trailing odd class sits at the origin)."""
    positions = np.zeros((K // 2, K))
    for i in range(K // 2):
        positions[i, 2 * i], positions[i, 2 * i + 1] = 1.0, -1.0
    return positions.T @ positions


def _polygon_pattern(K: int) -> np.ndarray:
    angles = 2 * math.pi * np.arange(K) / K
    positions = np.stack([np.cos(angles), np.sin(angles)])
    return positions.T @ positions


def _edge_midpoints_pattern() -> np.ndarray:
    """K = 10: the midpoints of the 10 edges of a regular 4-simplex (centered, unit vertices)."""
    vertices = np.eye(5) - 1.0 / 5  # rows: centered simplex vertices in R^5 (a 4-dim subspace)
    pairs = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    mids = np.stack([(vertices[i] + vertices[j]) / 2 for i, j in pairs])
    mids /= np.linalg.norm(mids[0])
    return mids @ mids.T


_POLYGON_NAMES = {5: "regular pentagon", 6: "regular hexagon"}


def patterns(K: int) -> dict[str, np.ndarray]:
    """Structured candidates Z = t·Z0 (Z0 the Gram matrix of unit class positions) for K classes.

    The list of the spec's low-rank-bias structures: simplex ETF (any K), cross-polytope (even
    K), antipodal pairs plus a class at the origin (odd K; for K = 3 the rank-1 winner near the
    threshold), the regular K-gon (K ≥ 5; pentagon, hexagon), the 4-simplex edge midpoints
    (K = 10).  Zero is always a candidate too (value from `solve`).
    """
    out = {"simplex ETF": (np.eye(K) - 1.0 / K) * K / (K - 1)}
    if K % 2 == 0:
        out["cross-polytope"] = _cross_polytope_pattern(K)
    elif K >= 3:
        out["antipodal pairs + origin"] = _cross_polytope_pattern(K)
    if K >= 5:
        out[_POLYGON_NAMES.get(K, f"regular {K}-gon")] = _polygon_pattern(K)
    if K == 10:
        out["4-simplex edge midpoints"] = _edge_midpoints_pattern()
    return out


def _signature(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invariants of Z under relabelling the classes (Z → PZPᵀ), normalised by ‖Z‖."""
    scale = float(np.linalg.norm(Z))
    s = np.linalg.svd(Z, compute_uv=False) / scale
    return s, np.sort(Z.ravel()) / scale


def numerical_rank(singular_values: np.ndarray, rtol: float = 1e-6) -> int:
    s = np.asarray(singular_values)
    return int(np.sum(s > rtol * s.max())) if s.size and s.max() > 0 else 0


def classify(Z: np.ndarray, K: int | None = None) -> str:
    """The name of the structure Z matches ('orthogonal frame' or a candidate), 'rank-r (unnamed)', or 'zero'.

    Compares invariants under class relabelling (sorted singular values and sorted entries,
    normalised) with each pattern of `patterns(K)`; scale-free, so a GD endpoint can be named.
    """
    Z = np.asarray(Z, dtype=np.float64)
    K = K or Z.shape[0]
    if float(np.linalg.norm(Z)) < 1e-12:
        return "zero"
    s, entries = _signature(Z)
    # the MSE structure (Z = s·I, deep neural collapse with orthogonal frames) is no CE candidate
    for name, pattern in {"orthogonal frame": np.eye(K), **patterns(K)}.items():
        ps, pe = _signature(pattern)
        if np.max(np.abs(s - ps)) < MATCH_RTOL and np.max(np.abs(entries - pe)) < MATCH_RTOL:
            return name
    return f"rank-{numerical_rank(s)} (unnamed)"
