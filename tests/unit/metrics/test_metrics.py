"""NC metrics: against an independent float64 reference, exact constructions, properties, errors."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepcollapse import metrics
from deepcollapse.errors import InputError, SecondPassRequired
from deepcollapse.ufm import batched_metrics
from tests.support.nc_reference import nc_reference

ETF_TO_OF = lambda K: math.sqrt(2 - 2 * math.sqrt((K - 1) / K))  # noqa: E731  NC2_OF of an exact simplex ETF


def random_problem(seed, *, K=5, d=12, sizes=None, spread=2.0, with_bias=True):
    """Imbalanced classes with separated means, a random classifier and bias."""
    rng = np.random.default_rng(seed)
    sizes = sizes or list(rng.integers(3, 40, size=K))
    y = np.concatenate([np.full(s, k) for k, s in enumerate(sizes)])
    rng.shuffle(y)
    centers = spread * rng.normal(size=(K, d)) + rng.normal(size=d)  # nonzero global offset
    H = centers[y] + rng.normal(size=(len(y), d)) * rng.uniform(0.3, 1.5, size=d)
    W = centers - centers.mean(0) + 0.5 * rng.normal(size=(K, d))
    b = rng.normal(size=K) if with_bias else None
    return H, y, W, b


def assert_metrics_close(got, want, *, rtol=1e-10, atol=1e-12):
    assert set(got) == set(want)
    for key in want:
        assert got[key] == pytest.approx(want[key], rel=rtol, abs=atol), key


# ----------------------------------------------------------------------------- reference agreement
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("classifier", ["none", "W", "W+b"])
def test_agrees_with_dxd_reference(seed, classifier):
    H, y, W, b = random_problem(seed, K=3 + seed % 4, d=4 + 3 * seed)
    W = None if classifier == "none" else W
    b = b if classifier == "W+b" else None
    assert_metrics_close(metrics.nc(H, y, W=W, b=b), nc_reference(H, y, W=W, b=b))


def test_keys_are_the_contract():
    H, y, W, b = random_problem(0)
    assert tuple(metrics.nc(H, y)) == metrics.FEATURE_KEYS
    assert set(metrics.nc(H, y, W=W, b=b)) == set(metrics.KEYS)


def test_d_larger_than_n_and_rank_deficient_means():
    # d > N, and class means spanning fewer than K-1 dimensions (pseudo-inverse really needed)
    rng = np.random.default_rng(3)
    K, d = 4, 300
    y = np.repeat(np.arange(K), 10)
    base = rng.normal(size=(2, d))
    centers = np.stack([base[0], base[1], base[0] + base[1], 2 * base[0]])  # rank-2 centered span
    H = centers[y] + 0.1 * rng.normal(size=(len(y), d))
    assert_metrics_close(metrics.nc(H, y), nc_reference(H, y), rtol=1e-9)


# ----------------------------------------------------------------------------- exact constructions
def collapsed(means, n_per_class):
    K = means.shape[0]
    y = np.repeat(np.arange(K), n_per_class)
    return means[y], y


@pytest.mark.parametrize("K", [2, 4, 10])
def test_collapsed_orthogonal_frame(K):
    d = K + 3
    Q, _ = np.linalg.qr(np.random.default_rng(K).normal(size=(d, K)))
    means = 1.7 * Q.T  # K×d, orthogonal rows of equal norm
    H, y = collapsed(means, 5)
    out = metrics.nc(H, y, W=3.0 * means)
    for key in ("NC1", "NC2_OF", "NC2_ETF", "NC3_OF", "NC2_W_OF", "NC2_W_ETF", "NC4"):
        assert out[key] == pytest.approx(0.0, abs=1e-12), key
    # centered means of an OF are a simplex ETF, so the classifier misaligns with them by exactly:
    assert out["NC3_ETF"] == pytest.approx(ETF_TO_OF(K), rel=1e-12)


@pytest.mark.parametrize("K", [3, 4, 7])
def test_collapsed_simplex_etf(K):
    d = K + 2
    Q, _ = np.linalg.qr(np.random.default_rng(K).normal(size=(d, K)))
    P = np.eye(K) - 1.0 / K
    means = (Q @ P).T * 2.5  # Gram = 6.25 P_K
    H, y = collapsed(means, 4)
    out = metrics.nc(H, y, W=means)
    assert out["NC2_ETF"] == pytest.approx(0.0, abs=1e-12)
    assert out["NC2_OF"] == pytest.approx(ETF_TO_OF(K), rel=1e-12)
    assert out["NC2_W_ETF"] == pytest.approx(0.0, abs=1e-12)
    assert out["NC3_OF"] == pytest.approx(0.0, abs=1e-12) and out["NC3_ETF"] == pytest.approx(0.0, abs=1e-12)
    assert out["NC1"] == pytest.approx(0.0, abs=1e-20)


def test_bias_free_ufm_minimizer_nc3_variants():
    # docs/math.md#ufm-bias-free reference: K=4, n=50, λ_W=λ_H=5e-3 → H̄ᵀH̄ = 0.1214213562 I, W = κ H̄ᵀ with κ = 7.0710678119
    K, n, d, lam = 4, 50, 20, 5e-3
    c = K * math.sqrt(n * lam * lam)
    kappa = math.sqrt(n * lam / lam)
    Q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(d, K)))
    means = math.sqrt(math.sqrt(lam / (n * lam)) * (1 - c)) * Q.T
    H, y = collapsed(means, n)
    out = metrics.nc(H, y, W=kappa * means)
    assert out["NC3_OF"] == pytest.approx(0.0, abs=1e-12)
    assert out["NC3_ETF"] == pytest.approx(0.5176380902050415, rel=1e-12)
    assert out["NC2_OF"] == pytest.approx(0.0, abs=1e-12) and out["NC1"] == pytest.approx(0.0, abs=1e-25)


def test_nc1_scales_quadratically_with_within_class_noise_despite_offset():
    # Class-mean-free noise E: class means are exactly the centres, so NC1(ε) = ε² NC1(1).
    # A large common offset must not destroy this (the d×d float32 covariance route does).
    rng = np.random.default_rng(1)
    K, d, n = 5, 30, 40
    y = np.repeat(np.arange(K), n)
    E = rng.normal(size=(K * n, d))
    for k in range(K):
        E[y == k] -= E[y == k].mean(0)
    centers = rng.normal(size=(K, d)) + 1e3
    base = metrics.nc(centers[y] + E, y)["NC1"]
    for eps in (1e-2, 1e-4, 1e-6):
        got = metrics.nc(centers[y] + eps * E, y)["NC1"]
        assert got >= 0
        assert got / eps**2 == pytest.approx(base, rel=1e-4 if eps == 1e-6 else 1e-7)


@pytest.mark.parametrize("offset", [1e3, 1e8])
def test_nc4_survives_a_large_common_offset(offset):
    # the reference measures ‖h − μ_j‖ directly; expanding ‖μ_j‖² − 2h·μ_j around 0 lost the
    # unit class separation to rounding at an offset of 1e8 (NC4 0.425 instead of 0.745)
    rng = np.random.default_rng(0)
    K, d, n = 4, 10, 200
    y = np.repeat(np.arange(K), n)
    centers = rng.normal(size=(K, d))
    W = centers - centers.mean(0) + 0.5 * rng.normal(size=(K, d))
    H = centers[y] + rng.normal(size=(K * n, d)) + offset
    want = nc_reference(H, y, W=W)["NC4"]
    assert 0.1 < want < 0.9
    assert metrics.nc(H, y, W=W)["NC4"] == want
    X = torch.as_tensor(H.T[None])  # the UFM's batched implementation: (B, d, N), class-major columns
    assert float(batched_metrics.nc(X, K=K, W=torch.as_tensor(W[None]))["NC4"][0]) == want


# ----------------------------------------------------------------------------- the global-mean ratio
def test_global_mean_ratio_is_one_at_an_of_zero_at_a_centred_etf_and_splits_nc2_of():
    """GM_RATIO = K(K−1)‖h̄_G‖²/‖M‖² is 1 for any orthogonal frame (any scale and rotation) and 0
    for means centred at the origin; a centred ETF shifted by a global mean of the OF's length,
    orthogonal to it, is an OF (NC2_OF = 0), and by a longer one is not (the MSE network's case)."""
    K, d = 5, 9
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = np.arange(K)
    of = 3.7 * Q[:K]  # rows: K orthogonal class means of equal length
    out = metrics.nc(of, y)
    assert out["GM_RATIO"] == pytest.approx(1.0, rel=1e-12) and out["NC2_OF"] < 1e-7
    etf = of - of.mean(axis=0)  # a centred OF is a simplex ETF with h̄_G = 0
    assert metrics.nc(etf, y)["GM_RATIO"] < 1e-25
    u = Q[K] * 3.7 / np.sqrt(K)  # orthogonal to the ETF's span, the OF's global-mean length
    shifted = metrics.nc(etf + u, y)
    assert shifted["GM_RATIO"] == pytest.approx(1.0, rel=1e-12) and shifted["NC2_OF"] < 1e-7
    longer = metrics.nc(etf + np.sqrt(2) * u, y)
    assert longer["GM_RATIO"] == pytest.approx(2.0, rel=1e-12) and longer["NC2_ETF"] < 1e-7 and longer["NC2_OF"] > 0.1
    # unequal class counts (a real dataset's, a test split's): still exactly 1 at an OF
    y_unequal = np.repeat(np.arange(K), [1, 2, 3, 5, 8])
    assert metrics.nc(of[y_unequal], y_unequal)["GM_RATIO"] == pytest.approx(1.0, rel=1e-12)


# ----------------------------------------------------------------------------- degenerate geometry
def test_all_class_means_equal_gives_nan_not_error():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(3), [5, 7, 9])
    H = np.tile(rng.normal(size=4), (len(y), 1))
    out = metrics.nc(H, y, W=rng.normal(size=(3, 4)), b=rng.normal(size=3))
    # NC4 too: every sample ties between all class centres, so "nearest centre" would be class 0
    for key in ("NC1", "NC2_ETF", "NC3_ETF", "NC4"):
        assert math.isnan(out[key]), key
    for key in ("NC2_OF", "NC3_OF", "NC2_W_OF"):
        assert math.isfinite(out[key]), key


