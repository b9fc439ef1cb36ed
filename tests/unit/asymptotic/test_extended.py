"""EXPLORATORY extended linear UFM with H1 = H1* + E frozen: moment-form GD and its certification."""

import math

import numpy as np
import pytest
import torch

from deepcollapse.asymptotic import Config, ExtendedConfig, extended_minimizer, run
from deepcollapse.asymptotic import extended as ex
from deepcollapse.asymptotic.study import _intra_op_threads
from deepcollapse.errors import InputError

F64 = torch.float64
LAM = dict(lambda_W1=5e-3, lambda_W2=7e-3)


def _random_cell(seed, N=30, K=3, d1=6, d2=5):
    g = torch.Generator().manual_seed(seed)
    H1 = torch.randn(N, d1, generator=g, dtype=F64)
    y = torch.arange(N) % K
    Y = torch.nn.functional.one_hot(y, K).to(F64)
    W2 = torch.randn(K, d2, generator=g, dtype=F64)
    W1 = torch.randn(d2, d1, generator=g, dtype=F64)
    return H1, Y, W2, W1, H1.T @ H1 / N, H1.T @ Y / N


def test_moment_form_matches_spec_objective_and_gradients():
    """docs/math.md#extended-linear with H1 fixed (columns there, rows here): R = (W2W1H1 − Y)/N, G = W2ᵀR."""
    H1, Y, W2, W1, G, C = _random_cell(0)
    N = H1.shape[0]
    R = (W2 @ W1 @ H1.T - Y.T) / N
    spec_grad_W2 = R @ (W1 @ H1.T).T + LAM["lambda_W2"] * W2
    spec_grad_W1 = (W2.T @ R) @ H1 + LAM["lambda_W1"] * W1
    g2, g1 = ex.gradients(W2, W1, G, C, **LAM)
    torch.testing.assert_close(g2, spec_grad_W2, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g1, spec_grad_W1, rtol=1e-12, atol=1e-14)
    spec_loss = (
        ((W2 @ W1 @ H1.T - Y.T) ** 2).sum() / (2 * N)
        + LAM["lambda_W2"] / 2 * (W2**2).sum()
        + LAM["lambda_W1"] / 2 * (W1**2).sum()
    )
    assert float(ex.objective(W2, W1, G, C, **LAM)) == pytest.approx(float(spec_loss), rel=1e-13)


