"""Gradient descent reaches every closed form (docs/math.md#ufm-plain, #gd-protocol), and the result dataset's contract."""

import math

import numpy as np
import pytest
import torch

from deepcollapse import metrics
from deepcollapse.ufm import Config, NonFiniteError, problems, solve, solver, theory, torch_loop, trajectory
from deepcollapse.ufm.agreement import identity_residuals, rows, structure_errors
from deepcollapse.ufm.joined import THEORY_VARIABLES, with_theory

SMALL = dict(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.05, log_every=500)  # c = 0.3
EXT = dict(model="extended", K=3, n=4, d1=5, d2=5, lambda_W1=0.02, lambda_W2=0.02, lambda_H1=0.02, init_scale=0.3, log_every=500)
ETF_OF_DISTANCE = math.sqrt(2 - 2 * math.sqrt(2 / 3))  # NC2_OF of an exact simplex ETF, K = 3 (docs/math.md#nc-metrics)

OF = ["NC1_H", "NC2_OF_H", "NC2_ETF_H", "NC2_W_OF_H", "NC3_OF_H"]
ETF = ["NC1_H", "NC2_ETF_H", "NC2_W_ETF_H", "NC3_OF_H", "NC3_ETF_H"]
CASES = {
    "thm3.1": (dict(SMALL, iters=3000), OF),
    "thm3.2": (dict(SMALL, iters=3000, bias="unregularized"), ETF),
    "regbias-etf": (dict(SMALL, iters=3000, bias="regularized", lambda_b=0.05), ETF),
    "regbias-neither": (dict(SMALL, iters=3000, bias="regularized", lambda_b=2.0), ["NC1_H", "NC2_ETF_H", "NC3_OF_H"]),
    "ce": (dict(SMALL, iters=3000, loss="ce"), ETF),
    "ce-bias": (dict(SMALL, iters=3000, loss="ce", bias="unregularized"), ETF),
    "ce-regbias": (dict(SMALL, iters=3000, loss="ce", bias="regularized", lambda_b=0.05), ETF),
    "thm4.1": (dict(EXT, iters=4000), [f"{k}_{lv}" for lv in ("H1", "H2") for k in ("NC1", "NC2_OF", "NC3_OF")]),
    "ce-extended": (dict(EXT, iters=5000, loss="ce"), [f"{k}_{lv}" for lv in ("H1", "H2") for k in ("NC1", "NC2_ETF", "NC3_OF")]),
}


def final_params(ds):
    return {name: ds[name].values for name in ("W", "H", "b", "W2", "W1", "H1") if name in ds}


@pytest.mark.parametrize("name", CASES)
def test_gd_reaches_the_closed_form(name):
    fields, collapsed = CASES[name]
    config = Config(**fields)
    ds = with_theory(solve(config))
    final = ds.isel(iteration=-1)
    expected = theory.minimizer(config)["objective"]
    assert abs(float(final["objective"]) - expected) <= 1e-6 * expected
    assert float(final["objective_gap"]) == pytest.approx((float(final["objective"]) - expected) / expected)
    for key in collapsed:
        assert float(final[key]) <= 1e-3, key
    for key in [k for k in final.data_vars if k.startswith("NC4")]:
        assert float(final[key]) == 0.0, key
    errors = structure_errors(config, final_params(ds))
    assert set(errors) >= {"WWt", "Hbar_gram", "W_Hbar", "W_vs_kappa_Hbar"} or set(errors) >= {"W2W2t", "H2bar_gram", "W2_vs_kappa2_H2bar"}
    assert max(errors.values()) <= 1e-3, errors
    # docs/math.md#critical-point-identities: identities of every critical point
    assert max(identity_residuals(config, final_params(ds)).values()) <= 1e-6


def test_frames_are_told_apart():
    """Thm 3.1 gives an orthogonal frame, Thm 3.2 a simplex ETF: NC2_OF separates them."""
    of = solve(Config(**SMALL, iters=3000)).isel(iteration=-1)
    etf = solve(Config(**SMALL, iters=3000, bias="unregularized")).isel(iteration=-1)
    assert float(of["NC2_OF_H"]) <= 1e-6
    assert float(etf["NC2_OF_H"]) == pytest.approx(ETF_OF_DISTANCE, abs=1e-6)
    # the centered NC3 cannot vanish for an OF: its limit is the same sqrt(2 - 2 sqrt((K-1)/K))
    assert float(of["NC3_ETF_H"]) == pytest.approx(ETF_OF_DISTANCE, abs=1e-6)


