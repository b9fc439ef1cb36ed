"""The compiled backend (`ufm.kernel`) against the one definition of each model (`ufm.problems`).

What is covered, for every model of the registry (plain with each bias, extended, deep of depth 1
and 3 with unequal widths; linear and ReLU; MSE and CE):
* the three products equal numpy's for every count of rows and terms left over by the 4 × 4 tiles;
* the kernel's gradient equals `LayeredProblem.data_gradients` and autograd of
  `LayeredProblem.objective` (at a random point, so ReLU masks are mixed) to 1e-13 relative;
* GD with the kernel equals the torch loop after 1,500 iterations (objective and parameters to
  1e-12 relative, every logged value, the dead-sample counts) — the full 1e5-iteration agreement
  of every model is a table of tests/benchmarks/bench_ufm.py (seconds of torch per model);
* a batch of λ values, the fixed-point stop (the retired problems' numbers unchanged by it), the
  divergence report, and which backend runs where (recorded in the dataset).
"""

import dataclasses

import numpy as np
import pytest
import torch

from deepcollapse.errors import InputError
from deepcollapse.ufm import Config, NonFiniteError, kernel, models, problems, solve, solver, trajectory

SMALL = dict(K=3, n=5, log_every=500)
MODELS = {
    "plain": dict(SMALL, model="plain", d=6),
    "plain-bias": dict(SMALL, model="plain", d=6, bias="unregularized"),
    "plain-regbias": dict(SMALL, model="plain", d=6, bias="regularized", lambda_b=0.05),
    "plain-ce-bias": dict(SMALL, model="plain", d=6, bias="unregularized", loss="ce"),
    "extended": dict(SMALL, model="extended", d1=6, d2=5, init_scale=0.3),
    "extended-relu": dict(SMALL, model="extended", d1=6, d2=5, init_scale=0.3, activation="relu"),
    "extended-ce": dict(SMALL, model="extended", d1=6, d2=5, init_scale=0.3, loss="ce"),
    "extended-relu-ce": dict(SMALL, model="extended", d1=6, d2=5, init_scale=0.3, activation="relu", loss="ce"),
    "deep1": dict(SMALL, model="deep", depth=1, d=7),
    "deep3": dict(SMALL, model="deep", depth=3, d=(6, 5, 4), lambda_W=(0.01, 0.005, 0.002)),
    "deep3-relu": dict(SMALL, model="deep", depth=3, d=(6, 5, 4), activation="relu"),
    "deep3-relu-ce": dict(SMALL, model="deep", depth=3, d=(6, 5, 4), activation="relu", loss="ce"),
}


def _problem(config, B=1):
    lam = problems.lambda_tensors([config] * B, dtype=torch.float64, device="cpu")
    return problems.build(config, lam, dtype=torch.float64, device="cpu")


def _flat(params, plan):
    arrays = {name: np.asarray(value.detach() if isinstance(value, torch.Tensor) else value) for name, value in params.items()}
    return np.ascontiguousarray(np.concatenate([arrays[name].reshape(arrays[name].shape[0], -1) for name in plan.names], axis=1))


def test_every_registered_model_is_covered():
    assert {fields["model"] for fields in MODELS.values()} == set(models.names())


def test_every_product_equals_numpys_at_every_tile_remainder():
    """The three products by 4 × 4 register tiles, with every count of rows and inner terms left over."""
    rng = np.random.default_rng(0)
    for r in range(1, 10):
        for k in range(1, 10):
            for N in (1, 7, 33):
                A, X, G = rng.standard_normal((r, k)), rng.standard_normal((k, N)), rng.standard_normal((r, N))
                out = np.full((r, N), np.nan)
                kernel._mm(A, X, out)
                np.testing.assert_allclose(out, A @ X, rtol=0, atol=1e-13 * k, err_msg=f"A X {r, k, N}")
                out = np.full((k, N), np.nan)
                kernel._mm_tn(A, G, out)
                np.testing.assert_allclose(out, A.T @ G, rtol=0, atol=1e-13 * r, err_msg=f"AT G {r, k, N}")
                out = np.full((r, k), np.nan)
                kernel._mm_nt(G, X, out)
                np.testing.assert_allclose(out, G @ X.T, rtol=0, atol=1e-13 * N, err_msg=f"G XT {r, k, N}")


