"""The geometry behind the neural-collapse metrics, batched over a leading dimension.

Every function takes float64 torch tensors with one leading batch dimension (B problems; a single
problem is B = 1) and returns one value per problem.  The metric table (`table.py`) builds each
metric key from these; nothing else in the package re-implements them.  A metric whose geometry is
undefined (zero vectors, all class means equal) is NaN, never 0 and never an error.

Row convention: `means[..., k, :]` is the uncentered mean of class k; `W[..., k, :]` is the
classifier row of class k.  The spec writes columns; the formulas are the same with transposes.

The un-batched helpers at the end (`nc2_etf`, `nc2_of`, `nc3`, `is_degenerate`) take one K×d
matrix and return a Python float, for callers that measure a single matrix.
"""

from __future__ import annotations

import math

import torch

# A set of vectors whose norm is below DEGENERATE_RTOL × (a reference norm) is treated as zero:
# equal class means computed in float64 differ by rounding (~1e-16 relative), and metrics built
# on that rounding noise would be meaningless numbers rather than NaN.
DEGENERATE_RTOL = 1e-12

# Eigenvalues of Σ_B below PINV_RTOL × λ_max are dropped from the pseudo-inverse;
# for singular values of the centered means that is sqrt(PINV_RTOL).
PINV_RTOL = 1e-10

NAN = float("nan")


def frobenius(X: torch.Tensor) -> torch.Tensor:
    """‖X‖_F of each (m, n) matrix of a (B, m, n) batch: shape (B,)."""
    return torch.linalg.matrix_norm(X)


def degenerate(X: torch.Tensor, reference: torch.Tensor | None = None, *, norm: torch.Tensor | None = None) -> torch.Tensor:
    """Per problem: X is zero, non-finite, or ‖X‖ ≤ DEGENERATE_RTOL · reference (the NaN rule)."""
    norm = frobenius(X) if norm is None else norm
    # one comparison covers zero and NaN (NaN > t is false); isfinite covers inf
    floor = 0.0 if reference is None else DEGENERATE_RTOL * reference
    return ~(torch.isfinite(norm) & (norm > floor))