def test_zero_classifier_gives_nan_nc4():
    # W = 0 ignores the features: argmax(0 + 0) would always say class 0, a meaningless "agreement"
    H, y, W, _ = random_problem(12, K=3, d=5)
    out = metrics.nc(H, y, W=np.zeros_like(W))
    for key in ("NC2_W_ETF", "NC2_W_OF", "NC3_OF", "NC3_ETF", "NC4"):
        assert math.isnan(out[key]), key
    assert math.isfinite(out["NC1"]) and math.isfinite(out["NC2_ETF"])


def test_zero_features_and_zero_classifier_give_nan():
    y = np.repeat(np.arange(3), 4)
    out = metrics.nc(np.zeros((12, 5)), y, W=np.zeros((3, 5)))
    for key in metrics.KEYS:  # the UFM zero solution: every metric undefined, NC4 included
        assert math.isnan(out[key]), key


# ----------------------------------------------------------------------------- properties
problem_seeds = st.integers(min_value=0, max_value=2**31 - 1)
fast = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(seed=problem_seeds, K=st.integers(2, 6), d=st.integers(1, 20))
def test_nc1_nonnegative(seed, K, d):
    H, y, W, b = random_problem(seed, K=K, d=d, spread=0.1)
    assert metrics.nc(H, y)["NC1"] >= 0.0


