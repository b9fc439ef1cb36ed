"""Deep UFM theory: the deep linear MSE closed form (any depth) and the certified reduced K×K solver.

Reference values are the math document's (deep UFM section and the extended-CE correction); the
closed forms of depth 1 and 2 are checked against the paper's theorems as implemented in
`ufm.theory`; the reduced solver is checked against the closed form where one exists (MSE).
"""

import math

import numpy as np
import pytest

from deepcollapse.ufm import Config, deep_theory, reduced, theory

from tests.support.ufm_helpers import assert_printed


def lam_all(lam, depth):
    return [lam] * depth


# ----------------------------------------------------------------------------------- closed form
@pytest.mark.parametrize("lam", [1e-3, 5e-3, 2e-2, 0.2])
def test_depth_one_is_theorem_3_1(lam):
    deep = deep_theory.deep_linear_mse(4, 50, lam, [lam])
    plain = theory.minimizer(Config(K=4, n=50, d=20, lambda_W=lam, lambda_H=lam))
    assert abs(deep["objective"] - plain["objective"]) <= 1e-14
    assert deep["zero"] == plain["zero"]
    assert abs(deep["s_star"] - plain["x_star"]) <= 1e-14
    if not plain["zero"]:
        # W = κ H̄ᵀ and H̄ᵀH̄ = (x/κ) I
        assert abs(deep["kappa_L"] - plain["kappa"]) <= 1e-12 * plain["kappa"]
        assert abs(deep["means_gram"][0] - plain["means_gram_scale"]) <= 1e-14


@pytest.mark.parametrize("lam", [5e-3, 0.01, 0.02, 0.026, 0.028, 0.03, 0.04])
def test_depth_two_is_theorem_4_1(lam):
    deep = deep_theory.deep_linear_mse(4, 50, lam, [lam, lam])
    ext = theory.minimizer(Config(model="extended", K=4, n=50, d1=20, d2=20, lambda_W1=lam, lambda_W2=lam, lambda_H1=lam))
    assert deep["threshold"] == pytest.approx(theory.EXTENDED_THRESHOLD, abs=1e-15)
    assert deep["zero"] == ext["zero"]
    assert abs(deep["objective"] - ext["objective"]) <= 1e-14
    if ext["quartic_root_exists"]:
        assert abs(deep["s_local"] - ext["x_local"]) <= 1e-14
        assert abs(deep["local_objective"] - ext["local_objective"]) <= 1e-14
        assert np.allclose(deep["rank_levels"], ext["rank_levels"], rtol=0, atol=1e-14)
    if not ext["zero"]:
        # balance: W1 = the first weight, W2 the second; H̄1 and H̄2 = W1 H̄1 grams
        assert deep["weight_sq"] == pytest.approx([ext["b_sq"], ext["a_sq"]], rel=1e-13)
        assert deep["means_gram"] == pytest.approx([ext["c1_sq"], ext["b_sq"] * ext["c1_sq"]], rel=1e-13)


def test_reference_value_depth_three():
    info = deep_theory.deep_linear_mse(3, 8, 2e-3, lam_all(2e-3, 3))
    assert_printed(info["objective"], "0.0201303427822")
    assert info["zero"] is False


def test_extended_rank_levels_reference():
    levels = deep_theory.rank_levels(4, 4 * deep_theory.rho(50, 5e-3, [5e-3, 5e-3]), 2)
    for value, printed in zip(levels, ["0.5", "0.40193", "0.30387", "0.20580", "0.10774"]):
        assert_printed(value, printed)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5, 7])
def test_threshold_is_where_the_root_ties_with_zero(depth):
    tau = deep_theory.threshold(depth)
    s = deep_theory.largest_root(tau, depth)
    assert abs(s - (depth - 1) / depth) <= 1e-12
    assert abs(deep_theory.scalar_objective(s, tau, depth) - 0.5) <= 1e-13
    # below: the root beats zero; above: zero wins (while a root still exists)
    below, above = tau * (1 - 1e-6), tau * (1 + 1e-6)
    assert deep_theory.scalar_objective(deep_theory.largest_root(below, depth), below, depth) < 0.5
    if depth > 1:
        assert deep_theory.scalar_objective(deep_theory.largest_root(above, depth), above, depth) > 0.5
    assert deep_theory.root_limit(depth) >= tau


def test_largest_root_solves_the_stationarity_equation():
    for depth in (2, 3, 4, 5):
        for q in np.linspace(0.0, deep_theory.root_limit(depth), 9)[1:-1]:
            s = deep_theory.largest_root(q, depth)
            p = deep_theory.exponent(depth)
            assert abs((1 - s) * s**p - q) <= 1e-14
            assert s >= p / (1 + p)  # the largest of the two roots
        assert deep_theory.largest_root(deep_theory.root_limit(depth) * 1.01, depth) is None


