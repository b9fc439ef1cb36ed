"""UFM report helpers on real (short) UFM runs: the phase-diagram threshold and the figure data."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from deepcollapse.reports import figures, ufm_plots


@pytest.mark.parametrize("K, n", [(4, 50), (10, 20)])
def test_plain_threshold_is_where_K_sqrt_n_lambda_reaches_one(K, n):
    # λ_W = λ_H = λ: c = K √(n λ_W λ_H) = K √n λ < 1 (Theorem 3.1), so the threshold is 1/(K √n)
    base = {"model": "plain", "K": K, "n": n, "d": 2 * K}
    found = ufm_plots.threshold_of(base, fields=("lambda_W", "lambda_H"), lo=1e-4, hi=1.0)
    assert found == pytest.approx(1 / (K * math.sqrt(n)), rel=1e-9)


def test_extended_threshold_is_where_K_rho_reaches_two_to_the_minus_four_thirds():
    # all three λ equal: K ρ = K (n λ³)^{1/3} = K n^{1/3} λ = 2^{-4/3} (Theorem 4.1)
    base = {"model": "extended", "K": 4, "n": 50}
    found = ufm_plots.threshold_of(base, fields=("lambda_W1", "lambda_W2", "lambda_H1"), lo=1e-4, hi=1.0)
    assert found == pytest.approx(2 ** (-4 / 3) / (4 * 50 ** (1 / 3)), rel=1e-9)


def test_regularized_bias_regime_changes_at_c_over_one_minus_c():
    # docs/math.md#ufm-regularized-bias: the simplex ETF of Theorem 3.2 for λ_b <= c/(1-c) = 0.164716 at the paper's defaults
    base = {"model": "plain", "bias": "regularized", "lambda_b": 0.5, "K": 4, "n": 50}
    label, regime = ufm_plots.regime_of("lambda_b")
    found = ufm_plots.threshold_of(base, fields=("lambda_b",), lo=1e-3, hi=10.0, regime=regime)
    c = 4 * math.sqrt(50 * 0.005 * 0.005)
    assert found == pytest.approx(c / (1 - c), rel=1e-9) and found == pytest.approx(0.164716, abs=1e-6)


def test_no_threshold_inside_a_range_on_one_side():
    base = {"model": "plain", "K": 4, "n": 50}
    assert ufm_plots.threshold_of(base, fields=("lambda_W", "lambda_H"), lo=1e-4, hi=1e-2) is None


def test_trajectory_and_phase_figures_plot_the_run_data(tmp_path):
    from deepcollapse.ufm import Config, Sweep, solve_sweep
    from deepcollapse.ufm.joined import with_theory

    ds = solve_sweep(
        Config(model="plain", iters=300, log_every=100),
        Sweep.from_mapping({"lambda": {"fields": ["lambda_W", "lambda_H"], "values": [0.005, 0.05]}}),
    )
    fig = ufm_plots.trajectory_figure(ds, title="sweep")
    figures.save(fig, "trajectory", directory=tmp_path, formats=("png",))
    plt.close(fig)
    rows = [r for r in figures.figure_rows(fig) if r["kind"] == "line"]
    # three logged iterations after 0 per sweep point, in the gap panel and each metric panel
    gap = [r for r in rows if r["panel"].startswith("objective gap")]
    assert len(gap) == 2 * 3
    joined = with_theory(ds)  # the figure joins the closed forms itself: the store holds none
    assert "objective_gap" not in ds
    np.testing.assert_allclose(sorted(r["y"] for r in gap), sorted(np.abs(joined["objective_gap"].isel(iteration=slice(1, None)).values.ravel())))
    x, y = ufm_plots.closed_form_curve(ds.attrs["config"], fields=("lambda_W", "lambda_H"), lo=0.005, hi=0.05, points=5)
    np.testing.assert_allclose([y[0], y[-1]], joined["theory_objective"].values, rtol=1e-12)
    fig = ufm_plots.phase_figure(ds, dim="lambda", threshold=0.0354, title="phase", curve=(x, y))
    figures.save(fig, "phase", directory=tmp_path, formats=("png",))
    plt.close(fig)
    final = ds.isel(iteration=-1)
    finite = sum(int(np.isfinite(final[v].values).sum()) for v in ("objective", "norm_H", "NC2_ETF_H", "NC2_OF_H"))
    assert finite >= 4  # the objective and ‖H‖ at both points; NC2 where the means are not zero
    assert figures.measured_points(tmp_path / "phase.csv") == finite
    table = ufm_plots.final_rows({"sweep": ds})
    assert [r["run"] for r in table] == ["sweep [λ=0.005]", "sweep [λ=0.05]"]
    assert table[1]["GD objective"] == pytest.approx(float(ds["objective"].isel(iteration=-1, **{"lambda": 1})))


# ------------------------------------------------------------------ no metric where it is undefined
@pytest.fixture(scope="module")
def vanishing():
    """A λ sweep across the plain threshold: at λ = 2 (c = 12) GD drives H to ~1e-89, where NC is rounding noise."""
    from deepcollapse.ufm import Config, Sweep, solve_sweep

    config = Config(model="plain", bias="none", K=3, n=4, d=6, lambda_W=0.05, lambda_H=0.05, lr=0.2, iters=400, log_every=100)
    return solve_sweep(config, Sweep.from_mapping({"lambda": {"fields": ["lambda_W", "lambda_H"], "values": [0.05, 2.0]}}))


def test_the_zero_solution_shows_its_norm_and_no_nc_value(vanishing):
    from deepcollapse.reports import claims

    final = vanishing.isel(iteration=-1)
    assert float(final["norm_H"].sel({"lambda": 2.0})) < 1e-50 < float(final["norm_H"].sel({"lambda": 0.05}))
    rows = {row["run"]: row for row in ufm_plots.final_rows({"s": vanishing})}
    zero, fine = rows["s [λ=2]"], rows["s [λ=0.05]"]
    assert {zero[f"{k} (H)"] for k in ("NC1", "NC2_ETF", "NC2_OF", "NC3_OF")} == {"H → 0"} and zero["‖H‖_F"] < 1e-50
    assert all(isinstance(fine[f"{k} (H)"], float) for k in ("NC1", "NC2_OF"))
    fig = ufm_plots.phase_figure(vanishing, dim="lambda", threshold=None, title="t", outcomes=claims.outcomes(vanishing))
    _, _, nc2 = fig.get_axes()[:3]
    drawn = [line.get_xydata() for line in nc2.get_lines() if line.get_gid() != figures.REFERENCE and "NC2" in line.get_label()]
    assert drawn and all(np.isnan(xy[xy[:, 0] == 2.0, 1]).all() and np.isfinite(xy[xy[:, 0] == 0.05, 1]).all() for xy in drawn)
    assert any("no NC value drawn" in line.get_label() for line in fig.get_axes()[1].get_lines())  # marked on the norm panel
    plt.close(fig)
    assert "10^{-6}" in ufm_plots.zero_note("H2") and "H_2 \\to 0" in ufm_plots.zero_note("H2")


def test_a_gd_end_on_a_rank_r_stationary_value_is_named():
    from deepcollapse.ufm import Config, theory
    from deepcollapse.config import from_mapping

    base = {"model": "extended", "activation": "linear", "K": 4, "n": 50, "d1": 20, "d2": 20,
            "lambda_W1": 5e-3, "lambda_W2": 5e-3, "lambda_H1": 5e-3}
    fields = ("lambda_W1", "lambda_W2", "lambda_H1")
    levels = theory.minimizer(from_mapping(Config, base))["rank_levels"]
    assert ufm_plots.stationary_rank(base, fields=fields, value=5e-3, objective=levels[3] * (1 + 3e-11)) == (3, pytest.approx(3e-11, rel=1e-3))
    assert ufm_plots.stationary_rank(base, fields=fields, value=5e-3, objective=levels[2])[0] == 2
    assert ufm_plots.stationary_rank(base, fields=fields, value=5e-3, objective=0.45) is None  # between two ranks
    assert ufm_plots.stationary_rank(base, fields=fields, value=5e-3, objective=levels[4]) is None  # the minimum itself


def test_a_run_stopped_on_its_way_to_the_predicted_frame_says_so():
    from deepcollapse.reports import claims

    level = claims.Level("H2", 0.1, 0.01, 0.05, math.nan, 1.0, 4, claims.NEITHER, False, earlier=(100_000, 0.2, 0.3))
    assert "heading to the predicted orthogonal frame when GD stopped: NC2_OF fell from 0.3 (iteration 100,000) to 0.05" in level.sentence(claims.OF)
    assert "heading" not in level.sentence()  # a converged run (no prediction passed) says nothing of the way
    rising = claims.Level("H2", 0.1, 0.01, 0.05, math.nan, 1.0, 4, claims.NEITHER, False, earlier=(100_000, 0.2, 0.01))
    assert "heading" not in rising.sentence(claims.OF)  # moving away from the OF is not heading to it


def test_the_final_table_splits_into_a_run_table_and_a_level_table(vanishing):
    rows = ufm_plots.final_rows({"s": vanishing})
    by_run, by_level = ufm_plots.split_rows(rows)
    assert [r["run"] for r in by_run] == ["s [λ=0.05]", "s [λ=2]"] and "NC1 (H)" not in by_run[0] and "GD objective" in by_run[0]
    assert [(r["run"], r["level"]) for r in by_level] == [("s [λ=0.05]", "H"), ("s [λ=2]", "H")]
    assert by_level[1]["NC1"] == "H → 0" and by_level[1]["‖·‖_F"] == rows[1]["‖H‖_F"]
    assert by_level[0]["NC2_OF"] == rows[0]["NC2_OF (H)"]


def test_a_run_on_a_dead_sample_plateau_is_not_said_to_be_heading_anywhere():
    from deepcollapse.reports import claims

    level = claims.Level("H2", 0.1, 0.01, 0.05, math.nan, 1.0, 4, claims.NEITHER, False, earlier=(100_000, 0.2, 0.3))
    outcome = lambda dead: claims.Outcome("seed=0", 200_000, 2e-2, claims.ABOVE, (level,), {"H2": claims.OF}, dead)
    assert "heading to the predicted orthogonal frame" in outcome({"H2": (0, -1)}).sentence()
    plateau = outcome({"H2": (1, 4_400)})
    assert plateau.kind == claims.ABOVE_DEAD and "heading" not in plateau.sentence() and "dead at H2" in plateau.sentence()
