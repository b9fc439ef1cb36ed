"""The optimal classifier for fixed features: ridge regression onto one-hot labels (docs/math.md#theorem-5-1).

    W(H) = argmin_W (1/2N)‖W H − Y‖² + (λ_W/2)‖W‖²  =  Y Hᵀ (H Hᵀ + N λ_W I)⁻¹   (columns)

computed sample-major as W = solve(HᵀH + Nλ_W I, HᵀY)ᵀ with a Cholesky factorisation, never an
explicit inverse.  H enters only through its second moments, so `solve_from_moments` is shared
with the study, which builds those moments for many noise levels at once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..metrics import _inputs, blocks

F64 = torch.float64

# Elements per row block of the Gram accumulation (the package's streaming rule; tests shrink it).
_CHUNK_ELEMENTS = blocks.BLOCK_ELEMENTS


def solve_from_moments(gram: torch.Tensor, cross: torch.Tensor, *, N: int | torch.Tensor, lambda_W: float) -> torch.Tensor:
    """W (…, K, d) from gram = HᵀH (…, d, d) and cross = HᵀY (…, d, K); batched over leading dims.

    `N` (the number of samples, the 1/(2N) of the loss) may be a tensor broadcast over the batch.
    """
    d = gram.shape[-1]
    ridge = torch.as_tensor(N, dtype=gram.dtype, device=gram.device) * lambda_W
    A = gram + ridge[..., None, None] * torch.eye(d, dtype=gram.dtype, device=gram.device)
    L, info = torch.linalg.cholesky_ex(A)
    if bool((info != 0).any()):
        raise InputError(
            f"HᵀH + Nλ_W·I is not numerically positive definite (lambda_W={lambda_W:g} is too small for "
            "these features); use a larger lambda_W"
        )
    return torch.cholesky_solve(cross, L).transpose(-1, -2)


def _check_lambda(lambda_W: Any) -> float:
    if isinstance(lambda_W, bool) or not isinstance(lambda_W, (int, float)) or not math.isfinite(lambda_W) or lambda_W <= 0:
        raise InputError(f"lambda_W must be a positive finite number, got {lambda_W!r}")
    return float(lambda_W)


def classifier(H: Any, y: Any, *, lambda_W: float, K: int | None = None) -> Any:
    """Exact minimizer W (K, d) of (1/2N)‖W Hᵀ − Yᵀ‖² + (λ_W/2)‖W‖² for features H (N, d), labels y (N,).

    N is the number of rows of H (K·n for the balanced study); Y is one-hot in K classes
    (default: max(y) + 1).  Computed in float64.  Returns a float64 torch tensor on H's device
    when H is a torch tensor, a numpy array otherwise.  Bad input raises InputError.
    """
    lam = _check_lambda(lambda_W)
    shape = _inputs.shape_of(H, name="H")
    if len(shape) != 2:
        raise InputError(f"H must be a 2-D array of shape (N, d), got shape {shape}")
    N, d = shape
    if N == 0 or d == 0:
        raise InputError(f"H must have at least one sample and one feature, got shape {shape}")
    if _inputs.shape_of(y, name="y") != (N,):
        raise InputError(f"y must have shape ({N},) to match H of shape {shape}, got {_inputs.shape_of(y, name='y')}")
    K = _inputs.num_classes(K, y, None)
    device = _inputs.device_of(H)
    labels = _inputs.labels(y, n=N, K=K, device=device)

    gram = torch.zeros(d, d, dtype=F64, device=device)
    cross = torch.zeros(d, K, dtype=F64, device=device)
    for start, stop in blocks.row_blocks(N, d, block_elements=_CHUNK_ELEMENTS):
        chunk = _inputs.to_tensor(H[start:stop], name="H", device=device)
        _inputs.check_finite(chunk, name="H", offset=start)
        gram += chunk.T @ chunk
        onehot = torch.nn.functional.one_hot(labels[start:stop], K).to(F64)
        cross += chunk.T @ onehot  # column k += Σ_{y_i = k} h_i (a GEMM: far faster than a scatter)
    if not bool(torch.isfinite(gram).all()):
        raise InputError("HᵀH overflows float64: the features are too large (rescale H)")
    W = solve_from_moments(gram, cross, N=N, lambda_W=lam)
    return W if isinstance(H, torch.Tensor) else W.cpu().numpy()


def classifier_explicit_inverse(H: np.ndarray, Y: np.ndarray, *, lambda_W: float) -> np.ndarray:
    """Textbook Y Hᵀ (H Hᵀ + Nλ I)⁻¹ on sample-major numpy input (H (N, d), one-hot Y (N, K)).

    Reference for tests and the benchmark baseline only: the explicit inverse is what the
    package avoids.
    """
    N, d = H.shape
    return Y.T @ H @ np.linalg.inv(H.T @ H + N * lambda_W * np.eye(d))
