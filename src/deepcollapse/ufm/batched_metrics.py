"""The NC metrics of `deepcollapse.metrics` for a batch of UFM feature levels, in one tensor pass.

`metrics.nc` measures one feature matrix at a time; a sweep of B problems logged at T points would
call it B·T times per level.  Here the same formulas (docs/math.md#nc-metrics, and the same conventions as
`metrics.core`: the pseudo-inverse cut-off and the NaN rule for degenerate geometry) run on all B
problems at once, on the CPU or the GPU.  UFM labels are balanced and class-major, which makes the
class means a reshape.  The tests hold every key against `metrics.nc` problem by problem.
"""

from __future__ import annotations

import math

import torch

from ..metrics import CLASSIFIER_KEYS, KEYS
from ..metrics.core import DEGENERATE_RTOL, PINV_RTOL

F64 = torch.float64


def _norm(X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(X)


def _degenerate(X: torch.Tensor, reference: torch.Tensor | None) -> torch.Tensor:
    """Per problem: ‖X‖ = 0, non-finite, or ≤ DEGENERATE_RTOL · reference (metrics.core.is_degenerate)."""
    norm = _norm(X)
    bad = (norm == 0) | ~torch.isfinite(norm)
    if reference is not None:
        bad |= norm <= DEGENERATE_RTOL * reference
    return bad


def _normalized_gram(X: torch.Tensor) -> torch.Tensor:
    X = X / _norm(X)[:, None, None]
    G = X @ X.mT
    return G / _norm(G)[:, None, None]


def _masked(values: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    return torch.where(bad, torch.full_like(values, math.nan), values)


def _nc2(X: torch.Tensor, target: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    safe = torch.where(bad[:, None, None], torch.ones_like(X), X)  # keep NaN out of the arithmetic
    return _masked(_norm(_normalized_gram(safe) - target), bad)


def _nc3(W: torch.Tensor, means: torch.Tensor, bad: torch.Tensor) -> torch.Tensor:
    safe_W = torch.where(bad[:, None, None], torch.ones_like(W), W)
    safe_m = torch.where(bad[:, None, None], torch.ones_like(means), means)
    diff = safe_W / _norm(safe_W)[:, None, None] - safe_m / _norm(safe_m)[:, None, None]
    return _masked(_norm(diff), bad)


def nc(features: torch.Tensor, *, K: int, W: torch.Tensor | None = None, b: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Every key of `metrics.KEYS` for B problems; each value has shape (B,), float64.

    `features` (B, p, N) in the spec's column layout with N = K·n class-major columns; `W`
    (B, K, p) the classifier acting on them and `b` (B, K) its bias.  Without W the classifier
    keys are NaN (the level has no linear classifier).
    """
    X = features.to(F64)
    B, p, N = X.shape
    n = N // K
    means = X.reshape(B, p, K, n).mean(dim=-1).mT  # (B, K, p): row k = uncentered mean of class k
    M = means - means.mean(dim=1, keepdim=True)  # balanced classes: global mean = mean of class means
    reference = _norm(means)
    bad_M = _degenerate(M, reference)
    out: dict[str, torch.Tensor] = {}

    # NC1 = (1/N) Σ_i ‖S⁻¹Vᵀ(h_i − h̄_{y_i})‖² over the kept singular values of M (metrics.core.nc1_projector)
    _, S, Vh = torch.linalg.svd(torch.where(bad_M[:, None, None], torch.zeros_like(M), M), full_matrices=False)
    keep = S * S > PINV_RTOL * S[:, :1] * S[:, :1]
    inv = torch.where(keep, 1.0 / torch.where(keep, S, torch.ones_like(S)), torch.zeros_like(S))
    residual = (X.reshape(B, p, K, n) - means.mT[..., None]).reshape(B, p, N)
    projected = (Vh @ residual) * inv[:, :, None]
    out["NC1"] = _masked(projected.square().sum(dim=(1, 2)) / N, bad_M)

    eye = torch.eye(K, dtype=F64, device=X.device)
    etf = (eye - 1.0 / K) / math.sqrt(K - 1)
    of = eye / math.sqrt(K)
    out["NC2_ETF"] = _nc2(M, etf, bad_M)
    out["NC2_OF"] = _nc2(means, of, _degenerate(means, None))
    if W is None:
        nan = torch.full((B,), math.nan, dtype=F64, device=X.device)
        out.update({key: nan for key in CLASSIFIER_KEYS})
        return {key: out[key] for key in KEYS}

    W = W.to(F64)
    bad_W = _degenerate(W, None)
    Wc = W - W.mean(dim=1, keepdim=True)
    out["NC2_W_ETF"] = _nc2(Wc, etf, _degenerate(Wc, _norm(W)))
    out["NC2_W_OF"] = _nc2(W, of, bad_W)
    out["NC3_ETF"] = _nc3(W, M, bad_W | bad_M)
    out["NC3_OF"] = _nc3(W, means, bad_W | _degenerate(means, None))

    # NC4: classifier decision vs nearest class centre, argmin_j ‖m_j‖² − 2 (h − g)·m_j with
    # m_j = μ_j − g the centered means M (metrics.core.nearest_center_disagreements)
    scores = W @ X
    if b is not None:
        scores = scores + b.to(F64)[:, :, None]
    global_mean = means.mean(dim=1)  # (B, p)
    distances = M.square().sum(dim=-1)[:, :, None] - 2.0 * (M @ X - (M @ global_mean[:, :, None]))
    disagreement = (scores.argmax(dim=1) != distances.argmin(dim=1)).sum(dim=1).to(F64) / N
    out["NC4"] = _masked(disagreement, bad_M | bad_W)  # undefined: all means equal, or W = 0
    return {key: out[key] for key in KEYS}
