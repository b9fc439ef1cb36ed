"""Batched NC metrics against `metrics.nc`, and sweeps against one-by-one solves."""

import math

import numpy as np
import pytest
import torch

from deepcollapse import metrics
from deepcollapse.errors import InputError
from deepcollapse.ufm import Config, NonFiniteError, Sweep, batched_metrics, problems, solve, solve_sweep, solver
from deepcollapse.ufm.joined import point_configs, with_theory

K, n, p = 3, 5, 6


def reference(X, W=None, b=None):
    y = problems.labels(K, n)
    rows = []
    for i in range(X.shape[0]):
        m = metrics.nc(X[i].mT, y, W=None if W is None else W[i], b=None if b is None else b[i], K=K)
        rows.append({key: m.get(key, math.nan) for key in metrics.KEYS})
    return rows


def assert_same(batched, rows):
    for i, row in enumerate(rows):
        for key, value in row.items():
            got = float(batched[key][i])
            if math.isnan(value):
                assert math.isnan(got), (i, key, got)
            else:
                assert got == pytest.approx(value, rel=1e-10, abs=1e-13), (i, key)


def features(kind, gen):
    X = torch.randn(4, p, K * n, generator=gen, dtype=torch.float64)
    means = X.reshape(4, p, K, n).mean(-1, keepdim=True)
    if kind == "collapsed":  # every sample at its class mean
        X = means.expand(4, p, K, n).reshape(4, p, K * n).clone()
    elif kind == "equal-means":  # all class means equal: NC1, NC2_ETF, NC3_ETF, NC4 undefined
        X = (X.reshape(4, p, K, n) - means + 1.0).reshape(4, p, K * n)
    elif kind == "mixed":  # one problem of each kind in a batch, plus an all-zero one
        X[1] = means[1].expand(p, K, n).reshape(p, K * n)
        X[2] = 0.0
    return X


@pytest.mark.parametrize("kind", ["random", "collapsed", "equal-means", "mixed"])
def test_batched_metrics_match_metrics_nc(kind):
    gen = torch.Generator().manual_seed(7)
    X = features(kind, gen)
    W = torch.randn(4, K, p, generator=gen, dtype=torch.float64)
    b = torch.randn(4, K, generator=gen, dtype=torch.float64)
    if kind == "mixed":
        W[3] = 0.0  # a zero classifier: NC2_W, NC3 and NC4 undefined
    # with all class means equal (or W = 0) NC4 is undefined: NaN in both implementations
    assert_same(batched_metrics.nc(X, K=K, W=W, b=b), reference(X, W, b))
    assert_same(batched_metrics.nc(X, K=K, W=W), reference(X, W))
    assert_same(batched_metrics.nc(X, K=K), reference(X))
    if kind != "equal-means":  # in float32 "equal" means differ by 1e-8: M would be pure rounding noise
        assert_same(batched_metrics.nc(X.float(), K=K, W=W.float()), reference(X.float(), W.float()))


def test_sweep_equals_separate_solves():
    base = Config(K=3, n=4, d=5, iters=1500, log_every=500, log_spaced=5, bias="regularized", lambda_b=0.5)
    sweep = Sweep.from_mapping({"seed": [0, 1], "lambda": {"fields": ["lambda_W", "lambda_H"], "values": [0.05, 0.2]}})
    ds = solve_sweep(base, sweep)
    assert ds["objective"].dims == ("seed", "lambda", "iteration")
    joined = with_theory(ds)
    assert ds["H"].dims == ("seed", "lambda", "sample", "feature") and joined["theory_objective"].dims == ("seed", "lambda")
    assert joined["objective_gap"].dims == ("seed", "lambda", "iteration") and "theory_objective" not in ds
    assert ds["lambda"].values.tolist() == [0.05, 0.2] and ds.attrs["sweep"]["lambda"]["fields"] == ["lambda_W", "lambda_H"]
    for i, seed in enumerate([0, 1]):
        for j, lam in enumerate([0.05, 0.2]):
            one = solve(Config(**{**base.__dict__, "seed": seed, "lambda_W": lam, "lambda_H": lam}))
            point = ds.isel(seed=i, **{"lambda": j})
            np.testing.assert_allclose(point["objective"], one["objective"], rtol=1e-12)
            np.testing.assert_allclose(point["H"], one["H"], rtol=1e-9, atol=1e-12)
            assert float(joined.isel(seed=i, **{"lambda": j})["theory_objective"]) == float(with_theory(one)["theory_objective"])
            for var in one.data_vars:
                if var.startswith("NC"):
                    np.testing.assert_allclose(point[var], one[var], rtol=1e-7, atol=1e-12, err_msg=var)


