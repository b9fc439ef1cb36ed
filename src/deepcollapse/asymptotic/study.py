"""The Theorem 5.1 study over (σ, n, seed), and its exploratory extended-model counterpart.

For every n and seed one unit-variance noise draw Z is reduced to its moments (ZᵀZ and the class
sums); every σ then costs one d×d solve.  The result is an xarray Dataset with dims
(sigma, n, seed); its variables are described in `VARIABLE_DOCS` (stored as each variable's
"description" attribute) and in the repository's docs/outputs.md ("Theorem 5.1 study").
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import devices
from ..config import to_dict
from ..errors import InputError
from ..metrics import core
from . import extended, noise, theory
from .configs import Config
from .ridge import solve_from_moments

F64 = torch.float64

EXPLORATORY_NOTE = (
    "Variables prefixed 'exploratory_' are EXPLORATORY: the extended linear UFM with H1 = H1* + E "
    "frozen and (W2, W1) found by gradient descent, compared with an attenuated copy of the noise-free "
    "W2*W1* (the paper's Appendix F.1 intuition). The attenuation 1/(1 + K sigma^2 / c1^2) is derived "
    "in deepcollapse.asymptotic.theory.extended_limit, not a theorem of the paper."
)


def _seeds(cfg: Config) -> list[int]:
    return list(range(cfg.seed, cfg.seed + cfg.seeds))


def _frob(X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(X)


def _ratio(num: torch.Tensor, den: float) -> torch.Tensor:
    """num/den, NaN where the reference is exactly zero (the zero minimizer)."""
    return num / den if den > 0 else torch.full_like(num, math.nan)


def _numpy(X: torch.Tensor) -> np.ndarray:
    return X.detach().cpu().numpy()


def _per_cell(fn, X: torch.Tensor) -> np.ndarray:
    """Apply a metrics.core function to every (K, ·) matrix of a (..., K, ·) batch."""
    flat = X.reshape(-1, *X.shape[-2:])
    return np.array([fn(flat[i]) for i in range(flat.shape[0])]).reshape(X.shape[:-2])


def plain_classifiers(cfg: Config, means: torch.Tensor, progress=None) -> torch.Tensor:
    """W(H* + σZ) for every (σ, n, seed): shape (S, len(n), seeds, K, d)."""
    device = means.device
    sigma = torch.tensor(cfg.sigma, dtype=F64, device=device)
    W = torch.empty(len(cfg.sigma), len(cfg.n), cfg.seeds, cfg.K, cfg.d, dtype=F64, device=device)
    for i, n in enumerate(cfg.n):
        for j, seed in enumerate(_seeds(cfg)):
            gram_Z, sums_Z = noise.unit_noise_moments(
                K=cfg.K, n=n, d=cfg.d, seed=seed, stream="plain", distribution=cfg.noise, device=device
            )
            gram, cross = noise.noisy_moments(means=means, n=n, sigma=sigma, gram_Z=gram_Z, sums_Z=sums_Z)
            W[:, i, j] = solve_from_moments(gram, cross, N=cfg.K * n, lambda_W=cfg.lambda_W)
            if progress is not None:
                progress(1)  # one (n, seed) cell done
    return W


def fit_rate(relative_error: np.ndarray, *, n: np.ndarray, sigma: np.ndarray, n_min: int) -> np.ndarray:
    """Least-squares slope of log(error) against log(n) over n ≥ n_min; error has dims (sigma, n, seed).

    Returns (sigma, seed).  NaN at σ = 0 (no noise: the error is rounding or GD residual and has
    no rate), where fewer than two n qualify, and where an error is not positive and finite.
    """
    keep = np.asarray(n) >= n_min
    out = np.full((relative_error.shape[0], relative_error.shape[2]), np.nan)
    if keep.sum() < 2:
        return out
    x = np.log(np.asarray(n)[keep].astype(float))
    xc = x - x.mean()
    err = relative_error[:, keep, :]
    usable = (np.asarray(sigma) > 0)[:, None] & np.all(np.isfinite(err) & (err > 0), axis=1)
    y = np.log(np.where(np.isfinite(err) & (err > 0), err, 1.0))
    slopes = np.einsum("n,snr->sr", xc, y - y.mean(axis=1, keepdims=True)) / (xc @ xc)
    out[usable] = slopes[usable]
    return out


def _intra_op_threads(device: torch.device, threads: int | None):
    """`threads` intra-op threads on the CPU (None: torch's setting).

    The study's tensors are tiny (hundreds of 20×20 matrices): on a loaded 2-core machine one
    thread ran the default grid 3-6× faster than two (5 s against 14-29 s, measured).
    """
    return devices.cpu_threads(threads, device=device)


def _init(cfg: Config, *, n: int, seed: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The GD starting point of cell (n, seed), shared by every σ (scale·N(0,1), as in docs/math.md#gd-protocol)."""
    ext = cfg.extended
    g = noise.generator(seed=seed, n=n, stream="init", device=device)
    W2 = torch.randn(cfg.K, ext.d2, generator=g, device=device, dtype=F64) * ext.init_scale
    W1 = torch.randn(ext.d2, ext.d1, generator=g, device=device, dtype=F64) * ext.init_scale
    return W2, W1


def extended_study(cfg: Config, minimizer: theory.ExtendedMinimizer) -> dict[str, tuple]:
    """EXPLORATORY: GD on (W2, W1) with H1 = H1* + σZ frozen, for every (σ, n, seed)."""
    ext, device = cfg.extended, devices.resolve(cfg.device)
    means = torch.tensor(minimizer.means, dtype=F64, device=device)
    sigma = torch.tensor(cfg.sigma, dtype=F64, device=device)
    S, Nn, R = len(cfg.sigma), len(cfg.n), cfg.seeds
    G = torch.empty(S, Nn, R, ext.d1, ext.d1, dtype=F64, device=device)
    C = torch.empty(S, Nn, R, ext.d1, cfg.K, dtype=F64, device=device)
    W2 = torch.empty(S, Nn, R, cfg.K, ext.d2, dtype=F64, device=device)
    W1 = torch.empty(S, Nn, R, ext.d2, ext.d1, dtype=F64, device=device)
    for i, n in enumerate(cfg.n):
        for j, seed in enumerate(_seeds(cfg)):
            gram_Z, sums_Z = noise.unit_noise_moments(
                K=cfg.K, n=n, d=ext.d1, seed=seed, stream="extended", distribution=cfg.noise, device=device
            )
            gram, cross = noise.noisy_moments(means=means, n=n, sigma=sigma, gram_Z=gram_Z, sums_Z=sums_Z)
            G[:, i, j], C[:, i, j] = gram / (cfg.K * n), cross / (cfg.K * n)
            W2[:, i, j], W1[:, i, j] = _init(cfg, n=n, seed=seed, device=device)

    G, C, W2, W1 = (X.reshape((S * Nn * R,) + X.shape[3:]) for X in (G, C, W2, W1))  # one batch of cells
    lam = dict(lambda_W1=ext.lambda_W1, lambda_W2=ext.lambda_W2)
    W2f, W1f = extended.gradient_descent(W2, W1, G, C, lr=ext.lr, iters=ext.iters, **lam)
    if not (torch.isfinite(W2f).all() and torch.isfinite(W1f).all()):
        raise InputError(f"extended GD diverged at extended.lr={ext.lr}; use a smaller step")
    P_ref = extended.convex_reference(G, C, mu=minimizer.mu)
    L_gd = extended.objective(W2f, W1f, G, C, **lam)
    L_ref = extended.convex_objective(P_ref, G, C, mu=minimizer.mu)
    g2, g1 = extended.gradients(W2f, W1f, G, C, **lam)
    grad_norm = torch.sqrt(_frob(g2) ** 2 + _frob(g1) ** 2)

    shape = (S, Nn, R)
    P = (W2f @ W1f).reshape(shape + (cfg.K, ext.d1))
    P_ref = P_ref.reshape(P.shape)
    W2f = W2f.reshape(shape + (cfg.K, ext.d2))
    P_star = torch.tensor(minimizer.P, dtype=F64, device=device)
    a = torch.tensor([theory.extended_limit(minimizer, K=cfg.K, sigma=s) for s in cfg.sigma], dtype=F64, device=device)
    P_lim = a[:, None, None, None, None] * P_star
    lim_norm = _frob(P_lim)
    cells = ("sigma", "n", "seed")
    rel = _frob(P - P_lim) / lim_norm if not minimizer.is_zero else torch.full(shape, math.nan, dtype=F64, device=device)
    p_star_sq = float((P_star * P_star).sum())
    return {
        "exploratory_W2W1": (cells + ("class", "feature1"), _numpy(P)),
        "exploratory_relative_error": (cells, _numpy(rel)),
        "exploratory_attenuation": (cells, _numpy(_ratio((P * P_star).sum((-1, -2)), p_star_sq))),
        "exploratory_NC2_W_OF": (cells, _per_cell(lambda X: core.nc2_of(vectors=X), P)),
        "exploratory_NC2_W2_OF": (cells, _per_cell(lambda X: core.nc2_of(vectors=X), W2f)),
        "exploratory_NC3_OF": (cells, _per_cell(lambda X: core.nc3(W=X, means=means), P)),
        "exploratory_gd_objective_gap": (cells, _numpy(((L_gd - L_ref) / L_ref).reshape(shape))),
        "exploratory_gd_distance_to_minimizer": (
            cells,
            _numpy(_frob(P - P_ref) / _frob(P_ref).clamp_min(1e-300)),
        ),
        "exploratory_gd_gradient_norm": (cells, _numpy(grad_norm.reshape(shape))),
        "exploratory_attenuation_limit": (("sigma",), _numpy(a)),
        "exploratory_W2W1_star": (("class", "feature1"), minimizer.P),
        "exploratory_class_means_star": (("class", "feature1"), minimizer.means),
    }


def run(cfg: Config, *, cpu_threads: int | None = 1, progress=None):
    """The whole study as an xarray Dataset (dims sigma, n, seed); see docs/outputs.md for the variables.

    `cpu_threads`: torch intra-op threads while computing on the CPU (see `_intra_op_threads`);
    `progress(k)`, if given, is told that k more of the len(n)·seeds noise draws are solved.
    """
    device = devices.resolve(cfg.device)
    with _intra_op_threads(device, cpu_threads):
        return _run(cfg, device, progress)


def _run(cfg: Config, device: torch.device, progress=None):
    import xarray as xr

    plain = theory.plain_minimizer(K=cfg.K, d=cfg.d, lambda_W=cfg.lambda_W, lambda_H_tilde=cfg.lambda_H_tilde)
    means = torch.tensor(plain.means, dtype=F64, device=device)
    W_star = torch.tensor(plain.W, dtype=F64, device=device)
    a = torch.tensor(
        [theory.limit(K=cfg.K, lambda_W=cfg.lambda_W, lambda_H_tilde=cfg.lambda_H_tilde, sigma=s) for s in cfg.sigma],
        dtype=F64,
        device=device,
    )
    W = plain_classifiers(cfg, means, progress)
    W_lim = a[:, None, None, None, None] * W_star
    error = _frob(W - W_lim)
    rel = error / _frob(W_lim)  # NaN/inf only for the zero minimizer, replaced below
    if plain.is_zero:
        rel = torch.full_like(error, math.nan)
    w_star_sq = float((W_star * W_star).sum())
    cells = ("sigma", "n", "seed")
    rel_np = _numpy(rel)
    n_arr = np.asarray(cfg.n)
    sigma_arr = np.asarray(cfg.sigma, dtype=float)
    data = {
        "W": (cells + ("class", "feature"), _numpy(W)),
        "error": (cells, _numpy(error)),
        "relative_error": (cells, rel_np),
        "attenuation": (cells, _numpy(_ratio((W * W_star).sum((-1, -2)), w_star_sq))),
        "NC2_W_OF": (cells, _per_cell(lambda X: core.nc2_of(vectors=X), W)),
        "NC3_OF": (cells, _per_cell(lambda X: core.nc3(W=X, means=means), W)),
        "attenuation_limit": (("sigma",), _numpy(a)),
        "rate_exponent": (("sigma", "seed"), fit_rate(rel_np, n=n_arr, sigma=sigma_arr, n_min=cfg.rate_fit_n_min)),
        "W_star": (("class", "feature"), plain.W),
        "class_means_star": (("class", "feature"), plain.means),
    }
    attrs = {
        "title": "Theorem 5.1 (Tirer & Bruna 2022): optimal classifier for fixed noisy features H = H* + E",
        "config": to_dict(cfg),
        "theory_c": plain.c,
        "theory_h2": plain.h2,
        "theory_kappa": plain.kappa,
        "theory_minimizer_is_zero": plain.is_zero,
        "rate_fit_n_min": cfg.rate_fit_n_min,
    }
    if cfg.extended.enabled:
        ext = theory.extended_minimizer(
            K=cfg.K,
            d1=cfg.extended.d1,
            lambda_W1=cfg.extended.lambda_W1,
            lambda_W2=cfg.extended.lambda_W2,
            lambda_H1_tilde=cfg.extended.lambda_H1_tilde,
        )
        data.update(extended_study(cfg, ext))
        data["exploratory_rate_exponent"] = (
            ("sigma", "seed"),
            fit_rate(data["exploratory_relative_error"][1], n=n_arr, sigma=sigma_arr, n_min=cfg.rate_fit_n_min),
        )
        attrs.update(
            exploratory=EXPLORATORY_NOTE,
            exploratory_theory_rho=ext.rho,
            exploratory_theory_x=ext.x,
            exploratory_theory_c1_sq=ext.c1_sq,
            exploratory_theory_mu=ext.mu,
            exploratory_theory_minimizer_is_zero=ext.is_zero,
        )
    coords = {
        "sigma": sigma_arr,
        "n": n_arr,
        "seed": np.asarray(_seeds(cfg)),
        "class": np.arange(cfg.K),
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    for name, text in VARIABLE_DOCS.items():
        if name in ds:
            ds[name].attrs["description"] = text
    return ds


VARIABLE_DOCS = {
    "W": "W(H) = argmin (1/2N)||WH - Y||^2 + (lambda_W/2)||W||^2 for H = H* + E (docs/math.md#theorem-5-1)",
    "error": "||W(H) - a W*||_F, a = attenuation_limit",
    "relative_error": "||W(H) - a W*||_F / ||a W*||_F (NaN for the zero minimizer)",
    "attenuation": "<W(H), W*> / ||W*||^2 (tends to attenuation_limit)",
    "NC2_W_OF": "NC2 (orthogonal frame) of the rows of W(H) (docs/math.md#nc-metrics)",
    "NC3_OF": "||W/||W|| - Hbar*/||Hbar*|||| against the noise-free class means Hbar*",
    "attenuation_limit": "1 / (1 + K sigma^2 sqrt(lambda_H_tilde / lambda_W)) (Theorem 5.1; 0 if c >= 1)",
    "rate_exponent": "slope of log relative_error against log n for n >= rate_fit_n_min (theory: -1/2)",
    "W_star": "noise-free minimizer W* = kappa Hbar*^T (rows)",
    "class_means_star": "collapsed class means Hbar* (rows), an orthogonal frame with ||hbar_k||^2 = h2",
    "exploratory_W2W1": "EXPLORATORY: end-to-end classifier W2 W1 found by GD with H1 = H1* + E frozen",
    "exploratory_relative_error": "EXPLORATORY: ||W2W1 - a_ext (W2W1)*|| / ||a_ext (W2W1)*||",
    "exploratory_attenuation": "EXPLORATORY: <W2W1, (W2W1)*> / ||(W2W1)*||^2",
    "exploratory_NC2_W_OF": "EXPLORATORY: NC2 (OF) of the rows of W2 W1",
    "exploratory_NC2_W2_OF": "EXPLORATORY: NC2 (OF) of the rows of W2 (invariant to the W2 -> W2 Q gauge)",
    "exploratory_NC3_OF": "EXPLORATORY: alignment of W2 W1 with the noise-free means Hbar1*",
    "exploratory_gd_objective_gap": "EXPLORATORY: (L(GD) - L*) / L*, L* from the convex nuclear-norm form",
    "exploratory_gd_distance_to_minimizer": "EXPLORATORY: ||W2W1 - P_ref|| / ||P_ref||, P_ref the convex minimizer",
    "exploratory_gd_gradient_norm": "EXPLORATORY: ||grad L(W2, W1)|| at the end of GD",
    "exploratory_attenuation_limit": "EXPLORATORY: a_ext = 1 / (1 + K sigma^2 / c1^2) (derived heuristic)",
    "exploratory_rate_exponent": "EXPLORATORY: slope of log exploratory_relative_error against log n",
    "exploratory_W2W1_star": "EXPLORATORY: noise-free (W2 W1)* = (x*/c1^2) Hbar1*^T",
    "exploratory_class_means_star": "EXPLORATORY: noise-free collapsed means Hbar1* (rows)",
}