@fast
@given(seed=problem_seeds, K=st.integers(2, 6))
def test_invariant_under_relabelling(seed, K):
    H, y, W, b = random_problem(seed, K=K, d=8)
    perm = np.random.default_rng(seed).permutation(K)  # class k becomes perm[k]
    W2, b2 = np.empty_like(W), np.empty_like(b)
    W2[perm], b2[perm] = W, b
    assert_metrics_close(metrics.nc(H, perm[y], W=W2, b=b2), metrics.nc(H, y, W=W, b=b), rtol=1e-9)


@fast
@given(seed=problem_seeds, shift=st.floats(-50, 50))
def test_shift_invariance_of_nc1_and_nc2_etf(seed, shift):
    H, y, _, _ = random_problem(seed, K=4, d=7)
    v = shift * np.random.default_rng(seed + 1).normal(size=7)
    a, s = metrics.nc(H, y), metrics.nc(H + v, y)
    assert s["NC1"] == pytest.approx(a["NC1"], rel=1e-8)
    assert s["NC2_ETF"] == pytest.approx(a["NC2_ETF"], rel=1e-8, abs=1e-10)


@fast
@given(seed=problem_seeds, alpha=st.floats(1e-6, 1e6), beta=st.floats(1e-6, 1e6))
def test_scale_invariance(seed, alpha, beta):
    H, y, W, _ = random_problem(seed, K=4, d=6)
    assert_metrics_close(metrics.nc(alpha * H, y, W=beta * W), metrics.nc(H, y, W=W), rtol=1e-8, atol=1e-10)