ABOVE = {
    "plain": dict(SMALL, lambda_W=0.2, lambda_H=0.2, iters=2000),
    "bias": dict(SMALL, lambda_W=0.2, lambda_H=0.2, iters=2000, bias="unregularized"),
    "regbias": dict(SMALL, lambda_W=0.2, lambda_H=0.2, iters=2000, bias="regularized", lambda_b=2.0),
    "ce": dict(SMALL, lambda_W=0.2, lambda_H=0.2, iters=2000, loss="ce"),
    "extended": dict(EXT, lambda_W1=0.2, lambda_W2=0.2, lambda_H1=0.2, iters=2000),
}


@pytest.mark.parametrize("name", ABOVE)
def test_above_threshold_gd_goes_to_zero(name):
    config = Config(**ABOVE[name])
    info = theory.minimizer(config)
    assert info["zero"] is True
    ds = solve(config)
    final = ds.isel(iteration=-1)
    assert abs(float(final["objective"]) - info["objective"]) <= 1e-6 * info["objective"]
    for var in [v for v in final.data_vars if v.startswith("norm_") and v != "norm_b"]:
        assert float(final[var]) <= 2e-3 * float(ds[var].isel(iteration=0)), var
    assert max(structure_errors(config, final_params(ds)).values()) <= 1e-5  # absolute: 0 and b = β1


def test_dataset_contract():
    config = Config(model="extended", activation="relu", K=3, n=4, d1=5, d2=6, iters=1234, log_every=500, log_spaced=8)
    ds = solve(config)
    iterations = ds["iteration"].values.tolist()
    assert iterations[0] == 0 and iterations[-1] == 1234 and {500, 1000} <= set(iterations)
    assert {1, 1234} <= set(iterations) and len(iterations) >= 10  # log-spaced points resolve the start
    for level in ("H1", "Z", "H2"):
        for key in metrics.KEYS:
            assert ds[f"{key}_{level}"].dims == ("iteration",)
    assert ds["W2"].dims == ("class", "feature2") and ds["H1"].shape == (12, 5)  # sample-major
    assert ds["W1"].shape == (6, 5) and ds["label"].values.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    for var in ("objective", "grad_norm", "norm_W2", "norm_W1", "norm_H1", "norm_Z", "norm_H2"):
        assert var in ds
    # what GD produced only: the closed form is joined on the theory side
    assert not set(THEORY_VARIABLES) & set(ds.variables) and "theory" not in ds.attrs
    joined = with_theory(ds)
    assert set(THEORY_VARIABLES) <= set(joined.variables) and joined["objective_gap"].dims == ("iteration",)
    assert ds.attrs["config"]["init_scale"] == 0.1 and ds.attrs["config"]["iters"] == 1234
    assert joined.attrs["theory"]["objective"] == float(joined["theory_objective"]) == theory.minimizer(config)["objective"]
    assert {"git", "versions", "device", "params"} <= set(ds.attrs["provenance"])
    assert ds.attrs["levels"] == ["H1", "Z", "H2"]
    # H1 and Z have no linear classifier in the ReLU model; H2's NC3/NC4 use W2
    assert np.isnan(ds["NC3_OF_Z"].values).all() and np.isnan(ds["NC4_H1"].values).all()
    final = ds.isel(iteration=-1)
    H1, W1, W2 = (torch.from_numpy(ds[k].values) for k in ("H1", "W1", "W2"))
    H2 = torch.relu(H1 @ W1.T)
    y = problems.labels(3, 4)
    reference = metrics.nc(H2, y, W=W2)
    for key, value in reference.items():
        assert float(final[f"{key}_H2"]) == pytest.approx(value, rel=1e-12, abs=1e-15), key
    assert float(final["norm_Z"]) > float(final["norm_H2"])  # the levels are recorded separately


def test_same_config_same_numbers_and_float32():
    config = Config(**dict(SMALL, iters=600, log_every=200))
    a, b = solve(config), solve(config)
    np.testing.assert_array_equal(a["objective"].values, b["objective"].values)
    np.testing.assert_array_equal(a["H"].values, b["H"].values)
    single = with_theory(solve(Config(**dict(SMALL, iters=3000, dtype="float32")))).isel(iteration=-1)
    assert abs(float(single["objective_gap"])) <= 1e-5  # float32 GD, metrics in float64


def _first_nonfinite(config):
    """A plain loop that finds the first iteration with a non-finite parameter (the oracle)."""
    lam = problems.lambda_tensors([config], dtype=torch.float64, device="cpu")
    problem = problems.build(config, lam, dtype=torch.float64, device="cpu")
    params = problem.init([config.seed], solver.init_scales([config]))
    step = torch_loop.gd_step(problem, torch.tensor([config.lr], dtype=torch.float64))
    for t in range(config.iters + 1):
        if not all(bool(torch.isfinite(p).all()) for p in params.values()):
            return t
        params = step(params)
    return None