def test_sweep_of_step_sizes_and_extended_lambdas():
    base = Config(model="extended", K=3, n=4, d1=5, d2=5, iters=300, log_every=100, lambda_W1=0.02, lambda_W2=0.02)
    sweep = Sweep.from_mapping({"lr": [0.1, 0.2], "lambda_H1": [0.02, 0.03]})
    ds = solve_sweep(base, sweep)
    for i, lr in enumerate([0.1, 0.2]):
        for j, lam in enumerate([0.02, 0.03]):
            one = solve(Config(**{**base.__dict__, "lr": lr, "lambda_H1": lam}))
            np.testing.assert_allclose(ds["objective"].values[i, j], one["objective"].values, rtol=1e-12)
            np.testing.assert_allclose(ds["NC1_H2"].values[i, j], one["NC1_H2"].values, rtol=1e-7)


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"K": [2, 3]}, "cannot sweep 'K'"),
        ({"seed": [0, 0]}, "values repeat"),
        ({"seed": [0.5]}, "must be integers"),
        ({"lambda_W": []}, "non-empty list"),
        ({"lambda_W": "0.1"}, "non-empty list"),
        ({"lam": {"fields": ["lambda_W"], "values": [0.1], "extra": 1}}, "expected keys"),
        ({"lam1": {"fields": ["lambda_W"], "values": [0.1]}, "lam2": {"fields": ["lambda_W"], "values": [0.2]}}, "two dimensions"),
        ({"iteration": {"fields": ["lambda_W"], "values": [0.1]}}, "cannot name a dimension"),
        ({"s": {"fields": ["seed", "lr"], "values": [1]}}, "on its own dimension"),
        ({}, "non-empty mapping"),
    ],
)
def test_bad_sweeps_are_refused(mapping, fragment):
    with pytest.raises(InputError, match=fragment):
        Sweep.from_mapping(mapping)


def test_init_scale_sweep_records_the_feature_scale_it_used():
    """Sweeping init_scale moves the feature scale along (init_scale_features unset): the stored
    config must say so, so that each point rebuilt from it re-runs identically."""
    base = Config(model="extended", K=3, n=4, d1=5, d2=5, iters=20, log_every=10)
    ds = solve_sweep(base, Sweep.from_mapping({"init_scale": [0.1, 0.3]}))
    assert ds.attrs["config"]["init_scale_features"] is None
    for index, config in point_configs(ds):
        assert config.feature_scale == config.weight_scale
        one = solve(config)
        np.testing.assert_allclose(ds["H1"].isel(index).values, one["H1"].values, rtol=1e-9, atol=1e-12)


def test_sweep_point_errors_name_the_point():
    base = Config(K=3, n=4, d=5, iters=10)
    with pytest.raises(InputError, match=r"sweep point \(lr=500\)"):
        solve_sweep(base, Sweep.from_mapping({"lr": [0.1, 500.0]}))
    diverging = Config(model="extended", K=4, n=50, d1=20, d2=20, iters=3000)
    with pytest.raises(NonFiniteError, match=r"sweep point init_scale=1\b"):
        solve_sweep(diverging, Sweep.from_mapping({"init_scale": [0.1, 1.0]}))


def test_a_batch_refuses_problems_of_different_shapes():
    with pytest.raises(InputError, match="must agree on K, iters"):
        solver.run([Config(K=3, iters=10), Config(K=4, iters=20)])