def test_the_residual_is_rounded_as_torch_rounds_it():
    """(Z − Y) · (1/N), bit for bit (as `problems.mse_dlogits`): not (Z − Y)/N, which differs in the last bit."""
    K, n = 4, 50
    Z = np.random.default_rng(1).standard_normal((K, K * n))
    Y = np.repeat(np.eye(K), n, axis=1)
    R = Z.copy()
    kernel._residual(R, n)
    assert np.array_equal(R, (Z - Y) * (1.0 / (K * n)))
    assert not np.array_equal(R, (Z - Y) / (K * n))  # the test can tell the two apart


@pytest.mark.parametrize("name", MODELS)
def test_kernel_gradient_is_the_models_gradient(name):
    config = Config(**MODELS[name])
    problem, plan = _problem(config), kernel.plan(config)
    gen = torch.Generator().manual_seed(5)
    params = {n: torch.randn((1,) + plan.shapes[n], generator=gen, dtype=torch.float64) for n in plan.names}
    theta = _flat(params, plan)[0]
    grad = np.full_like(theta, np.nan)
    kernel.data_gradient(theta, grad, plan.meta, np.empty(plan.scratch))
    explicit = _flat(problem.data_gradients(params), plan)[0]
    leaves = {n: p.clone().requires_grad_(True) for n, p in params.items()}
    full = torch.autograd.grad(problem.objective(leaves).sum(), [leaves[n] for n in plan.names])
    lambdas = models.of(config).regularization(config)
    auto = _flat({n: g - lambdas.get(n, 0.0) * params[n] for n, g in zip(plan.names, full)}, plan)[0]
    scale = np.abs(explicit).max()
    assert np.abs(grad - explicit).max() <= 1e-13 * scale
    assert np.abs(grad - auto).max() <= 1e-13 * scale
    if config.activation == "relu":  # the point mixes live and dead units (σ'(0) := 0 is exercised)
        _, zs, _ = problem.forward(params)
        assert all(0 < float((z > 0).double().mean()) < 1 for z in zs)


def _agree(a: solver.Trajectory, b: solver.Trajectory, rtol: float) -> None:
    assert set(a.records) == set(b.records) and set(a.per_problem) == set(b.per_problem)
    obj = b.records["objective"]
    assert np.abs(a.records["objective"] - obj).max() <= rtol * np.abs(obj).max()
    for name in b.params:  # the compiled loop returns numpy arrays, the torch loop tensors
        got, ref = np.asarray(a.params[name]), b.params[name].numpy()
        assert np.abs(got - ref).max() <= rtol * np.abs(ref).max(), name
    for name, ref in b.records.items():  # every logged value, to the scale of its own column (NaN where undefined)
        finite = np.abs(ref[np.isfinite(ref)])
        scale = max(finite.max(), 1e-12) if finite.size else 1.0
        np.testing.assert_allclose(a.records[name], ref, rtol=0, atol=1e-9 * scale, err_msg=name)
    for name in b.per_problem:
        if name.startswith("dead_"):
            np.testing.assert_array_equal(a.per_problem[name], b.per_problem[name], err_msg=name)


@pytest.mark.parametrize("name", MODELS)
def test_kernel_gd_equals_the_torch_loop(name):
    config = Config(**MODELS[name], iters=1500)
    numba, reference = solver.run([config], backend="numba"), solver.run([config], backend="torch")
    assert numba.backend == "numba" and reference.backend.startswith("torch")
    _agree(numba, reference, 1e-12)


