"""`asymptotic.classifier`: the exact minimizer for fixed features (docs/math.md#theorem-5-1)."""

import numpy as np
import pytest
import torch

from deepcollapse.asymptotic import classifier, plain_minimizer, ridge
from deepcollapse.asymptotic.ridge import classifier_explicit_inverse
from deepcollapse.errors import InputError


def _onehot(y, K):
    return np.eye(K)[y]


def _random_problem(seed, N=60, d=8, K=3):
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(N, d)) + rng.normal(size=d)  # an offset: uncentered features
    y = rng.integers(0, K, size=N)
    y[:K] = np.arange(K)  # every class present
    return H, y


@pytest.mark.parametrize("seed, N, d, K", [(0, 60, 8, 3), (1, 12, 30, 4), (2, 200, 5, 10)])
def test_matches_closed_form_with_explicit_inverse(seed, N, d, K):
    """Y Hᵀ(HHᵀ + NλI)⁻¹, also when d > N (HHᵀ singular, the ridge makes it invertible)."""
    H, y = _random_problem(seed, N=N, d=d, K=K)
    W = classifier(H, y, lambda_W=0.03)
    assert isinstance(W, np.ndarray) and W.shape == (K, d) and W.dtype == np.float64
    np.testing.assert_allclose(W, classifier_explicit_inverse(H, _onehot(y, K), lambda_W=0.03), rtol=1e-10, atol=1e-12)


def test_torch_input_float32_and_chunking_agree(monkeypatch):
    H, y = _random_problem(3, N=101, d=7, K=4)
    reference = classifier(H, y, lambda_W=0.01)
    W_t = classifier(torch.from_numpy(H).float(), torch.from_numpy(y), lambda_W=0.01)
    assert isinstance(W_t, torch.Tensor) and W_t.dtype == torch.float64
    # float32 input is promoted; it only loses the input's own rounding
    np.testing.assert_allclose(W_t.numpy(), reference, rtol=1e-5)
    monkeypatch.setattr(ridge, "_CHUNK_ELEMENTS", 7 * 10)
    np.testing.assert_allclose(classifier(H, y, lambda_W=0.01), reference, rtol=1e-12)  # chunks of 10 rows


def test_matches_gradient_descent_on_W_alone():
    """Plain GD on the strongly convex problem in W reaches the same point."""
    H, y = _random_problem(4, N=80, d=6, K=3)
    N, lam = H.shape[0], 0.05
    Y = _onehot(y, 3)
    gram = H.T @ H / N
    step = 1.0 / (np.linalg.eigvalsh(gram).max() + lam)
    W = np.zeros((3, 6))
    for _ in range(3000):
        W -= step * ((W @ H.T - Y.T) @ H / N + lam * W)
    np.testing.assert_allclose(classifier(H, y, lambda_W=lam), W, rtol=1e-10, atol=1e-13)


def test_is_stationary():
    H, y = _random_problem(5)
    W = classifier(H, y, lambda_W=0.02)
    grad = (W @ H.T - _onehot(y, 3).T) @ H / H.shape[0] + 0.02 * W
    assert np.abs(grad).max() < 1e-13


def test_exact_at_the_collapsed_features():
    """W(H*) = W* exactly: Theorem 3.1 at λ_H = λ̃_H/n, for any n."""
    K, d, lam, lam_tilde = 4, 20, 5e-3, 0.25
    m = plain_minimizer(K=K, d=d, lambda_W=lam, lambda_H_tilde=lam_tilde)
    for n in (1, 7, 500):
        y = np.repeat(np.arange(K), n)
        W = classifier(m.means[y], y, lambda_W=lam)
        np.testing.assert_allclose(W, m.W, rtol=1e-13, atol=1e-14)


def test_K_argument_gives_zero_rows_for_absent_classes():
    H, y = _random_problem(6, K=3)
    W = classifier(H, y, lambda_W=0.1, K=5)
    assert W.shape == (5, 8) and not W[3:].any()


@pytest.mark.parametrize(
    "H, y, kwargs, fragment",
    [
        (np.zeros(5), np.zeros(5, int), {}, "2-D"),
        (np.zeros((0, 3)), np.zeros(0, int), {}, "at least one sample"),
        (np.ones((4, 2)), np.array([0, 1, 0]), {}, "y must have shape"),
        (np.ones((4, 2)), np.array([0, 1, 0, 5]), {"K": 3}, "label 5"),
        (np.ones((4, 2)), np.array([0, 1, 0, -1]), {}, "label -1"),
        (np.ones((4, 2)), np.array([0.5, 1, 0, 1]), {}, "integer class labels"),
        (np.array([[1.0, np.nan], [0, 1], [1, 1], [0, 0]]), np.array([0, 1, 0, 1]), {}, "NaN or inf"),
        (np.ones((4, 2)), np.array([0, 1, 0, 1]), {"lambda_W": 0.0}, "lambda_W must be"),
        (np.ones((4, 2)), np.array([0, 1, 0, 1]), {"lambda_W": float("inf")}, "lambda_W must be"),
        (np.ones((4, 2)), np.array([0, 1, 0, 1]), {"lambda_W": 1e-300}, "not numerically positive definite"),
        (np.full((4, 2), 1e200), np.array([0, 1, 0, 1]), {}, "overflows"),
        (np.array([["a", "b"]] * 2), np.array([0, 1]), {}, "real numeric"),
    ],
)
def test_bad_input(H, y, kwargs, fragment):
    kwargs = {"lambda_W": 0.1, **kwargs}
    with pytest.raises(InputError, match=fragment) as err:
        classifier(H, y, **kwargs)
    assert "\n" not in str(err.value)