@fast
@given(seed=problem_seeds, cuts=st.lists(st.integers(0, 200), max_size=6), small_d=st.booleans())
def test_streaming_equals_batch_for_any_split(seed, cuts, small_d):
    H, y, W, b = random_problem(seed, K=4, d=9)
    N = len(y)
    edges = sorted({0, N, *[c % (N + 1) for c in cuts]})
    batches = list(zip(edges[:-1], edges[1:]))
    acc = metrics.Accumulator(4, 9, scatter_max_dim=4096 if small_d else 0)
    for lo, hi in batches:
        acc.update(H[lo:hi], y[lo:hi])
    if small_d:  # one pass: NC1 from the merged d×d scatter
        assert_metrics_close(acc.result(), metrics.nc(H, y), rtol=1e-10)
    acc.begin_second_pass(W=W, b=b)
    for lo, hi in reversed(batches):  # any order, any split
        acc.update(H[lo:hi], y[lo:hi])
    assert_metrics_close(acc.result(), metrics.nc(H, y, W=W, b=b), rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_torch_and_low_precision_inputs(dtype):
    H, y, W, b = random_problem(7, K=4, d=10)
    Ht = torch.as_tensor(H).to(dtype)
    # the metrics are computed in float64 on exactly the values given: compare with the reference
    # evaluated on the same rounded values (agreement 1e-10), and with the float64 data (rounding only)
    rounded = Ht.double().numpy()
    got = metrics.nc(Ht, torch.as_tensor(y), W=torch.as_tensor(W), b=torch.as_tensor(b))
    assert_metrics_close(got, nc_reference(rounded, y, W=W, b=b))
    exact = metrics.nc(H, y, W=W, b=b)
    tol = {torch.float16: 5e-3, torch.bfloat16: 3e-2, torch.float32: 1e-6, torch.float64: 1e-12}[dtype]
    for key in ("NC1", "NC2_ETF", "NC2_OF", "NC3_OF"):
        assert got[key] == pytest.approx(exact[key], rel=tol), key


def test_numpy_float32_and_sliceable_zarr_input(tmp_path):
    import zarr

    H, y, W, b = random_problem(8, K=3, d=16)
    H32 = H.astype(np.float32)
    z = zarr.create_array(tmp_path / "h.zarr", shape=H32.shape, chunks=(7, 16), dtype="float32")
    z[:] = H32
    assert_metrics_close(metrics.nc(z, y, W=W, b=b), metrics.nc(H32, y, W=W, b=b), rtol=1e-12)


# ----------------------------------------------------------------------------- accumulator protocol
def test_second_pass_required_for_large_d_and_for_nc4():
    H, y, W, b = random_problem(9, K=3, d=10)
    acc = metrics.Accumulator(3, 10, scatter_max_dim=5).update(H, y)
    assert acc.needs_second_pass()
    with pytest.raises(SecondPassRequired, match="needs a second pass"):
        acc.result()
    small = metrics.Accumulator(3, 10).update(H, y)
    assert not small.needs_second_pass() and small.needs_second_pass(W=W)
    with pytest.raises(SecondPassRequired, match="NC4 needs the classifier"):
        small.result(W=W)


def test_incomplete_or_excess_second_pass_is_refused():
    H, y, W, b = random_problem(10, K=3, d=6)
    acc = metrics.Accumulator(3, 6).update(H, y).begin_second_pass(W=W)
    acc.update(H[:5], y[:5])
    with pytest.raises(SecondPassRequired, match="incomplete"):
        acc.result()
    acc.update(H[5:], y[5:])
    with pytest.raises(InputError, match="more samples"):
        acc.update(H[:1], y[:1])
    with pytest.raises(SecondPassRequired, match="different classifier"):
        acc.result(W=W + 1)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda H, y, W: dict(H=H, y=y[:-1]), "y must have shape"),
        (lambda H, y, W: dict(H=H[:, :, None], y=y), "2-D array"),
        (lambda H, y, W: dict(H=H, y=np.where(y == 0, 7, y), W=W), "outside 0..2"),
        (lambda H, y, W: dict(H=H, y=np.where(y == 0, -1, y)), "label -1"),
        (lambda H, y, W: dict(H=H, y=np.zeros_like(y)), "at least 2 classes"),
        (lambda H, y, W: dict(H=H, y=np.where(y == 1, 2, y)), "class 1 has no samples"),
        (lambda H, y, W: dict(H=np.where(np.arange(len(y))[:, None] == 4, np.nan, H), y=y), "NaN or inf (first in sample 4)"),
        (lambda H, y, W: dict(H=np.where(np.arange(len(y))[:, None] == 2, np.inf, H), y=y), "NaN or inf"),
        (lambda H, y, W: dict(H=H, y=y, W=W[:, :-1]), "W must have shape"),
        (lambda H, y, W: dict(H=H, y=y, W=W, b=np.ones(5)), "b must have shape"),
        (lambda H, y, W: dict(H=H, y=y, b=np.ones(3)), "without W"),
        (lambda H, y, W: dict(H=H, y=y + 0.5), "integer class labels"),
        (lambda H, y, W: dict(H=H[:0], y=y[:0]), "no samples"),
        (lambda H, y, W: dict(H=H.astype(complex), y=y), "real"),
        (lambda H, y, W: dict(H=H, y=y, W=W, b=np.array([0.0, np.nan, 1.0])), "b contains NaN or inf (first at index 1)"),
        (lambda H, y, W: dict(H=H, y=y, W=np.where(np.arange(5) == 3, np.inf, W)), "W contains NaN or inf (first at index (0, 3))"),
    ],
)
def test_bad_input_gets_one_clear_sentence(make, fragment):
    H, y, W, _ = random_problem(11, K=3, d=5)
    kwargs = make(H, y, W)
    with pytest.raises(InputError) as err:
        metrics.nc(kwargs.pop("H"), kwargs.pop("y"), **kwargs)
    message = str(err.value)
    assert fragment in message and "\n" not in message
    assert isinstance(err.value, ValueError)


