"""The low-rank-bias study: its grid, its DNC values, its per-run observables, its command and page inputs."""

import json
import math

import numpy as np
import pytest

from deepcollapse.cli import main
from deepcollapse.errors import InputError
from deepcollapse.store import open_dataset
from deepcollapse.ufm import Config, deep_theory, lowrank, lowrank_theory, reduced

TINY = {"depths": [1, 3], "sizes": [{"K": 3, "n": 4, "d": 5}], "lambda_ratios": [0.5, 1.5], "activations": ["linear", "relu"],
        "losses": ["mse", "ce"], "seeds": [0, 1], "iters": 4000, "log_every": 2000}


@pytest.fixture(scope="module")
def tiny():
    return lowrank_theory.with_theory(lowrank.run(lowrank.Study.from_mapping(TINY)))


def test_study_refuses_bad_keys_and_values():
    for mapping, fragment in [({"bogus": 1}, "unknown key 'bogus'"), ({"activations": ["tanh"]}, "'tanh'"),
                              ({"losses": ["hinge"]}, "'hinge'"), ({"lambda_ratios": [0]}, r"lambda_ratios\[0\] must be a positive number"), ({"sizes": [{"K": 1, "n": 2, "d": 3}]}, r"sizes\[0\].K must be an integer >= 2"), ({"sizes": [{"K": 3}]}, r"sizes\[0\].n is missing"), ({"depths": [0]}, ">= 1")]:
        with pytest.raises(InputError, match=fragment):
            lowrank.Study.from_mapping(mapping)


def test_lambda_grid_is_relative_to_the_collapse_threshold():
    study = lowrank.Study.from_mapping(TINY)
    size = study.sizes[0]
    lams = lowrank.lambdas_of(study, 3, size)
    for ratio, lam in zip(study.lambda_ratios, lams):
        q = 3 * deep_theory.rho(size.n, lam, [lam] * 3)
        assert q == pytest.approx(ratio * deep_theory.threshold(3), rel=1e-13)


def test_dnc_values(tiny):
    for c in tiny["case"].values:
        case = tiny.sel(case=c)
        L, act, loss = int(case["depth"]), str(case["activation"].values), str(case["loss"].values)
        for r, lam in enumerate(case["lambda"].values):
            dnc = float(case["dnc_objective"].values[r])
            if loss == "mse":  # the deep linear closed form, for ReLU too
                assert dnc == deep_theory.dnc_objective(3, 4, lam, [lam] * L)
            elif act == "relu":
                assert math.isnan(dnc)
            else:  # the simplex-ETF candidate of the reduced problem (L = 1: the convex plain CE value)
                rho = deep_theory.rho(4, lam, [lam] * L)
                assert dnc == pytest.approx(reduced._scale_minimum(reduced.patterns(3)["simplex ETF"], rho, L + 1, "ce")[1], rel=1e-14)
    # above the threshold (ratio 1.5) the MSE optimum is zero and GD from init 0.3 (L = 1: convex) reaches 1/2
    mse_l1 = tiny.sel(case=[c for c in tiny["case"].values if int(tiny["depth"][c]) == 1 and str(tiny["loss"].values[c]) == "mse"
                            and str(tiny["activation"].values[c]) == "linear"][0])
    assert float(mse_l1["optimum"].values[1]) == 0.5
    assert np.allclose(mse_l1["objective"].values[1], 0.5, atol=1e-6)


def test_per_run_observables(tiny):
    assert set(tiny["reason"].values.ravel()) <= set(__import__("deepcollapse.ufm.agreement", fromlist=["REASONS"]).REASONS)
    depth = tiny["depth"].values
    ranks = tiny["means_rank"].values
    for c in tiny["case"].values:
        assert (ranks[c, :, :, depth[c]:] == -1).all()  # no such level
        assert (ranks[c, :, :, : depth[c]] >= 0).all() and (ranks[c, :, :, : depth[c]] <= 3).all()
    rel = tiny["rel_to_dnc"].values
    assert np.array_equal(tiny["below_dnc"].values, rel < -lowrank_theory.BELOW_RTOL)
    # linear MSE: the closed form is the global minimum, GD never ends below it
    linear_mse = [c for c in tiny["case"].values if str(tiny["activation"].values[c]) == "linear" and str(tiny["loss"].values[c]) == "mse"]
    assert not tiny["below_dnc"].values[linear_mse].any()
    table = lowrank_theory.table(tiny)
    assert len(table) == tiny.sizes["case"] * tiny.sizes["ratio"]
    assert set(table["below_dnc"]) <= {0.0, 0.5, 1.0}


def test_page_draws_only_panels_with_a_dnc_value_and_says_why_relu_ce_is_missing(tiny):
    """ReLU with CE has no DNC value: no empty panel for it, and a sentence saying where its runs are."""
    import matplotlib

    matplotlib.use("Agg")
    from deepcollapse.reports import lowrank_plots

    fig = lowrank_plots.figure(tiny)
    drawn = [ax for ax in fig.axes if ax.axison]
    assert sorted(ax.get_title() for ax in drawn) == ["linear, CE", "linear, MSE", "relu, MSE"]
    for ax in drawn:  # every drawn panel has a point of every (depth, K) case it names
        assert any(len(line.get_xdata()) for line in ax.get_lines() if not line.get_label().startswith("_"))
    sentences = lowrank_plots.findings(lowrank_theory.table(tiny), seeds=tiny.sizes["seed"])
    relu_ce = [s for s in sentences if s.startswith("ReLU with cross-entropy")]
    n_cases = sum(1 for c in tiny["case"].values if str(tiny["activation"].values[c]) == "relu" and str(tiny["loss"].values[c]) == "ce")
    assert len(relu_ce) == 1 and f"its {n_cases * tiny.sizes['ratio'] * tiny.sizes['seed']} runs are not plotted" in relu_ce[0]


