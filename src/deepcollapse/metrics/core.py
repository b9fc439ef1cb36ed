"""The geometry behind the neural-collapse metrics, batched over a leading dimension.

Every function takes float64 arrays with one leading batch dimension (B problems; a single
problem is B = 1) and returns one value per problem.  Arrays are torch tensors (on any device) or
numpy arrays: each function works in the namespace of its input (`array_api_compat`), so that the
compiled UFM loop measures without torch, with the same formulas.  The metric table (`table.py`) builds each
metric key from these; nothing else in the package re-implements them.  A metric whose geometry is
undefined (zero vectors, all class means equal) is NaN, never 0 and never an error.

Row convention: `means[..., k, :]` is the uncentered mean of class k; `W[..., k, :]` is the
classifier row of class k.  The spec writes columns; the formulas are the same with transposes.

The un-batched helpers at the end (`nc2_etf`, `nc2_of`, `nc3`, `is_degenerate`) take one K×d
matrix and return a Python float, for callers that measure a single matrix.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace
from array_api_compat import device as device_of

Array = Any  # a torch tensor or a numpy array (the functions return the same kind)

# A set of vectors whose norm is below DEGENERATE_RTOL × (a reference norm) is treated as zero:
# equal class means computed in float64 differ by rounding (~1e-16 relative), and metrics built
# on that rounding noise would be meaningless numbers rather than NaN.
DEGENERATE_RTOL = 1e-12

# Eigenvalues of Σ_B below PINV_RTOL × λ_max are dropped from the pseudo-inverse;
# for singular values of the centered means that is sqrt(PINV_RTOL).
PINV_RTOL = 1e-10

NAN = float("nan")


def frobenius(X: Array) -> Array:
    """‖X‖_F of each (m, n) matrix of a (B, m, n) batch: shape (B,)."""
    return array_namespace(X).linalg.matrix_norm(X)


def degenerate(X: Array, reference: Array | None = None, *, norm: Array | None = None) -> Array:
    """Per problem: X is zero, non-finite, or ‖X‖ ≤ DEGENERATE_RTOL · reference (the NaN rule)."""
    norm = frobenius(X) if norm is None else norm
    # one comparison covers zero and NaN (NaN > t is false); isfinite covers inf
    floor = 0.0 if reference is None else DEGENERATE_RTOL * reference
    return ~(array_namespace(norm).isfinite(norm) & (norm > floor))


def masked(values: Array, bad: Array) -> Array:
    """`values` with NaN where `bad`."""
    xp = array_namespace(values)
    return xp.where(bad, xp.full_like(values, math.nan), values)


def _safe(X: Array, bad: Array) -> Array:
    """X with the bad problems replaced by ones: keeps 0/0 out of the arithmetic (masked later)."""
    xp = array_namespace(X)
    return xp.where(bad[:, None, None], xp.ones_like(X), X) if bool(xp.any(bad)) else X


def sum_squares(X: Array, axis) -> Array:
    """Σ x² over `axis` (x·x: the bits of torch's `square`)."""
    return array_namespace(X).sum(X * X, axis=axis)


def batch_matmul(A: Array, B: Array) -> Array:
    """A @ B over a leading batch dim; a batch of one goes through a plain 2-D GEMM (the streamed
    single-problem path multiplies 64 MB blocks, where the batched kernel is measurably slower)."""
    if A.shape[0] == 1 and B.shape[0] == 1:
        return (A[0] @ B[0])[None]
    return A @ B


def _normalized_gram(X: Array) -> Array:
    X = X / frobenius(X)[:, None, None]  # rescale first: avoids under/overflow in the Gram matrix
    G = X @ X.mT
    return G / frobenius(G)[:, None, None]


def _eye(K: int, like: Array) -> Array:
    xp = array_namespace(like)
    return xp.eye(K, dtype=xp.float64, device=device_of(like))


def simplex_etf(K: int, *, like: Array) -> Array:
    """P_K/‖P_K‖_F = (I − 11ᵀ/K)/√(K−1): the normalized Gram matrix of a simplex ETF (the kind and device of `like`)."""
    return (_eye(K, like) - 1.0 / K) / math.sqrt(K - 1)


def orthogonal_frame(K: int, *, like: Array) -> Array:
    """I_K/√K: the normalized Gram matrix of an orthogonal frame (the kind and device of `like`)."""
    return _eye(K, like) / math.sqrt(K)


def gram_distance(X: Array, target: Array, bad: Array) -> Array:
    """‖G/‖G‖_F − target‖_F for G = X Xᵀ of each problem; NaN where `bad`."""
    return masked(frobenius(_normalized_gram(_safe(X, bad)) - target), bad)


def etf_distance(centered: Array, reference: Array | None = None) -> Array:
    """NC2 (ETF) of already-centered rows (B, K, d): distance of their Gram matrix to a simplex ETF."""
    return gram_distance(centered, simplex_etf(centered.shape[-2], like=centered), degenerate(centered, reference))


def of_distance(vectors: Array, reference: Array | None = None) -> Array:
    """NC2 (OF) of (uncentered) rows (B, K, d): distance of their Gram matrix to an orthogonal frame."""
    return gram_distance(vectors, orthogonal_frame(vectors.shape[-2], like=vectors), degenerate(vectors, reference))


def alignment(W: Array, means: Array, bad: Array, *, W_norm: Array | None = None, means_norm: Array | None = None) -> Array:
    """NC3: ‖W/‖W‖_F − means/‖means‖_F‖_F per problem; NaN where `bad` (norms may be given)."""
    if bool(array_namespace(bad).any(bad)):
        W, means, W_norm, means_norm = _safe(W, bad), _safe(means, bad), None, None
    W_norm = frobenius(W) if W_norm is None else W_norm
    means_norm = frobenius(means) if means_norm is None else means_norm
    diff = W / W_norm[:, None, None] - means / means_norm[:, None, None]
    return masked(frobenius(diff), bad)


def nc1_projector(centered: Array, bad: Array) -> Array:
    """P (B, r, d) with NC1 = (1/N) Σ_i ‖P (h_i − h̄_{y_i})‖²; zero where `bad`.

    From the thin SVD M = U S Vᵀ of the K×d centered means: Σ_B = MᵀM/K, so
    (1/K) tr(Σ_W Σ_B^†) = (1/N) Σ_i ‖S⁻¹Vᵀ r_i‖², keeping singular values with
    s² > PINV_RTOL · s_max² (rows dropped in some problems of the batch are zero in those; rows
    dropped in all are not formed).  No d×d matrix is ever formed.
    """
    xp = array_namespace(centered)
    M = xp.where(bad[:, None, None], xp.zeros_like(centered), centered) if bool(xp.any(bad)) else centered
    _, S, Vh = xp.linalg.svd(M, full_matrices=False)
    keep = S * S > PINV_RTOL * S[:, :1] * S[:, :1]
    inv = xp.where(keep, 1.0 / xp.where(keep, S, xp.ones_like(S)), xp.zeros_like(S))
    rank = max(1, int(xp.max(xp.sum(xp.astype(keep, xp.int64), axis=-1))))  # S is sorted: the kept rows come first; drop the rest
    return Vh[:, :rank] * inv[:, :rank, None]


def decision_disagreements(H: Array, *, centered: Array, global_mean: Array, W: Array, b: Array | None) -> Array:
    """Per problem, how many rows of H (B, n, d) the classifier decides differently from the nearest class centre (NC4)."""
    K = W.shape[-2]
    # Distances relative to the global mean g: with m_j = μ_j − g,
    # argmin_j ‖h − μ_j‖² = argmin_j (‖m_j‖² − 2 (h − g)·m_j), since ‖h − g‖² is common to all j.
    # Expanding around 0 instead (‖μ_j‖² − 2 h·μ_j) loses the class separation to rounding when
    # the features share a large offset (wrong decisions measured at an offset of 1e8 × the spread).
    xp = array_namespace(H)
    products = batch_matmul(H, xp.concat([W, centered], axis=-2).mT)  # one pass over H for both decisions
    scores = products[..., :K] if b is None else products[..., :K] + b[:, None, :]
    shift = (centered @ global_mean[:, :, None]).mT  # (B, 1, K): m_j·g
    distances = sum_squares(centered, -1)[:, None, :] - 2.0 * (products[..., K:] - shift)
    return xp.astype(xp.sum(xp.astype(xp.argmax(scores, axis=-1) != xp.argmin(distances, axis=-1), xp.int64), axis=-1), xp.float64)


# ----------------------------------------------------------------------------- one matrix at a time
def _reference(value: float | None, like: Array) -> Array | None:
    """A reference norm as a (1,) float64 array beside `like`."""
    if value is None:
        return None
    xp = array_namespace(like)
    return xp.asarray([value], dtype=xp.float64, device=device_of(like))


def is_degenerate(X: Array, reference_norm: float | None = None) -> bool:
    """Whether the matrix X is zero, non-finite, or below DEGENERATE_RTOL × reference_norm."""
    X64 = array_namespace(X).astype(X[None], array_namespace(X).float64, copy=False)
    return bool(degenerate(X64, _reference(reference_norm, X))[0])


def nc2_etf(*, centered: Array, reference_norm: float | None = None) -> float:
    """NC2 (ETF) of one K×d matrix of already-centered rows."""
    return float(etf_distance(centered[None], _reference(reference_norm, centered))[0])


def nc2_of(*, vectors: Array, reference_norm: float | None = None) -> float:
    """NC2 (OF) of one K×d matrix of (uncentered) rows."""
    return float(of_distance(vectors[None], _reference(reference_norm, vectors))[0])


def nc3(*, W: Array, means: Array, reference_norm: float | None = None) -> float:
    """NC3 of one classifier W (K×d) against the class-mean rows given."""
    bad = degenerate(W[None]) | degenerate(means[None], _reference(reference_norm, means))
    return float(alignment(W[None], means[None], bad)[0])


# ----------------------------------------------------------------------------- class-mean logits
#: A singular value of the class-mean logits counts towards their numerical rank when it exceeds
#: LOGITS_RANK_RTOL x the largest one.  Garrod & Keating (2025, Fig. 3) count singular values above
#: 1e-6; relative here, not absolute: the network's features are float32, so a singular value below
#: ~1e-7 x the largest is rounding whatever the logits' scale (which MSE and CE set differently),
#: and at a largest singular value of 1 the two counts coincide (docs/math.md#logits-rank).
LOGITS_RANK_RTOL = 1e-6


def logits_singular_values(means: Array, W: Array, b: Array | None = None) -> Array:
    """Singular values (B, K), descending, of the class-mean logits Z = H̄ Wᵀ + 1 bᵀ (B, K, K).

    Row k of Z is the mean logit vector of class k.  An affine classifier commutes with the class
    mean, (1/n_k) Σ_{y_i = k} (W h_i + b) = W h̄_k + b, so Z is the classifier applied to the
    (uncentered) class means `means` (B, K, d); W (B, K, d) is the whole linear map from these
    features to the logits (for a linear head of depth L, its product W_L ⋯ W_1), b (B, K) its bias.
    """
    Z = batch_matmul(means, W.mT)
    if b is not None:
        Z = Z + b[:, None, :]
    return array_namespace(Z).linalg.svdvals(Z)


def numerical_rank(singular_values: Array, rtol: float = LOGITS_RANK_RTOL) -> Array:
    """(B,) int64: how many of the descending singular values (B, K) exceed rtol x the largest (0 for a zero matrix)."""
    xp = array_namespace(singular_values)
    return xp.sum(xp.astype(singular_values > rtol * singular_values[..., :1], xp.int64), axis=-1)
