"""EXPLORATORY: the extended linear UFM with its features frozen at H1 = H1* + E (Appendix F.1 idea).

With H1 fixed, the extended objective (docs/math.md#extended-linear) over (W2, W1) depends on H1 only through the
moments G = H1ᵀH1/N (d1, d1) and C = H1ᵀY/N (d1, K) (sample-major):

    L(W2, W1) = ½ tr(P G Pᵀ) − tr(P C) + ½ + (λ_W2/2)‖W2‖² + (λ_W1/2)‖W1‖²,   P = W2 W1 (K, d1),

because (1/2N)‖H1 Pᵀ − Y‖² expands to those terms and ‖Y‖² = N for one-hot labels.  So plain
GD runs on K×d2 and d2×d1 matrices, batched over every (σ, n, seed) cell at once, whatever n is.

The two-factor lemma turns the same problem into a convex one in P (penalty √(λ_W1 λ_W2)‖P‖_*
when d2 ≥ K); `convex_reference` solves that by accelerated proximal gradient, to certify how
close GD got to the global minimum.

This is a local, minimal GD for this one use; the full extended-UFM solver is `deepcollapse.ufm`.
"""

from __future__ import annotations

import warnings

import torch

F64 = torch.float64


def product_gradient(P: torch.Tensor, G: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """∂/∂P of ½tr(PGPᵀ) − tr(PC): P G − Cᵀ (batched)."""
    return P @ G - C.transpose(-1, -2)


def gradients(W2: torch.Tensor, W1: torch.Tensor, G: torch.Tensor, C: torch.Tensor, *, lambda_W1: float, lambda_W2: float):
    """(∇W2, ∇W1) of L: docs/math.md#extended-linear's gradients with R H1ᵀ replaced by its moment form."""
    gP = product_gradient(W2 @ W1, G, C)
    return gP @ W1.transpose(-1, -2) + lambda_W2 * W2, W2.transpose(-1, -2) @ gP + lambda_W1 * W1


def data_term(P: torch.Tensor, G: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """(1/2N)‖H1 Pᵀ − Y‖² from the moments (batched; one value per cell)."""
    return 0.5 * ((P @ G) * P).sum((-1, -2)) - (P * C.transpose(-1, -2)).sum((-1, -2)) + 0.5


def objective(W2, W1, G, C, *, lambda_W1: float, lambda_W2: float) -> torch.Tensor:
    return (
        data_term(W2 @ W1, G, C)
        + 0.5 * lambda_W2 * (W2 * W2).sum((-1, -2))
        + 0.5 * lambda_W1 * (W1 * W1).sum((-1, -2))
    )


def convex_objective(P, G, C, *, mu: float) -> torch.Tensor:
    """The same minimum over P = W2 W1: data term + μ‖P‖_* (μ = √(λ_W1 λ_W2))."""
    return data_term(P, G, C) + mu * torch.linalg.svdvals(P).sum(-1)


def gradient_descent(
    W2: torch.Tensor, W1: torch.Tensor, G: torch.Tensor, C: torch.Tensor,
    *, lambda_W1: float, lambda_W2: float, lr: float, iters: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain full-batch GD with simultaneous updates (docs/math.md#gd-protocol), batched over the leading dim.

    Each step is `gradients` fused into four batched matrix products (the loop is the cost of
    the exploratory study): W ← (1 − ηλ)W − η·(data gradient), both factors from the old iterate.
    """
    Ct = C.transpose(-1, -2).contiguous()
    W2, W1 = W2.clone(), W1.clone()
    for _ in range(iters):
        gP = torch.baddbmm(Ct, W2 @ W1, G, beta=-1.0)  # P G − Cᵀ
        W2_next = torch.baddbmm(W2, gP, W1.transpose(-1, -2), beta=1.0 - lr * lambda_W2, alpha=-lr)
        W1 = torch.baddbmm(W1, W2.transpose(-1, -2), gP, beta=1.0 - lr * lambda_W1, alpha=-lr)
        W2 = W2_next
    return W2, W1


def convex_reference(G: torch.Tensor, C: torch.Tensor, *, mu: float, tol: float = 1e-13, max_iters: int = 20000) -> torch.Tensor:
    """argmin_P ½tr(PGPᵀ) − tr(PC) + μ‖P‖_* by FISTA with adaptive restart (batched).

    Step 1/L with L = λ_max(G); the proximal step soft-thresholds singular values.  Stops when
    no cell's iterate moves by more than tol·max(1, ‖P‖) in an iteration.
    """
    step = 1.0 / torch.linalg.eigvalsh(G)[..., -1].clamp_min(1e-300)[..., None, None]
    K = C.shape[-1]
    P = torch.zeros(*G.shape[:-2], K, G.shape[-1], dtype=G.dtype, device=G.device)
    Q, t = P, torch.ones(G.shape[:-2] + (1, 1), dtype=G.dtype, device=G.device)
    for _ in range(max_iters):
        X = Q - step * product_gradient(Q, G, C)
        U, S, Vh = torch.linalg.svd(X, full_matrices=False)
        P_new = (U * (S - step[..., 0] * mu).clamp_min(0.0)[..., None, :]) @ Vh
        moved = torch.linalg.matrix_norm(P_new - P)
        if bool((moved <= tol * torch.linalg.matrix_norm(P_new).clamp_min(1.0)).all()):
            return P_new
        # O'Donoghue-Candès restart: drop the momentum where it points uphill.
        uphill = ((Q - P_new) * (P_new - P)).sum((-1, -2), keepdim=True) > 0
        t_new = 0.5 * (1.0 + torch.sqrt(1.0 + 4.0 * t * t))
        momentum = torch.where(uphill, torch.zeros_like(t), (t - 1.0) / t_new)
        t = torch.where(uphill, torch.ones_like(t), t_new)
        Q = P_new + momentum * (P_new - P)
        P = P_new
    warnings.warn(
        f"convex_reference: no convergence to tol={tol:g} within {max_iters} iterations; the exploratory "
        "objective gaps are measured against an unconverged reference",
        RuntimeWarning,
        stacklevel=2,
    )
    return P