def masked(values: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """`values` with NaN where `bad`."""
    return torch.where(bad, torch.full_like(values, math.nan), values)


def _safe(X: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """X with the bad problems replaced by ones: keeps 0/0 out of the arithmetic (masked later)."""
    return torch.where(bad[:, None, None], torch.ones_like(X), X) if bool(bad.any()) else X


def batch_matmul(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """A @ B over a leading batch dim; a batch of one goes through a plain 2-D GEMM (the streamed
    single-problem path multiplies 64 MB blocks, where the batched kernel is measurably slower)."""
    if A.shape[0] == 1 and B.shape[0] == 1:
        return (A[0] @ B[0])[None]
    return A @ B


def _normalized_gram(X: torch.Tensor) -> torch.Tensor:
    X = X / frobenius(X)[:, None, None]  # rescale first: avoids under/overflow in the Gram matrix
    G = X @ X.mT
    return G / frobenius(G)[:, None, None]


def simplex_etf(K: int, *, device=None) -> torch.Tensor:
    """P_K/‖P_K‖_F = (I − 11ᵀ/K)/√(K−1): the normalized Gram matrix of a simplex ETF."""
    eye = torch.eye(K, dtype=torch.float64, device=device)
    return (eye - 1.0 / K) / math.sqrt(K - 1)


def orthogonal_frame(K: int, *, device=None) -> torch.Tensor:
    """I_K/√K: the normalized Gram matrix of an orthogonal frame."""
    return torch.eye(K, dtype=torch.float64, device=device) / math.sqrt(K)


def gram_distance(X: torch.Tensor, target: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """‖G/‖G‖_F − target‖_F for G = X Xᵀ of each problem; NaN where `bad`."""
    return masked(frobenius(_normalized_gram(_safe(X, bad)) - target), bad)


def etf_distance(centered: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """NC2 (ETF) of already-centered rows (B, K, d): distance of their Gram matrix to a simplex ETF."""
    return gram_distance(centered, simplex_etf(centered.shape[-2], device=centered.device), degenerate(centered, reference))


def of_distance(vectors: torch.Tensor, reference: torch.Tensor | None = None) -> torch.Tensor:
    """NC2 (OF) of (uncentered) rows (B, K, d): distance of their Gram matrix to an orthogonal frame."""
    return gram_distance(vectors, orthogonal_frame(vectors.shape[-2], device=vectors.device), degenerate(vectors, reference))


def alignment(
    W: torch.Tensor, means: torch.Tensor, bad: torch.Tensor, *, W_norm: torch.Tensor | None = None, means_norm: torch.Tensor | None = None
) -> torch.Tensor:
    """NC3: ‖W/‖W‖_F − means/‖means‖_F‖_F per problem; NaN where `bad` (norms may be given)."""
    if bool(bad.any()):
        W, means, W_norm, means_norm = _safe(W, bad), _safe(means, bad), None, None
    W_norm = frobenius(W) if W_norm is None else W_norm
    means_norm = frobenius(means) if means_norm is None else means_norm
    diff = W / W_norm[:, None, None] - means / means_norm[:, None, None]
    return masked(frobenius(diff), bad)


def nc1_projector(centered: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    """P (B, r, d) with NC1 = (1/N) Σ_i ‖P (h_i − h̄_{y_i})‖²; zero where `bad`.

    From the thin SVD M = U S Vᵀ of the K×d centered means: Σ_B = MᵀM/K, so
    (1/K) tr(Σ_W Σ_B^†) = (1/N) Σ_i ‖S⁻¹Vᵀ r_i‖², keeping singular values with
    s² > PINV_RTOL · s_max² (rows dropped in some problems of the batch are zero in those; rows
    dropped in all are not formed).  No d×d matrix is ever formed.
    """
    M = torch.where(bad[:, None, None], torch.zeros_like(centered), centered) if bool(bad.any()) else centered
    _, S, Vh = torch.linalg.svd(M, full_matrices=False)
    keep = S * S > PINV_RTOL * S[:, :1] * S[:, :1]
    inv = torch.where(keep, 1.0 / torch.where(keep, S, torch.ones_like(S)), torch.zeros_like(S))
    rank = max(1, int(keep.sum(dim=-1).max()))  # S is sorted: the kept rows come first; drop the rest
    return Vh[:, :rank] * inv[:, :rank, None]


def decision_disagreements(
    H: torch.Tensor, *, centered: torch.Tensor, global_mean: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None
) -> torch.Tensor:
    """Per problem, how many rows of H (B, n, d) the classifier decides differently from the nearest class centre (NC4)."""
    K = W.shape[-2]
    # Distances relative to the global mean g: with m_j = μ_j − g,
    # argmin_j ‖h − μ_j‖² = argmin_j (‖m_j‖² − 2 (h − g)·m_j), since ‖h − g‖² is common to all j.
    # Expanding around 0 instead (‖μ_j‖² − 2 h·μ_j) loses the class separation to rounding when
    # the features share a large offset (wrong decisions measured at an offset of 1e8 × the spread).
    products = batch_matmul(H, torch.cat([W, centered], dim=-2).mT)  # one pass over H for both decisions
    scores = products[..., :K] if b is None else products[..., :K] + b[:, None, :]
    shift = (centered @ global_mean[:, :, None]).mT  # (B, 1, K): m_j·g
    distances = centered.square().sum(dim=-1)[:, None, :] - 2.0 * (products[..., K:] - shift)
    return (scores.argmax(dim=-1) != distances.argmin(dim=-1)).sum(dim=-1).to(torch.float64)


# ----------------------------------------------------------------------------- one matrix at a time
def is_degenerate(X: torch.Tensor, reference_norm: float | None = None) -> bool:
    """Whether the matrix X is zero, non-finite, or below DEGENERATE_RTOL × reference_norm."""
    reference = None if reference_norm is None else torch.tensor([reference_norm], dtype=torch.float64)
    return bool(degenerate(X[None].to(torch.float64), reference)[0])


def nc2_etf(*, centered: torch.Tensor, reference_norm: float | None = None) -> float:
    """NC2 (ETF) of one K×d matrix of already-centered rows."""
    reference = None if reference_norm is None else torch.tensor([reference_norm], dtype=torch.float64, device=centered.device)
    return float(etf_distance(centered[None], reference)[0])


def nc2_of(*, vectors: torch.Tensor, reference_norm: float | None = None) -> float:
    """NC2 (OF) of one K×d matrix of (uncentered) rows."""
    reference = None if reference_norm is None else torch.tensor([reference_norm], dtype=torch.float64, device=vectors.device)
    return float(of_distance(vectors[None], reference)[0])


def nc3(*, W: torch.Tensor, means: torch.Tensor, reference_norm: float | None = None) -> float:
    """NC3 of one classifier W (K×d) against the class-mean rows given."""
    reference = None if reference_norm is None else torch.tensor([reference_norm], dtype=torch.float64, device=means.device)
    bad = degenerate(W[None]) | degenerate(means[None], reference)
    return float(alignment(W[None], means[None], bad)[0])


# ----------------------------------------------------------------------------- class-mean logits
#: A singular value of the class-mean logits counts towards their numerical rank when it exceeds
#: LOGITS_RANK_RTOL x the largest one.  Garrod & Keating (2025, Fig. 3) count singular values above
#: 1e-6; relative here, not absolute: the network's features are float32, so a singular value below
#: ~1e-7 x the largest is rounding whatever the logits' scale (which MSE and CE set differently),
#: and at a largest singular value of 1 the two counts coincide (docs/math.md#logits-rank).
LOGITS_RANK_RTOL = 1e-6


def logits_singular_values(means: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
    """Singular values (B, K), descending, of the class-mean logits Z = H̄ Wᵀ + 1 bᵀ (B, K, K).

    Row k of Z is the mean logit vector of class k.  An affine classifier commutes with the class
    mean, (1/n_k) Σ_{y_i = k} (W h_i + b) = W h̄_k + b, so Z is the classifier applied to the
    (uncentered) class means `means` (B, K, d); W (B, K, d) is the whole linear map from these
    features to the logits (for a linear head of depth L, its product W_L ⋯ W_1), b (B, K) its bias.
    """
    Z = batch_matmul(means, W.mT)
    if b is not None:
        Z = Z + b[:, None, :]
    return torch.linalg.svdvals(Z)


def numerical_rank(singular_values: torch.Tensor, rtol: float = LOGITS_RANK_RTOL) -> torch.Tensor:
    """(B,) int64: how many of the descending singular values (B, K) exceed rtol x the largest (0 for a zero matrix)."""
    return (singular_values > rtol * singular_values[..., :1]).sum(dim=-1)