def test_long_double_input_is_measured_in_float64():
    H, y, W, b = random_problem(13, K=3, d=5)
    assert_metrics_close(metrics.nc(H.astype(np.longdouble), y, W=W, b=b), metrics.nc(H, y, W=W, b=b), rtol=1e-15, atol=0)


def test_accumulator_bad_batches():
    H, y, _, _ = random_problem(14, K=3, d=4)
    numpy_K = metrics.Accumulator(np.int64(3), np.int64(4)).update(H, y)  # numpy integers are integers
    assert_metrics_close(numpy_K.result(), metrics.nc(H, y))
    with pytest.raises(InputError, match="K must be an integer"):
        metrics.Accumulator(3.0, 4)
    acc = metrics.Accumulator(3, 4)
    with pytest.raises(InputError, match=r"shape \(n, d=4\)"):
        acc.update(np.zeros((2, 5)), np.zeros(2, dtype=int))
    with pytest.raises(InputError, match="sample 3"):
        acc.update(np.ones((2, 4)), np.zeros(2, dtype=int)).update(np.ones((2, 4)), np.array([0, 9]))
    with pytest.raises(InputError, match="at least 2 classes"):
        metrics.Accumulator(1, 4)
    with pytest.raises(InputError, match="class 1 has no samples"):
        metrics.Accumulator(3, 4).update(np.ones((2, 4)), np.array([0, 2])).result()


