"""Extended ReLU UFM (Theorem 4.2, docs/math.md#extended-relu): a converging seed reaches the linear optimum."""

import dataclasses

import numpy as np
import pytest

from deepcollapse.ufm import Config, solve, theory, torch_loop
from deepcollapse.ufm.agreement import identity_residuals, structure_errors

# GD on the ReLU model is slow and seed-dependent (docs/math.md#extended-relu); this small setting with seed 2
# reaches the global minimum within 4k iterations (most seeds sit on plateaus much longer).
RELU = Config(
    model="extended", activation="relu", K=3, n=4, d1=10, d2=10,
    lambda_W1=0.02, lambda_W2=0.02, lambda_H1=0.02, init_scale=0.3, seed=2, iters=5000, log_every=500,
)


@pytest.fixture(scope="module")
def result():
    return solve(RELU)


def test_converging_seed_reaches_the_linear_optimum(result):
    linear = theory.minimizer(dataclasses.replace(RELU, activation="linear"))
    final = result.isel(iteration=-1)
    assert abs(float(final["objective"]) - linear["objective"]) <= 1e-6 * linear["objective"]
    params = {k: result[k].values for k in ("W2", "W1", "H1")}
    errors = structure_errors(RELU, params)  # W2W2ᵀ = a²I, H̄2ᵀH̄2 = b²c₁²I, W2 = κ₂H̄2ᵀ, W2H̄2 = x*I
    assert set(errors) == {"W2W2t", "H2bar_gram", "W2_H2bar", "W2_vs_kappa2_H2bar"}
    assert max(errors.values()) <= 1e-3
    for key in ("NC1_H2", "NC2_OF_H2", "NC2_ETF_H2", "NC3_OF_H2", "NC1_H1"):
        assert float(final[key]) <= 1e-3, key
    assert float(final["NC4_H2"]) == 0.0
    # docs/math.md#critical-point-identities, ReLU: the W1/H1 balance holds as matrices, the W2/W1 balance only per hidden unit
    assert max(identity_residuals(RELU, params).values()) <= 1e-6


def test_premise_and_levels(result):
    W1, H1 = result["W1"].values, result["H1"].values.T
    Z = W1 @ H1
    nuclear = lambda X: np.linalg.svd(X, compute_uv=False).sum()  # noqa: E731
    # Thm 4.2's premise ‖W1H1‖_* = ‖σ(W1H1)‖_* holds at the converged point although Z has negative entries
    assert (Z < -1e-3).any()
    assert nuclear(Z) == pytest.approx(nuclear(np.maximum(Z, 0)), rel=1e-6)
    final = result.isel(iteration=-1)
    # pre- and post-ReLU levels are different feature sets, recorded separately
    assert float(final["norm_Z"]) > float(final["norm_H2"])
    assert not np.allclose(result["NC1_Z"].values, result["NC1_H2"].values)
    assert np.isnan(final["NC3_OF_Z"]) and np.isnan(final["NC3_OF_H1"])


# ---------------------------------------------------------------------------- dead samples (docs/math.md#extended-relu)
NARROW = Config(
    model="extended", activation="relu", K=3, n=4, d1=4, d2=4,
    lambda_W1=0.02, lambda_W2=0.02, lambda_H1=0.02, init_scale=0.3, iters=3000, log_every=1000,
)


def _dead_oracle(config):
    """A plain loop: (dead samples at the end, first multiple of 100 with one) from Z = W1 H1 directly."""
    import torch

    from deepcollapse.ufm import problems, solver

    lam = problems.lambda_tensors([config], dtype=torch.float64, device="cpu")
    problem = problems.build(config, lam, dtype=torch.float64, device="cpu")
    params = problem.init([config.seed], solver.init_scales([config]))
    step = torch_loop.gd_step(problem, torch.tensor([config.lr], dtype=torch.float64))
    first = -1
    for t in range(config.iters + 1):
        if t % 100 == 0:
            dead = ((params["W1"][0] @ params["H1"][0]) <= 0).all(dim=0)
            if first < 0 and bool(dead.any()):
                first = t
        if t < config.iters:
            params = step(params)
    return int(dead.sum()), first


@pytest.mark.parametrize("seed", [1, 7])
def test_dead_samples_are_recorded(seed):
    config = dataclasses.replace(NARROW, seed=seed)
    ds = solve(config, metrics="batched")
    count, first = _dead_oracle(config)
    assert count >= 1 and first >= 0
    assert int(ds["dead_samples_H2"]) == count and int(ds["dead_first_iteration_H2"]) == first
    # a dead sample gets no loss gradient: its feature column only decays by (1 - lr λ_H1) per step
    W1, H1 = ds["W1"].values, ds["H1"].values
    dead = np.flatnonzero((W1 @ H1.T <= 0).all(axis=0))
    assert dead.size == count
    grads = _full_gradient_H1(config, ds)
    np.testing.assert_allclose(grads[dead], config.lambda_H1 * H1[dead], rtol=1e-12, atol=1e-300)


def _full_gradient_H1(config, ds):
    import torch

    from deepcollapse.ufm import problems, solver

    lam = problems.lambda_tensors([config], dtype=torch.float64, device="cpu")
    problem = problems.build(config, lam, dtype=torch.float64, device="cpu")
    params = torch_loop.from_public({k: ds[k].values for k in ("W2", "W1", "H1")})
    return solver.to_public(problem.gradients(params))["H1"][0]


def test_reinit_dead_departs_from_gd_only_where_a_sample_died():
    # both in torch (reinit_dead runs there): the same loop, so equal bit for bit until the re-draw
    plain = solve(dataclasses.replace(NARROW, seed=7, log_every=100), metrics="batched", backend="torch")
    revived = solve(dataclasses.replace(NARROW, seed=7, log_every=100, reinit_dead=True), metrics="batched")
    first = int(plain["dead_first_iteration_H2"])
    assert first == int(revived["dead_first_iteration_H2"]) and first > 0
    before = plain["iteration"] < first  # the re-draw happens at the check of iteration `first`
    np.testing.assert_array_equal(plain["objective"][before].values, revived["objective"][before].values)
    assert int(revived["dead_reinitialized"]) >= 1 and "dead_reinitialized" not in plain
    assert not np.array_equal(plain["objective"].values, revived["objective"].values)


def test_models_without_relu_record_no_dead_samples():
    ds = solve(Config(model="extended", K=3, n=4, d1=4, d2=4, init_scale=0.3, iters=200, log_every=100))
    assert not [name for name in ds.data_vars if name.startswith("dead_")]


def test_pages_name_the_seeds_that_end_on_a_dead_sample():
    """The report's sentences and legends split "above the closed form" by the solver's dead-sample
    record: a seed on a dead sample is named as such, with its level and first iteration."""
    from deepcollapse.reports import claims
    from deepcollapse.ufm import Sweep, solve_sweep

    ds = solve_sweep(NARROW, Sweep.from_mapping({"seed": [1, 7]}))
    outcomes = claims.outcomes(ds)
    for o, seed in zip(outcomes, (1, 7)):
        count, first = _dead_oracle(dataclasses.replace(NARROW, seed=seed))
        assert o.status == claims.ABOVE and o.kind == claims.ABOVE_DEAD
        assert f"{count} training sample(s) dead at H2 at the end (a dead sample first seen at iteration {first:,})" in o.sentence()
    assert "of those above, 2 end on a ReLU dead sample (seed=1, seed=7) and 0 have none" in claims.count_sentence(outcomes)