def test_divergence_names_the_iteration():
    config = Config(model="extended", K=4, n=50, d1=20, d2=20, init_scale=1.0, iters=3000)  # docs/math.md#gd-protocol: init 1.0 diverges
    expected = _first_nonfinite(config)
    assert expected is not None and expected % solver.FINITE_CHECK_EVERY != 0
    with pytest.raises(NonFiniteError, match=f"iteration {expected} ") as err:
        solve(config)
    assert err.value.iteration == expected and "\n" not in str(err.value)


def test_extended_cross_entropy_gd_reaches_the_reduced_optimum_or_the_etf_local_minimum():
    """The theory value of extended linear + CE is the certified reduced-problem optimum (here the
    cross-polytope: classes paired antipodally, rank 2); GD reaches it from one seed, and from
    another stops at the simplex-ETF critical point, which the theory table calls a local minimum."""
    base = dict(model="extended", loss="ce", K=4, n=4, d1=6, d2=6, lambda_W1=0.02, lambda_W2=0.02, lambda_H1=0.02, init_scale=0.3, iters=5000, log_every=1000)
    info = theory.minimizer(Config(**base))
    assert info["structure_name"] == "cross-polytope" and info["etf_objective"] > info["objective"]
    etf, paired = solve(Config(**base, seed=1)), solve(Config(**base, seed=0))
    # the paired structure Z = y(e_k − e_π(k)): CE log(1 + e^{−2y} + (K−2)e^{−y}), penalty 3ρ(2y)^{2/3}
    rho = info["rho"]
    y = np.linspace(0.5, 10, 200001)
    best = np.min(np.log1p(np.exp(-2 * y) + 2 * np.exp(-y)) + 3 * rho * (2 * y) ** (2 / 3))
    assert info["objective"] == pytest.approx(best, rel=1e-9)
    assert float(paired["objective"][-1]) == pytest.approx(info["objective"], rel=1e-6)
    assert rows(paired)[0]["reason"] == "agrees"
    assert float(etf["objective"][-1]) == pytest.approx(info["etf_objective"], rel=1e-6)
    row = rows(etf)[0]
    assert row["reason"] == "local minimum" and "simplex ETF" in row["reason_detail"]
    Z = paired["W2"].values @ paired["W1"].values @ paired["H1"].values.T.reshape(6, 4, 4).mean(-1)
    assert np.sum(np.linalg.svd(Z, compute_uv=False) > 1e-6) == 2


@pytest.mark.parametrize("model", ["plain", "extended"])
def test_fixed_point_shortcut_changes_no_number(model, monkeypatch):
    """GD stops at an exact fixed point (θ_{t+1} = θ_t bit for bit): the result is byte for byte the full run's."""
    if model == "plain":
        configs = [Config(**dict(SMALL, iters=12000, log_every=1000, log_spaced=20, seed=s)) for s in range(3)]
    else:
        configs = [Config(**dict(EXT, lambda_W1=0.05, lambda_W2=0.05, lambda_H1=0.05, iters=12000, log_every=1000))]
    short = solver.run(configs)
    assert (short.per_problem["fixed_point_iteration"] > 0).all()
    assert (short.per_problem["fixed_point_iteration"] < 12000).all()
    monkeypatch.setattr(trajectory, "FIXED_POINT_CHECK_EVERY", 10**12)  # only t = 0 is checked
    full = solver.run(configs)
    assert (full.per_problem["fixed_point_iteration"] == -1).all()
    assert set(short.records) == set(full.records)
    for name in full.records:
        np.testing.assert_array_equal(short.records[name], full.records[name], err_msg=name)
    for name in full.params:
        np.testing.assert_array_equal(np.asarray(short.params[name]), np.asarray(full.params[name]), err_msg=name)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_a_problem_at_a_fixed_point_leaves_the_batch_and_changes_no_number(backend, monkeypatch):
    """A batch where one problem reaches an exact fixed point and the others do not: it stops there
    (in the torch loop it is retired and the rest go on as a smaller batch) and every record, final
    parameter and per-problem value is byte for byte that of the run that never stops one."""
    configs = [
        Config(model="plain", K=4, n=10, d=6, iters=12000, log_every=1000, log_spaced=20, lambda_W=lam, lambda_H=lam)
        for lam in (0.002, 0.01, 0.05, 0.1)
    ]
    short = solver.run(configs, backend=backend)
    fixed = short.per_problem["fixed_point_iteration"]
    assert (fixed > 0).any() and (fixed == -1).any(), fixed  # the retirement path ran
    monkeypatch.setattr(trajectory, "FIXED_POINT_CHECK_EVERY", 10**12)  # only t = 0 is checked
    full = solver.run(configs, backend=backend)
    assert set(short.records) == set(full.records)
    for name in full.records:
        np.testing.assert_array_equal(short.records[name], full.records[name], err_msg=name)
    for name in full.params:
        np.testing.assert_array_equal(np.asarray(short.params[name]), np.asarray(full.params[name]), err_msg=name)
