"""The deep UFM (docs/math.md#deep-ufm): GD on the deep linear MSE model lands on its closed form at L = 3, 4.

The oracle is computed here from the spec's scalar equation (not from `ufm.deep_theory`): with
m = L + 1 and ρ_L = (nλ_H Π λ_Wl)^{1/m}, the minimizer is Z = W_L⋯W_1 H̄1 = s* I_K with s* the
largest root of (1 − s) s^{(L−1)/(L+1)} = Kρ_L, and 𝓛* = (1 − s*)²/2 + (m/2) Kρ_L s*^{2/m}.
"""

import dataclasses

import numpy as np
import pytest

from deepcollapse.cli import main
from deepcollapse.store import open_dataset
from deepcollapse.ufm import Config, Sweep, solve, solve_sweep, theory
from deepcollapse.ufm.joined import with_theory


def closed_form(K, n, lam_H, lam_W, L):
    m = L + 1
    q = K * (n * lam_H * np.prod(lam_W)) ** (1 / m)
    p = (L - 1) / (L + 1)
    lo, hi = p / (1 + p), 1.0  # (1 - s) s^p decreases on [p/(1+p), 1]: bisection to the last float
    assert (1 - lo) * lo**p > q  # below the threshold's root limit
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if (1 - mid) * mid**p >= q else (lo, mid)
    s = lo
    return s, 0.5 * (1 - s) ** 2 + 0.5 * m * q * s ** (2 / m)


def class_means(H, K):
    """Class means as columns (p × K) of sample-major features (N × p), class-major samples."""
    return H.T.reshape(H.shape[1], K, -1).mean(axis=-1)


# seed 6 at L = 4: seeds 0-5 stop at the rank-2 stationary point L_2 (docs/math.md#deep-ufm: init-sensitive)
@pytest.mark.parametrize("depth, widths, seed", [(3, 8, 0), (4, [6, 7, 8, 5], 6)])
def test_deep_linear_mse_gd_lands_on_the_closed_form(depth, widths, seed):
    lam_W = [0.01, 0.012, 0.008, 0.01][:depth]
    config = Config(model="deep", depth=depth, K=3, n=8, d=widths, lambda_W=lam_W, lambda_H=0.01, iters=20000, log_every=5000, seed=seed)
    ds = with_theory(solve(config))
    final = ds.isel(iteration=-1)
    s_star, objective = closed_form(3, 8, 0.01, lam_W, depth)
    assert float(final["objective"]) == pytest.approx(objective, rel=1e-12)
    assert float(final["theory_objective"]) == pytest.approx(objective, rel=1e-13)  # the model's theory hook
    W = [ds[f"W{l}"].values for l in range(1, depth + 1)]
    H = ds["H1"].values
    Z = np.linalg.multi_dot(W[::-1] + [class_means(H, 3)])
    np.testing.assert_allclose(np.linalg.svd(Z, compute_uv=False), s_star, rtol=1e-9)
    np.testing.assert_allclose(Z, Z.T, atol=1e-9)  # symmetric positive semidefinite (von Neumann)
    for level in ds.attrs["levels"]:  # deep neural collapse with orthogonal frames at every level
        assert float(final[f"NC1_{level}"]) <= 1e-12, level
        assert float(final[f"NC2_OF_{level}"]) <= 1e-6, level
        assert float(final[f"NC3_OF_{level}"]) <= 1e-6, level
    assert ds.attrs["levels"] == [f"H{l}" for l in range(1, depth + 1)]
    # balance: every factor's nonzero squared singular values are ρ_L s*^{2/m} / λ (docs/math.md#deep-ufm)
    rho = (8 * 0.01 * np.prod(lam_W)) ** (1 / (depth + 1))
    for l, (w, lam) in enumerate(zip(W, lam_W), start=1):
        top = np.linalg.svd(w, compute_uv=False)[:3] ** 2
        np.testing.assert_allclose(top, rho * s_star ** (2 / (depth + 1)) / lam, rtol=1e-8, err_msg=f"W{l}")


def test_spec_reference_value():
    """docs/math.md#deep-ufm: K=3, n=8, d=8, L=3, every λ = 2e-3, init 0.3, lr 0.1 -> 0.0201303427822."""
    config = Config(model="deep", depth=3, K=3, n=8, d=8, lambda_W=2e-3, lambda_H=2e-3, init_scale=0.3, iters=75000, log_every=75000)
    value = float(solve(config, metrics="batched")["objective"][-1])
    assert value == pytest.approx(0.0201303427822, abs=5e-14)
    assert value == pytest.approx(closed_form(3, 8, 2e-3, [2e-3] * 3, 3)[1], rel=1e-12)


def test_deep_sweep_is_the_separate_solves():
    base = Config(model="deep", depth=3, activation="relu", K=3, n=4, d=6, iters=600, log_every=300)
    sweep = Sweep.from_mapping({"seed": [0, 1], "lam": {"fields": ["lambda_W", "lambda_H"], "values": [0.01, 0.02]}})
    ds = solve_sweep(base, sweep)
    one = solve(dataclasses.replace(base, seed=1, lambda_W=0.02, lambda_H=0.02), metrics="batched")
    np.testing.assert_allclose(ds["objective"].sel(seed=1, lam=0.02).values, one["objective"].values, rtol=1e-13)
    assert ds["W3"].dims == ("seed", "lam", "class", "feature3")
    assert ds.attrs["levels"] == ["H1", "Z2", "H2", "Z3", "H3"]
    assert ds["dead_samples_H3"].dims == ("seed", "lam") and ds["dead_first_iteration_H2"].dtype == np.int64
    assert np.isnan(with_theory(ds)["theory_objective"]).all()  # no closed form for deep ReLU: no gap claimed
    assert theory.hooks(base).minimizer(base)["available"] is False


def test_deep_from_the_command_line(tmp_path, capsys):
    config = tmp_path / "deep.yaml"
    config.write_text("{model: deep, depth: 2, d: [5, 6], lambda_W: [0.02, 0.01], lambda_H: 0.02, K: 3, n: 4, iters: 6000, log_every: 2000}")
    out = tmp_path / "deep.zarr"
    assert main(["ufm", "--config", str(config), "--out", str(out)]) == 0
    ds = with_theory(open_dataset(out))
    assert ds.attrs["config"]["d"] == [5, 6] and ds.attrs["config"]["depth"] == 2
    assert abs(float(ds["objective_gap"][-1])) <= 1e-6
    assert "objective 0." in capsys.readouterr().out