@pytest.mark.parametrize(
    "K, n, printed",
    [(4, 10, ["0.04605", "0.03826", "0.03318"]), (10, 5, ["0.02321", "0.01820", "0.01525"])],
)
def test_lambda_thresholds_of_the_low_rank_study(K, n, printed):
    for depth, value in zip((2, 3, 4), printed):
        assert_printed(deep_theory.lambda_threshold(K, n, depth), value)


def _balanced_objective(K, n, lambda_H1, lambda_Ws, info):
    """The deep objective at an explicit balanced, collapsed point built from the closed form."""
    rng = np.random.default_rng(0)
    depth = len(lambda_Ws)
    dims = [K + 3 + l for l in range(depth + 1)]  # d_1 .. d_L, widths ≥ K
    Q = [np.linalg.qr(rng.standard_normal((d, K)))[0] for d in dims]  # orthonormal K-frames
    means = math.sqrt(info["means_gram"][0]) * Q[0]  # d_1 × K
    weights = [math.sqrt(w) * Q[l + 1] @ Q[l].T for l, w in enumerate(info["weight_sq"][:-1])]
    weights.append(math.sqrt(info["weight_sq"][-1]) * Q[depth - 1].T)  # K × d_L
    H1 = np.repeat(means, n, axis=1)
    out = H1
    for W in weights:
        out = W @ out
    Y = np.repeat(np.eye(K), n, axis=1)
    value = np.sum((out - Y) ** 2) / (2 * K * n) + lambda_H1 / 2 * np.sum(H1**2)
    return value + sum(lam / 2 * np.sum(W**2) for lam, W in zip(lambda_Ws, weights))


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_balanced_scales_realise_the_closed_form_value(depth):
    lambda_Ws = [2e-3 * (1 + 0.3 * l) for l in range(depth)]  # unequal λ per layer
    info = deep_theory.deep_linear_mse(3, 8, 1.5e-3, lambda_Ws)
    assert not info["zero"]
    assert abs(_balanced_objective(3, 8, 1.5e-3, lambda_Ws, info) - info["objective"]) <= 1e-14


# ----------------------------------------------------------------------------------- reduced solver
def test_reduced_reference_values_K4():
    rho = deep_theory.rho(50, 5e-3, [5e-3, 5e-3])
    sol = reduced.solve(4, rho, 3, starts=12)
    assert sol.structure == "cross-polytope" and sol.rank == 2 and sol.source == "candidate"
    assert_printed(sol.value, "0.257330175266071")
    assert_printed(sol.candidates["cross-polytope"]["scale"], "3.973456775711")
    assert_printed(sol.candidates["simplex ETF"]["value"], "0.258691778522900")
    # the multi-start ends at both basins (the ETF is a local minimum), nowhere lower
    assert min(sol.multistart) >= sol.value - 1e-9
    assert any(abs(v - 0.2586917785229) < 1e-9 for v in sol.multistart)
    # the singular values: 2t (K/2 times), 0
    assert np.allclose(sorted(sol.singular_values)[-2:], 2 * 3.973456775711, rtol=1e-12)


def test_reduced_etf_value_is_the_extended_ce_scalar_problem():
    """The ETF candidate is x P_K with x from the one-dimensional problem of the plain scalar code."""
    for K, lam in [(3, 5e-3), (4, 5e-3), (5, 1e-3)]:
        rho = deep_theory.rho(50, lam, [lam, lam])
        t, value = reduced._scale_minimum(reduced.patterns(K)["simplex ETF"], rho, 3, "ce")
        x, expected = theory._ce_extended_scalar(K, rho)
        assert abs(value - expected) <= 1e-14 and abs(t * K / (K - 1) - x) <= 1e-9 * x


@pytest.mark.parametrize(
    "K, k_rho, structure",
    [
        (3, 0.3, "simplex ETF"),
        (3, 0.55, "antipodal pairs + origin"),
        (3, 0.60, "zero"),
        (4, 0.040, "simplex ETF"),
        (4, 0.055, "cross-polytope"),
        (6, 0.3, "cross-polytope"),
        (10, 0.15, "cross-polytope"),
        (10, 0.30, "4-simplex edge midpoints"),
    ],
)
def test_reduced_structures_depth_two(K, k_rho, structure):
    """Which structure wins (the spec's thresholds: K=3 0.520452 / 0.582559, K=4 0.0470420, K=10 0.233407)."""
    sol = reduced.solve(K, k_rho / K, 3, starts=10)
    assert sol.structure == structure, (sol.structure, sol.candidates, sol.multistart)
    assert min(sol.multistart) >= sol.value - 1e-9


