"""Closed forms of the Theorem 5.1 study: the limit, the collapsed minimizers (docs/math.md#ufm-bias-free, #extended-linear, #theorem-5-1)."""

import math

import numpy as np
import pytest

from deepcollapse.asymptotic import extended_limit, extended_minimizer, limit, plain_minimizer
from deepcollapse.errors import InputError

# docs/math.md#theorem-5-1's parameters and attenuation factors.
SPEC4 = dict(K=4, lambda_W=5e-3, lambda_H_tilde=0.25)


@pytest.mark.parametrize("sigma, expected", [(0.1, 0.77952), (0.5, 0.12390), (0.0, 1.0)])
def test_limit_reference_values(sigma, expected):
    assert limit(**SPEC4, sigma=sigma) == pytest.approx(expected, abs=5e-6)


@pytest.mark.parametrize("sigma", [0.05, 0.1, 0.3, 0.5, 2.0])
@pytest.mark.parametrize("K, d, lambda_W, lambda_H_tilde", [(4, 20, 5e-3, 0.25), (3, 7, 0.02, 0.1), (10, 10, 1e-3, 0.5)])
def test_limit_is_the_ridge_solution_of_the_population_problem(sigma, K, d, lambda_W, lambda_H_tilde):
    """W∞ = H̄*ᵀ(H̄*H̄*ᵀ + K(λ_W + σ²)I)⁻¹ (columns) equals limit · W*, by a dense solve."""
    m = plain_minimizer(K=K, d=d, lambda_W=lambda_W, lambda_H_tilde=lambda_H_tilde)
    Hbar = m.means.T  # d × K, columns = class means
    W_inf = np.linalg.solve(Hbar @ Hbar.T + K * (lambda_W + sigma**2) * np.eye(d), Hbar).T
    a = limit(K=K, lambda_W=lambda_W, lambda_H_tilde=lambda_H_tilde, sigma=sigma)
    np.testing.assert_allclose(W_inf, a * m.W, rtol=1e-12, atol=1e-14)


def test_limit_is_zero_above_the_threshold():
    # K √(λ̃ λ) = 4 √(0.25 · 0.0625) = 0.5 < 1 ; = 1 exactly at λ = 1/4 ; above: zero minimizer
    assert limit(K=4, lambda_W=0.0625, lambda_H_tilde=0.25, sigma=0.3) > 0
    assert limit(K=4, lambda_W=0.25, lambda_H_tilde=0.25, sigma=0.3) == 0.0
    assert limit(K=4, lambda_W=1.0, lambda_H_tilde=0.25, sigma=0.0) == 0.0
    assert plain_minimizer(K=4, d=5, lambda_W=1.0, lambda_H_tilde=0.25).is_zero


def test_plain_minimizer_is_theorem_3_1_with_lambda_H_tilde():
    """docs/math.md#ufm-bias-free reference (K=4, n=50, λ_W = λ_H = 5e-3, i.e. λ̃_H = 0.25)."""
    m = plain_minimizer(K=4, d=20, **{k: SPEC4[k] for k in ("lambda_W", "lambda_H_tilde")})
    assert m.c == pytest.approx(0.1414213562, abs=1e-10)
    assert m.kappa == pytest.approx(7.0710678119, abs=1e-10)
    np.testing.assert_allclose(m.means @ m.means.T, 0.1214213562 * np.eye(4), atol=1e-10)
    np.testing.assert_allclose(m.W @ m.W.T, 6.0710678119 * np.eye(4), atol=1e-9)
    # h² + Kλ_W = √(λ_W/λ̃_H): the identity behind the limit
    assert m.h2 + 4 * 5e-3 == pytest.approx(math.sqrt(5e-3 / 0.25), rel=1e-14)


def test_extended_minimizer_reference_values():
    """docs/math.md#extended-linear (K=4, n=50, all three λ = 5e-3, i.e. λ̃_H1 = 0.25)."""
    m = extended_minimizer(K=4, d1=20, lambda_W1=5e-3, lambda_W2=5e-3, lambda_H1_tilde=0.25)
    assert 4 * m.rho == pytest.approx(0.0736806300, abs=1e-10)
    assert m.t == pytest.approx(0.974123562681, abs=1e-12)
    assert m.x == pytest.approx(0.924362131463, abs=1e-12)
    assert m.c1_sq == pytest.approx(0.0699167814, abs=1e-10)
    np.testing.assert_allclose(m.P @ m.means.T, m.x * np.eye(4), atol=1e-13)  # W2W1 H̄1 = x* I
    # the fixed-H1 problem's threshold 1 − Kμ/c1 reproduces x* (quartic t⁴ − t + Kρ = 0)
    assert 1 - 4 * m.mu / math.sqrt(m.c1_sq) == pytest.approx(m.x, rel=1e-12)


def test_extended_minimizer_zero_above_threshold():
    m = extended_minimizer(K=4, d1=6, lambda_W1=0.03, lambda_W2=0.03, lambda_H1_tilde=1.5)  # Kρ = 0.442
    assert m.is_zero and not m.P.any()
    assert extended_limit(m, K=4, sigma=0.2) == 0.0


def test_extended_limit_formula():
    m = extended_minimizer(K=4, d1=20, lambda_W1=5e-3, lambda_W2=5e-3, lambda_H1_tilde=0.25)
    assert extended_limit(m, K=4, sigma=0.0) == 1.0
    assert extended_limit(m, K=4, sigma=0.5) == pytest.approx(1 / (1 + 4 * 0.25 / 0.0699167814), rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(K=1, lambda_W=5e-3, lambda_H_tilde=0.25, sigma=0.1), "K must be"),
        (dict(K=4, lambda_W=0.0, lambda_H_tilde=0.25, sigma=0.1), "lambda_W must be"),
        (dict(K=4, lambda_W=5e-3, lambda_H_tilde=-1.0, sigma=0.1), "lambda_H_tilde must be"),
        (dict(K=4, lambda_W=5e-3, lambda_H_tilde=0.25, sigma=-0.1), "sigma must be"),
        (dict(K=4, lambda_W=5e-3, lambda_H_tilde=0.25, sigma=float("nan")), "sigma must be"),
    ],
)
def test_limit_bad_input(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        limit(**kwargs)