def test_command_writes_the_study_and_refuses_bad_input(tmp_path, capsys, monkeypatch):
    import io

    config = dict(TINY, depths=[2], activations=["relu"], losses=["mse"], iters=200, log_every=100)
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(config)))
    out = tmp_path / "study.zarr"
    assert main(["lowrank", "--config", "-", "--out", str(out)]) == 0
    stored = open_dataset(out)
    # what GD produced: the DNC values and reasons are the theory side's (a closed-form fix must not rerun the study)
    assert not set(lowrank_theory.THEORY_VARIABLES) & set(stored.variables) and "below_rtol" not in stored.attrs
    assert "DNC" not in capsys.readouterr().out
    ds = lowrank_theory.with_theory(stored)
    assert ds.attrs["study"]["depths"] == [2] and "provenance" in ds.attrs
    assert str(ds["reason"].values[0, 0, 0]) in {"agrees", "not converged in the iterations given", "ReLU dead sample", "rank-r stationary point", "unexplained", "closed form refuted", "local minimum"}
    capsys.readouterr()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"depths": [0]})))
    assert main(["lowrank", "--config", "-", "--out", str(tmp_path / "bad.zarr")]) == 2
    assert not (tmp_path / "bad.zarr").exists()
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cross_entropy_findings_count_one_layer_apart_and_name_the_optimum_per_depth():
    """L = 1 (plain UFM: the ETF is the global minimum) is not pooled with L ≥ 2 (low-rank bias)."""
    import pandas as pd

    from deepcollapse.reports import lowrank_plots

    def row(depth, below, structure):
        return {"K": 4, "activation": "linear", "loss": "ce", "depth": depth, "ratio": 0.5, "below_dnc": below,
                "optimum_structure": structure, "best_rel_to_dnc": -0.1 * below, "reasons": "agrees ×2"}

    table = pd.DataFrame([row(1, 0.0, "simplex ETF"), row(2, 0.5, "cross-polytope"), row(3, 1.0, "cross-polytope")])
    said = lowrank_plots.findings(table, seeds=2)
    assert "K = 4, linear, CE, L = 1 (the plain UFM): 0 of 2 runs below the simplex-ETF value (its global minimum: none expected)." in said
    deeper = [s for s in said if s.startswith("K = 4, linear, CE, L ≥ 2")]
    assert deeper == ["K = 4, linear, CE, L ≥ 2: GD ends below the simplex-ETF (DNC) value in 3 of 4 runs; the certified optimum "
                      "of the reduced problem: cross-polytope at every depth (the simplex ETF is the global minimum at none of these points)."]
    table.loc[2, "optimum_structure"] = "simplex ETF"
    deeper = [s for s in lowrank_plots.findings(table, seeds=2) if s.startswith("K = 4, linear, CE, L ≥ 2")]
    assert deeper[0].endswith("L = 2: cross-polytope; L = 3: simplex ETF.")
    table.loc[0, "below_dnc"] = 0.5
    assert any("REFUTE" in s for s in lowrank_plots.findings(table, seeds=2))


def test_relu_findings_name_only_the_points_where_gd_ended_below_dnc():
    import pandas as pd

    from deepcollapse.reports import lowrank_plots

    rows = [(3, 0.5, 0.0), (4, 0.5, 0.5), (4, 0.8, 0.0), (5, 1.2, 0.0)]
    table = pd.DataFrame([{"K": 10, "activation": "relu", "loss": "mse", "depth": L, "ratio": r, "below_dnc": b,
                           "best_rel_to_dnc": -0.03 if b else 0.01, "reasons": "no closed form ×2"} for L, r, b in rows])
    said = [s for s in lowrank_plots.findings(table, seeds=2) if "L ≥ 3" in s]
    assert said == ["K = 10, ReLU, MSE, L ≥ 3: GD ends below the DNC value in 1 of 8 runs (lowest: -3.00% relative to DNC); "
                    "this reproduces the literature's result that deep neural collapse is not always optimal for L ≥ 3 with ReLU; "
                    "it is not optimal at L = 4 (λ/λ_th 0.5)."]
    table["below_dnc"] = 0.0
    said = [s for s in lowrank_plots.findings(table, seeds=2) if "L ≥ 3" in s]
    assert "does NOT reproduce" in said[0] and "0 of 8" in said[0]


def test_a_depth_one_model_runs_once_as_the_plain_ufm_it_is():
    """L = 1 has no activation: its ReLU case would repeat the linear one (and has its DNC value)."""
    study = lowrank.Study.from_mapping(TINY)
    assert all(not (L == 1 and a == "relu") for L, _, a, _ in study.cases())
    assert {(L, a) for L, _, a, _ in study.cases()} == {(1, "linear"), (3, "linear"), (3, "relu")}
    only_relu = lowrank.Study.from_mapping(dict(TINY, activations=["relu"]))
    assert {(L, a) for L, _, a, _ in only_relu.cases()} == {(1, "relu"), (3, "relu")}
    for loss in ("mse", "ce"):
        linear, relu = (lowrank.config_of(study, 1, study.sizes[0], a, loss, 0.01) for a in ("linear", "relu"))
        assert lowrank_theory.dnc_value(relu) == lowrank_theory.dnc_value(linear) and math.isfinite(lowrank_theory.dnc_value(relu))
    assert math.isnan(lowrank_theory.dnc_value(lowrank.config_of(study, 3, study.sizes[0], "relu", "ce", 0.01)))