def test_a_batch_of_lambdas_with_fixed_points_equals_the_torch_loop():
    """Four λ; the larger ones reach an exact fixed point and stop, the others go on (each backend
    finds its own fixed point: the iterates agree to rounding, not bit for bit)."""
    configs = [Config(model="plain", K=4, n=10, d=6, iters=12000, log_every=1000, log_spaced=20, lambda_W=lam, lambda_H=lam)
               for lam in (0.002, 0.01, 0.05, 0.1)]
    numba, reference = solver.run(configs, backend="numba"), solver.run(configs, backend="torch")
    fixed = numba.per_problem["fixed_point_iteration"]
    assert (fixed > 0).any() and (fixed == -1).any(), fixed
    _agree(numba, reference, 1e-12)
    # a fixed problem's parameters are a fixed point of the kernel's step, bit for bit
    plan = kernel.plan(configs[0])
    theta = _flat(numba.params, plan)
    for b in np.flatnonzero(fixed > 0):
        one = theta[b : b + 1].copy()
        lam = configs[b].lambda_W
        decay = np.full_like(one, 1.0 - configs[b].lr * lam)
        kernel.advance(one, decay, np.array([-configs[b].lr]), plan.meta, 0, 1, 100, 100, False, np.full(1, -1), np.full(1, -1),
                       one.copy(), np.zeros(1, dtype=np.int64), np.zeros((1, 1), dtype=np.int64), np.full((1, 1), -1))
        np.testing.assert_array_equal(one, theta[b : b + 1])


def test_fixed_point_stop_changes_no_number_of_the_kernel(monkeypatch):
    configs = [Config(model="plain", K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.05, iters=12000, log_every=1000, log_spaced=20, seed=s) for s in range(3)]
    short = solver.run(configs, backend="numba")
    assert ((short.per_problem["fixed_point_iteration"] > 0) & (short.per_problem["fixed_point_iteration"] < 12000)).all()
    monkeypatch.setattr(trajectory, "FIXED_POINT_CHECK_EVERY", 10**12)  # only t = 0 is checked
    full = solver.run(configs, backend="numba")
    assert (full.per_problem["fixed_point_iteration"] == -1).all()
    for name in full.records:
        np.testing.assert_array_equal(short.records[name], full.records[name], err_msg=name)
    for name in full.params:
        np.testing.assert_array_equal(short.params[name], full.params[name], err_msg=name)


def test_divergence_is_reported_as_by_the_torch_loop():
    config = Config(model="extended", K=4, n=50, d1=20, d2=20, init_scale=1.0, iters=3000)  # docs/math.md#gd-protocol
    errors = []
    for backend in ("numba", "torch"):
        with pytest.raises(NonFiniteError) as err:
            solver.run([config], backend=backend)
        errors.append(err.value)
    assert str(errors[0]) == str(errors[1]) and errors[0].iteration == errors[1].iteration
    assert errors[0].iteration % solver.FINITE_CHECK_EVERY != 0


def test_where_each_backend_runs_and_the_record_says_which():
    base = Config(model="plain", K=3, n=4, d=5, iters=200, log_every=100)
    assert solver.choose_backend(base) == "numba"
    assert solve(base).attrs["solver_backend"] == "numba"
    single = dataclasses.replace(base, dtype="float32")
    assert solver.choose_backend(single) == "torch: float32 (the kernel is float64)"
    assert solve(single).attrs["solver_backend"] == "torch: float32 (the kernel is float64)"
    relu = Config(model="extended", activation="relu", K=3, n=4, d1=4, d2=4, iters=200, log_every=100, reinit_dead=True)
    assert solver.choose_backend(relu).startswith("torch: reinit_dead")
    assert solver.choose_backend(base, "torch") == "torch (asked for)"
    with pytest.raises(InputError, match="backend 'numba' does not apply here"):
        solver.run([single], backend="numba")


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_features_at_the_origin_give_nan_metrics_and_no_warning(backend):
    """Strong weight decay drives GD to the origin: GM_RATIO is 0/0 there, NaN by the metric table's
    rule, silently in both loops (pyproject turns the package's RuntimeWarnings into errors)."""
    config = Config(model="plain", K=3, n=4, d=5, lambda_W=1.0, lambda_H=1.0, iters=20000, log_every=5000)
    result = solver.run([config], backend=backend)
    assert result.records["norm_H"][0, -1] == 0.0 and np.isnan(result.records["GM_RATIO_H"][0, -1])


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_an_objective_that_overflows_is_a_diverged_run(backend):
    """Finite parameters whose squares overflow: the solver's error, not numpy's warning."""
    config = Config(model="plain", K=3, n=4, d=5, iters=1, log_every=1, init_scale=1e160, init_scale_features=1e160)
    with pytest.raises(NonFiniteError, match="non-finite objective at iteration 0"):
        solver.run([config], backend=backend)