def test_fused_gd_step_is_the_plain_simultaneous_update():
    _, _, W2, W1, G, C = _random_cell(1)
    a, b = ex.gradient_descent(W2[None], W1[None], G[None], C[None], lr=0.01, iters=3, **LAM)
    x, y = W2.clone(), W1.clone()
    for _ in range(3):
        g2, g1 = ex.gradients(x, y, G, C, **LAM)
        x, y = x - 0.01 * g2, y - 0.01 * g1
    torch.testing.assert_close(a[0], x, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(b[0], y, rtol=1e-13, atol=1e-15)


def test_noise_free_features_reproduce_theorem_4_1():
    """With H1 = H1*: the convex reference and GD both return (W2W1)*, at docs/math.md#extended-linear's objective.

    The extended objective at the minimizer is 0.107735715648647 (docs/math.md#extended-linear) including the H1
    regularizer (λ̃_H1/2)·K c1², which is a constant once H1 is frozen.
    """
    K, d1, d2 = 4, 20, 20
    m = extended_minimizer(K=K, d1=d1, lambda_W1=5e-3, lambda_W2=5e-3, lambda_H1_tilde=0.25)
    means = torch.tensor(m.means)
    G, C = (means.T @ means / K)[None], (means.T / K)[None]  # balanced collapsed H1: moments are n-free
    P_star = torch.tensor(m.P)[None]
    h1_penalty = 0.25 / 2 * K * m.c1_sq
    assert float(ex.convex_objective(P_star, G, C, mu=m.mu)) + h1_penalty == pytest.approx(0.107735715648647, rel=1e-12)
    torch.testing.assert_close(ex.convex_reference(G, C, mu=m.mu), P_star, rtol=1e-10, atol=1e-12)
    g = torch.Generator().manual_seed(0)
    W2 = 0.1 * torch.randn(1, K, d2, generator=g, dtype=F64)
    W1 = 0.1 * torch.randn(1, d2, d1, generator=g, dtype=F64)
    with _intra_op_threads(torch.device("cpu"), 1):  # tiny matrices: threads only add latency
        W2, W1 = ex.gradient_descent(W2, W1, G, C, lambda_W1=5e-3, lambda_W2=5e-3, lr=1.0, iters=6000)
    torch.testing.assert_close(W2 @ W1, P_star, rtol=1e-8, atol=1e-9)
    torch.testing.assert_close(W2[0] @ W2[0].T, 3.4958390690 * torch.eye(K, dtype=F64), rtol=1e-8, atol=1e-8)


def test_convex_reference_is_optimal_on_random_cells():
    """Subgradient optimality of μ‖P‖_*: (Cᵀ − PG) = μ(U Vᵀ) on P's support and ‖·‖₂ ≤ μ off it."""
    _, _, _, _, G, C = _random_cell(2, N=40, K=3, d1=8)
    mu = 0.05
    P = ex.convex_reference(G[None], C[None], mu=mu)[0]
    residual = C.T - P @ G
    U, S, Vh = torch.linalg.svd(P, full_matrices=False)
    on = S > 1e-8
    assert on.any()
    torch.testing.assert_close(U[:, on].T @ residual @ Vh[on].T, mu * torch.eye(int(on.sum()), dtype=F64), atol=1e-9, rtol=0)
    off = residual - U[:, on] @ U[:, on].T @ residual @ Vh[on].T @ Vh[on]
    assert float(torch.linalg.matrix_norm(off, ord=2)) <= mu * (1 + 1e-9)


@pytest.fixture(scope="module")
def exploratory_study():
    cfg = Config(n=(100, 316, 1000, 3162, 10000), sigma=(0.0, 0.5), seeds=10)
    return run(cfg)


def test_gd_reaches_the_global_minimum_in_every_cell(exploratory_study):
    ds = exploratory_study
    assert float(abs(ds.exploratory_gd_objective_gap).max()) < 1e-12
    assert float(ds.exploratory_gd_distance_to_minimizer.max()) < 1e-6
    assert float(ds.exploratory_relative_error.sel(sigma=0.0).max()) < 1e-6  # σ = 0: (W2W1)* itself


def test_exploratory_limit_is_an_attenuated_copy(exploratory_study):
    """If the derived attenuation 1/(1 + Kσ²/c1²) were wrong, the error would level off (slope → 0)
    instead of falling like n^(−1/2): the per-seed slopes' mean is −1/2 within 3 standard errors."""
    slopes = exploratory_study.exploratory_rate_exponent.sel(sigma=0.5).values
    mean, standard_error = slopes.mean(), slopes.std(ddof=1) / math.sqrt(slopes.size)
    assert abs(mean + 0.5) <= 3 * standard_error, (mean, standard_error)
    assert np.isnan(exploratory_study.exploratory_rate_exponent.sel(sigma=0.0)).all()


def test_exploratory_outputs_are_labelled(exploratory_study):
    ds = exploratory_study
    assert "EXPLORATORY" in ds.attrs["exploratory"]
    for name in ds.data_vars:
        if name.startswith("exploratory_"):
            assert ds[name].attrs["description"].startswith("EXPLORATORY")


def test_divergent_step_is_refused():
    with pytest.raises(InputError, match="extended GD diverged at extended.lr=50"):
        run(Config(n=(10,), sigma=(0.5,), seeds=1, extended=ExtendedConfig(lr=50.0, iters=200)))


def test_convex_reference_says_when_it_did_not_converge():
    _, _, _, _, G, C = _random_cell(2, N=40, K=3, d1=8)
    with pytest.warns(RuntimeWarning, match="no convergence"):
        ex.convex_reference(G[None], C[None], mu=0.05, max_iters=3)