def test_reduced_crossovers_depth_two():
    """The spec's ETF → cross-polytope crossover for K = 4 at Kρ = 0.0470420, to its printed digits."""
    from scipy.optimize import brentq

    def diff(q):
        pats = reduced.patterns(4)
        return reduced._scale_minimum(pats["simplex ETF"], q / 4, 3, "ce")[1] - reduced._scale_minimum(pats["cross-polytope"], q / 4, 3, "ce")[1]

    assert_printed(brentq(diff, 0.04, 0.055, xtol=1e-12), "0.0470420")


@pytest.mark.parametrize("depth, K, lam", [(3, 4, 5e-3), (4, 3, 4e-3), (3, 4, 0.045)])
def test_reduced_mse_reproduces_the_closed_form(depth, K, lam):
    """With MSE the multi-start must find the closed form (full rank s*·I, or zero above τ_L)."""
    info = deep_theory.deep_linear_mse(K, 10, lam, lam_all(lam, depth))
    sol = reduced.solve(K, info["rho"], depth + 1, kind="mse", starts=8)
    assert abs(sol.value - info["objective"]) <= 1e-10
    if not info["zero"]:
        assert np.allclose(sol.singular_values, info["s_star"], atol=1e-6)


def test_classify_is_invariant_under_relabelling_and_scale():
    rng = np.random.default_rng(1)
    for K, name in [(4, "cross-polytope"), (6, "regular hexagon"), (10, "4-simplex edge midpoints"), (5, "simplex ETF")]:
        pattern = reduced.patterns(K)[name]
        perm = np.eye(K)[rng.permutation(K)]
        assert reduced.classify(2.7 * perm @ pattern @ perm.T) == name
    assert reduced.classify(np.zeros((4, 4))) == "zero"
    assert reduced.classify(0.9 * np.eye(4)) == "orthogonal frame"
    assert reduced.classify(np.diag([1.0, 0.5, 0, 0])) == "rank-2 (unnamed)"


# ----------------------------------------------------------------------------------- agreement reasons
def test_reason_column_names_each_case_from_the_data():
    from deepcollapse.ufm.agreement import reason

    deep = theory.minimizer(Config(model="deep", depth=3, K=4, n=10, d=8, lambda_W=5e-3, lambda_H=5e-3))
    ce = theory.minimizer(Config(model="extended", loss="ce"))
    quiet = dict(grad_norm=1e-14, last_decrease=0.0, dead=0)
    assert reason(deep, deep["objective"] * (1 + 1e-9), **quiet)[0] == "agrees"
    assert reason(deep, deep["objective"] * (1 - 1e-4), **quiet)[0] == "closed form refuted"
    why, detail = reason(deep, deep["rank_levels"][2], **quiet)
    assert why == "rank-r stationary point" and detail.startswith("rank 2")
    assert reason(deep, 0.5, **quiet) == ("rank-r stationary point", "rank 0 (L_r = 0.5)")
    why, detail = reason(ce, 0.2586917785229, **quiet)
    assert why == "local minimum" and "simplex ETF" in detail
    assert reason(ce, 0.3, grad_norm=1e-3, last_decrease=0.0, dead=0)[0] == "not converged in the iterations given"
    assert reason(ce, 0.3, grad_norm=1e-14, last_decrease=1e-5, dead=0)[0] == "not converged in the iterations given"
    assert reason(ce, 0.3, **quiet)[0] == "unexplained"
    relu = theory.minimizer(Config(model="extended", activation="relu"))
    assert reason(relu, 0.1100453100527, grad_norm=1e-5, last_decrease=0.0, dead=1)[0] == "ReLU dead sample"
    none = theory.minimizer(Config(model="deep", depth=3, activation="relu", K=4, n=10, d=8))
    assert reason(none, 0.1, **quiet)[0] == "no closed form" and none["dnc_objective"] > 0


# ----------------------------------------------------------------------------------- GD lands on it
@pytest.mark.parametrize("depth", [3, 4])
def test_gd_reaches_the_deep_linear_closed_form(depth):
    """Plain GD (init 0.3) ends on the closed form: objective, Z = s*I, an orthogonal frame at every level."""
    from deepcollapse import ufm
    from deepcollapse.ufm import agreement

    config = Config(model="deep", depth=depth, K=3, n=4, d=6, lambda_W=5e-3, lambda_H=5e-3, init_scale=0.3, iters=30000, log_every=10000)
    (row,) = agreement.rows(ufm.solve(config), run="deep")
    assert row["reason"] == "agrees" and abs(row["objective_rel_gap"]) <= 1e-12
    levels = [f"structure:H{l}bar_gram" for l in range(1, depth + 1)]
    assert all(row[key] <= 1e-11 for key in levels + ["structure:Z_singular_values", "structure:top_WWt"])
    assert row["max_identity_residual"] <= 1e-11
    for l in range(1, depth + 1):  # deep neural collapse: NC1 ~ 0 and OF at every level
        assert row[f"NC1_H{l}"] <= 1e-20 and row[f"NC2_OF_H{l}"] <= 1e-11
