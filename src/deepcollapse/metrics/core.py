"""Pure neural-collapse metric functions on class means and classifiers (docs/math.md#nc-metrics).

Everything here takes small float64 torch tensors (K×d rows = class means or classifier rows)
and returns Python floats; the streaming over samples lives in `streaming.py`.  A metric whose
geometry is undefined (zero vectors, all class means equal) is NaN, never 0 and never an error.

Row convention: `means[k]` is the uncentered mean of class k; `W[k]` is the classifier row of
class k.  The spec writes columns; the formulas are the same with transposes.
"""

from __future__ import annotations

import math

import torch

# A set of vectors whose norm is below DEGENERATE_RTOL × (a reference norm) is treated as zero:
# equal class means computed in float64 differ by rounding (~1e-16 relative), and metrics built
# on that rounding noise would be meaningless numbers rather than NaN.
DEGENERATE_RTOL = 1e-12

# Eigenvalues of Σ_B below PINV_RTOL × λ_max are dropped from the pseudo-inverse (docs/math.md#nc-metrics);
# for singular values of the centered means that is sqrt(PINV_RTOL).
PINV_RTOL = 1e-10

NAN = float("nan")


def is_degenerate(X: torch.Tensor, reference_norm: float | None = None) -> bool:
    """Whether X is zero, non-finite, or below DEGENERATE_RTOL × reference_norm (the NaN rule)."""
    norm = float(torch.linalg.norm(X))
    if norm == 0.0 or not math.isfinite(norm):
        return True
    return reference_norm is not None and norm <= DEGENERATE_RTOL * reference_norm


def _normalized_gram(X: torch.Tensor) -> torch.Tensor:
    X = X / torch.linalg.norm(X)  # rescale first: avoids under/overflow in the Gram matrix
    G = X @ X.T
    return G / torch.linalg.norm(G)


def nc2_etf(*, centered: torch.Tensor, reference_norm: float | None = None) -> float:
    """‖G/‖G‖ − P_K/√(K−1)‖_F for G the Gram matrix of already-centered rows (simplex ETF distance)."""
    if is_degenerate(centered, reference_norm):
        return NAN
    K = centered.shape[0]
    P = torch.eye(K, dtype=centered.dtype, device=centered.device) - 1.0 / K
    return float(torch.linalg.norm(_normalized_gram(centered) - P / math.sqrt(K - 1)))


def nc2_of(*, vectors: torch.Tensor, reference_norm: float | None = None) -> float:
    """‖G/‖G‖ − I_K/√K‖_F for G the Gram matrix of the (uncentered) rows (orthogonal-frame distance)."""
    if is_degenerate(vectors, reference_norm):
        return NAN
    K = vectors.shape[0]
    eye = torch.eye(K, dtype=vectors.dtype, device=vectors.device)
    return float(torch.linalg.norm(_normalized_gram(vectors) - eye / math.sqrt(K)))


def nc3(*, W: torch.Tensor, means: torch.Tensor, reference_norm: float | None = None) -> float:
    """‖W/‖W‖ − means/‖means‖‖_F: alignment of classifier rows with the class-mean rows given."""
    if is_degenerate(W, None) or is_degenerate(means, reference_norm):
        return NAN
    return float(torch.linalg.norm(W / torch.linalg.norm(W) - means / torch.linalg.norm(means)))


def nc1_projector(*, centered_means: torch.Tensor, reference_norm: float | None = None) -> torch.Tensor | None:
    """B (r×d) with NC1 = (1/N) Σ_i ‖B (h_i − h̄_{y_i})‖² (docs/math.md#nc-metrics), or None when undefined.

    From the thin SVD M = U S V^T of the K×d centered means: Σ_B = M^T M / K, so
    (1/K) tr(Σ_W Σ_B^†) = (1/N) Σ_i ‖S^{-1} V^T r_i‖², keeping singular values with
    s² > PINV_RTOL · s_max².  No d×d matrix is ever formed.
    """
    if is_degenerate(centered_means, reference_norm):
        return None
    _, S, Vh = torch.linalg.svd(centered_means, full_matrices=False)
    keep = S * S > PINV_RTOL * S[0] * S[0]
    return Vh[keep] / S[keep, None]


def from_means(
    *, means: torch.Tensor, global_mean: torch.Tensor, W: torch.Tensor | None = None
) -> dict[str, float]:
    """Every metric that needs only the class means (and the classifier): NC2, NC2_W, NC3."""
    reference = float(torch.linalg.norm(means))
    M = means - global_mean
    out = {
        "NC2_ETF": nc2_etf(centered=M, reference_norm=reference),
        "NC2_OF": nc2_of(vectors=means),
    }
    if W is not None:
        w_reference = float(torch.linalg.norm(W))
        out["NC2_W_ETF"] = nc2_etf(centered=W - W.mean(dim=0, keepdim=True), reference_norm=w_reference)
        out["NC2_W_OF"] = nc2_of(vectors=W)
        out["NC3_ETF"] = nc3(W=W, means=M, reference_norm=reference)
        out["NC3_OF"] = nc3(W=W, means=means)
    return out


def nearest_center_disagreements(
    H: torch.Tensor, *, means: torch.Tensor, global_mean: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None
) -> int:
    """Number of rows of H whose classifier decision differs from the nearest class centre (NC4)."""
    K = W.shape[0]
    # Distances relative to the global mean g: with m_j = μ_j − g,
    # argmin_j ‖h − μ_j‖² = argmin_j (‖m_j‖² − 2 (h − g)·m_j), since ‖h − g‖² is common to all j.
    # Expanding around 0 instead (‖μ_j‖² − 2 h·μ_j) loses the class separation to rounding when
    # the features share a large offset (wrong decisions measured at an offset of 1e8 × the spread).
    centered = means - global_mean
    products = H @ torch.cat([W, centered]).T  # one pass over H for both decisions
    scores = products[:, :K] if b is None else products[:, :K] + b
    distances = (centered * centered).sum(dim=1) - 2.0 * (products[:, K:] - centered @ global_mean)
    return int((scores.argmax(dim=1) != distances.argmin(dim=1)).sum())