# ----------------------------------------------------------------------------- the metric table
def _toy_entries():
    """Three toy metrics: one from the class means, one from a new per-sample sum, one of the classifier."""
    from deepcollapse.metrics import Metric, SampleSum, core

    return (
        # written for any array namespace (core.sum_squares): the compiled UFM loop hands numpy arrays
        SampleSum("toy_squared_norms", lambda rows, s: core.sum_squares(rows, (-2, -1))),
        Metric("TOY_MEAN_NORM", lambda s: core.frobenius(s.means) / math.sqrt(s.K)),
        Metric("TOY_SQNORM", lambda s: s.sums["toy_squared_norms"] / s.N, sums=("toy_squared_norms",)),
        Metric("TOY_W_NORM", lambda s: core.frobenius(s.W), classifier=True),
    )


def _toy_expected(H, y, W=None):
    K = int(y.max()) + 1
    means = np.stack([H[y == k].mean(axis=0) for k in range(K)])
    out = {"TOY_MEAN_NORM": np.linalg.norm(means) / math.sqrt(K), "TOY_SQNORM": float(np.mean(np.sum(H * H, axis=1)))}
    if W is not None:
        out["TOY_W_NORM"] = np.linalg.norm(W)
    return out


def test_a_metric_registered_in_the_table_reaches_every_path():
    from deepcollapse import ufm

    H, y, W, b = random_problem(15, K=3, d=6)
    before = tuple(metrics.KEYS)
    with metrics.registered(*_toy_entries()):
        assert tuple(metrics.KEYS) == before + ("TOY_MEAN_NORM", "TOY_SQNORM", "TOY_W_NORM")
        assert "TOY_W_NORM" in metrics.CLASSIFIER_KEYS and "TOY_SQNORM" in metrics.FEATURE_KEYS
        # the exact path, with and without a classifier
        got = metrics.nc(H, y, W=W, b=b)
        want = _toy_expected(H, y, W)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-12), key
        assert "TOY_W_NORM" not in metrics.nc(H, y) and "TOY_SQNORM" in metrics.nc(H, y)
        # the streaming path: a new per-sample sum with no scatter form forces the second pass
        acc = metrics.Accumulator(3, 6)
        for lo in range(0, len(y), 7):
            acc.update(H[lo : lo + 7], y[lo : lo + 7])
        assert acc.needs_second_pass()
        with pytest.raises(SecondPassRequired, match="TOY_SQNORM needs a second pass"):
            acc.result()
        acc.begin_second_pass(W=W, b=b)
        for lo in range(0, len(y), 5):
            acc.update(H[lo : lo + 5], y[lo : lo + 5])
        assert_metrics_close(acc.result(), got)
        # the batched UFM path: B balanced class-major problems at once
        K, n, p = 3, 4, 5
        X = torch.randn(2, p, K * n, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        Wb = torch.randn(2, K, p, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        yb = np.repeat(np.arange(K), n)
        batch = batched_metrics.nc(X, K=K, W=Wb)
        assert tuple(batch) == tuple(metrics.KEYS)
        for i in range(2):
            for key, value in _toy_expected(X[i].T.numpy(), yb, Wb[i].numpy()).items():
                assert float(batch[key][i]) == pytest.approx(value, rel=1e-12), key
        assert torch.isnan(batched_metrics.nc(X, K=K)["TOY_W_NORM"]).all()
        # ufm.solve: a variable per level, through both the reference and the batched measurement
        config = ufm.Config(model="plain", bias="none", K=3, n=4, d=5, iters=30, log_every=10)
        for mode in ("reference", "batched"):
            ds = ufm.solve(config, metrics=mode)
            assert "TOY_MEAN_NORM" in ds.attrs["metric_keys"]
            final = _toy_expected(ds["H"].values, ds["label"].values, ds["W"].values)
            for key, value in final.items():
                assert float(ds[f"{key}_H"].isel(iteration=-1)) == pytest.approx(value, rel=1e-10), (mode, key)
    assert tuple(metrics.KEYS) == before and "TOY_SQNORM" not in metrics.nc(H, y)


def test_the_table_refuses_duplicates_and_unknown_sums():
    from deepcollapse.metrics import Metric, SampleSum

    with pytest.raises(ValueError, match="already registered"):
        metrics.register(Metric("NC1", lambda s: s.N))
    with pytest.raises(ValueError, match="unregistered sample sum 'nothing'"):
        metrics.register(Metric("TOY", lambda s: s.N, sums=("nothing",)))
    with pytest.raises(ValueError, match="not flagged classifier=True"):
        metrics.register(Metric("TOY", lambda s: s.N, sums=("decision_disagreements",)))
    with pytest.raises(KeyError):
        metrics.unregister("TOY")
    assert tuple(metrics.KEYS) == metrics.FEATURE_KEYS + metrics.CLASSIFIER_KEYS
    assert "TOY" not in metrics.KEYS and SampleSum  # nothing was half-registered


def test_results_do_not_depend_on_the_row_blocks(monkeypatch):
    from deepcollapse.metrics import blocks

    H, y, W, b = random_problem(16, K=4, d=9)
    whole = metrics.nc(H, y, W=W, b=b)
    assert list(blocks.row_blocks(10, 3, block_elements=7)) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    monkeypatch.setattr(blocks, "BLOCK_ELEMENTS", 9 * 5)  # blocks of 5 rows
    assert_metrics_close(metrics.nc(H, y, W=W, b=b), whole, rtol=1e-12)


# ------------------------------------------------------------------ class-mean logits (issue 21)
def test_logit_singular_values_commute_an_affine_classifier_with_the_class_means():
    """numpy float64 reference: the logits W h_i + b of every sample averaged per class, then their
    singular values; the metric applies the classifier to the class means instead."""
    from deepcollapse.metrics import core

    rng = np.random.default_rng(4)
    K, d, N = 5, 7, 60
    H, y = rng.normal(size=(N, d)) + 3.0, np.arange(N) % K
    W, b = rng.normal(size=(K, d)), rng.normal(size=K)
    logits = H @ W.T + b
    ref = np.linalg.svd(np.stack([logits[y == k].mean(axis=0) for k in range(K)]), compute_uv=False)
    means = torch.from_numpy(np.stack([H[y == k].mean(axis=0) for k in range(K)]))
    got = core.logits_singular_values(means[None], torch.from_numpy(W)[None], torch.from_numpy(b)[None])[0].numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * ref[0])
    # through the Accumulator's class means, fed in batches
    acc = metrics.Accumulator(K, d)
    for start in range(0, N, 17):
        acc.update(H[start:start + 17], y[start:start + 17])
    np.testing.assert_allclose(acc.class_means().numpy(), means.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("r", [1, 2, 4])
def test_numerical_rank_counts_singular_values_relative_to_the_largest(r):
    from deepcollapse.metrics import core

    rng = np.random.default_rng(r)
    K, d = 6, 9
    W = rng.normal(size=(K, r)) @ rng.normal(size=(r, d))  # rank r
    means = torch.from_numpy(rng.normal(size=(K, d)))
    sv = core.logits_singular_values(means[None], torch.from_numpy(W)[None])
    assert int(core.numerical_rank(sv)[0]) == r
    # relative: the same matrix scaled by 1e-9 (every singular value far below an absolute 1e-6) keeps rank r
    assert int(core.numerical_rank(sv * 1e-9)[0]) == r
    assert int(core.numerical_rank(torch.zeros(1, K, dtype=torch.float64))[0]) == 0
