"""The literature page's rows (deepcollapse.reports.literature): every row computed on the demo-size
Theorem-1 map and on a real tiny low-rank study, and each verdict following its written rule.

The rules are checked by feeding each row the inputs that must flip its verdict (a map with a point
that contradicts the theorem, a map with none inside it, a study with runs at K = 2…5), not by
repeating the rows' numbers: the numbers are checked against independent references (the printed
GK25 values, the plain UFM's Theorem 3.1 at depth 1, the stated SRG/DNC signs).
"""

from __future__ import annotations

import copy

import pytest

from deepcollapse.config import load_yaml
from deepcollapse.reports import literature as lit
from deepcollapse.ufm import Config, lowrank, papers, papers_theory, theorem1, theory
from tests.support import ROOT
from tests.support.ufm_helpers import assert_printed


def gk25_applies(K: int, L: int) -> bool:
    # GK25 Thm 1's hypotheses, restated here (not imported from the module under test)
    return (K >= 4 and L >= 3) or (K >= 6 and L == 2)


@pytest.fixture(scope="module")
def demo_map():
    """The Theorem-1 map at the demo's size (workflow/demo.yaml ufm.studies.theorem1: 8 points, seconds)."""
    study = theorem1.Study.from_mapping(load_yaml(ROOT / "workflow" / "demo.yaml", key="ufm.studies.theorem1"))
    return theorem1.run(study)


@pytest.fixture(scope="module")
def tiny_lowrank():
    """A real low-rank study: ReLU MSE, L = 4, K = 2 and K = 4, one seed, 200 GD steps."""
    study = lowrank.Study(depths=(4,), sizes=(lowrank.Size(2, 4, 8), lowrank.Size(4, 4, 8)), lambda_ratios=(0.5,),
                          activations=("relu",), losses=("mse",), seeds=(0,), iters=200, log_every=100)  # fmt: skip
    return lowrank.run(study)


@pytest.fixture(scope="module")
def rows(demo_map):
    return {r["key"]: r for r in lit.table({"map": demo_map, "lowrank": None})}


def test_every_row_computes_on_the_demo_map_with_a_known_verdict(rows):
    assert list(rows) == [c.key for c in lit.CLAIMS]  # one row per claim, keys unique
    for r in rows.values():
        assert r["verdict"] in lit.VERDICTS and r["ours"] and r["why"] and r["read from"], r["key"]
    with pytest.raises(ValueError, match="verdict"):
        lit.Finding("x", "maybe", "y")


def test_gk25_theorem1_counts_come_from_the_map_and_the_verdict_follows_them(demo_map, rows):
    inside = [r for r in demo_map["rows"] if gk25_applies(r["K"], r["L"])]
    assert inside, "the demo map must have points where the theorem applies"
    numbers = rows["gk25-thm1"]["numbers"]
    assert numbers["applies"] == len(inside) and numbers["points"] == len(demo_map["rows"])
    assert numbers["agrees"] == sum(r["structure"] != theorem1.ETF for r in inside)
    assert rows["gk25-thm1"]["verdict"] == (lit.AGREES if numbers["contradicts"] == 0 else lit.DISAGREES)
    # a point inside the theorem that certifies the ETF turns the verdict, naming the point
    doctored = copy.deepcopy(demo_map)
    bad = next(r for r in doctored["rows"] if r["theorem_applies"])
    bad["relation"], bad["structure"] = theorem1.CONTRADICTS, theorem1.ETF
    found = lit.gk25_theorem1({"map": doctored})
    assert found.verdict == lit.DISAGREES and f"K={bad['K']}, L={bad['L']}" in found.why
    # no point inside the theorem: nothing to compare
    outside = dict(doctored, rows=[r for r in doctored["rows"] if not r["theorem_applies"]])
    assert lit.gk25_theorem1({"map": outside}).verdict == lit.NOT_COMPARABLE


def test_points_beyond_the_theorem_are_reported_never_judged(demo_map, rows):
    beyond = [r for r in demo_map["rows"] if not gk25_applies(r["K"], r["L"]) and r["relation"] == theorem1.BEYOND]
    assert rows["gk25-beyond"]["numbers"]["beyond"] == len(beyond)
    assert rows["gk25-beyond"]["verdict"] == lit.NOT_COMPARABLE


def test_gk25_k4_values_are_the_printed_ones(rows):
    numbers = rows["gk25-k4"]["numbers"]
    assert_printed(numbers["dnc"], "0.258691778522900")
    assert_printed(numbers["cross-polytope"], "0.257330175266071")
    assert rows["gk25-k4"]["verdict"] == lit.AGREES


def test_dang_row_is_the_closed_form_and_depth_one_is_theorem_3_1(rows):
    depths = rows["dang23"]["numbers"]["depths"]
    assert [d["L"] for d in depths] == list(lit.DANG_SETTING["depths"])
    s = lit.DANG_SETTING
    plain = theory.minimizer(Config(K=s["K"], n=s["n"], d=20, lambda_W=s["lam"], lambda_H=s["lam"]))
    assert abs(depths[0]["closed_form"] - plain["objective"]) <= 1e-14
    for d in depths:
        assert abs(d["dnc"] - d["closed_form"]) <= 1e-12 and d["reduced_best"] >= d["closed_form"] - 1e-12
    assert rows["dang23"]["verdict"] == lit.AGREES


def test_slm24_row_is_unsettled_exactly_where_our_chain_never_beats_dnc(rows):
    ratios = rows["slm24-dnc"]["numbers"]["ratios"]
    assert set(ratios) == set(lit.SRG_SETTING["depths"])
    assert all(v > 1 for v in ratios[3].values())  # measured (docs/measurements.md): never below DNC at L = 3
    assert ratios[5][5] < 1 < ratios[5][3]  # K = 10 beats DNC at L = 5; K = 3 does not
    every_depth_below = all(any(v < 1 for v in per.values()) for per in ratios.values())
    assert rows["slm24-dnc"]["verdict"] == (lit.AGREES if every_depth_below else lit.UNSETTLED)


def test_runs_at_their_k_and_l_make_the_gd_rows_comparable(rows, tiny_lowrank):
    # without a low-rank store, nothing of ours is at SLM24 Fig. 5's or SML23's footing
    assert rows["slm24-fig5"]["verdict"] == rows["sml23"]["verdict"] == lit.NOT_COMPARABLE
    fig5 = lit.slm24_fig5({"lowrank": tiny_lowrank})
    below, total = fig5.numbers["lowrank_below_dnc"][4]
    assert total == 1 and set(fig5.numbers["lowrank_below_dnc"]) == {4}  # K = 2 is not Fig. 5's
    assert fig5.verdict == lit.UNSETTLED  # our settings are not theirs, whatever the count
    sml = lit.sml23_binary({"lowrank": tiny_lowrank})
    assert sml.numbers["runs"] == 1
    assert sml.verdict == (lit.DISAGREES if sml.numbers["below"] else lit.AGREES)


@pytest.fixture(scope="module")
def tiny_papers():
    """A real store of GD at the papers' footings (the rows find runs by their parameters): GK25's linear
    CE L = 2, K = 10, λ = 2⁻¹⁰; SLM24 Fig. 2's ReLU MSE L = 4, K = 10, width 30, λ = 0.004; and K = 2
    with ReLU MSE — one seed each, 300 GD steps (far from converged)."""
    settings = {
        "gk": {"depths": [2], "Ks": [10], "n": 5, "widths": [16], "lambdas": [2.0**-10], "activation": "linear", "loss": "ce"},
        "slm": {"depths": [4], "Ks": [10], "n": 5, "widths": [30], "lambdas": [0.004], "activation": "relu", "loss": "mse"},
        "k2": {"depths": [2], "Ks": [2], "n": 5, "widths": [30], "lambdas": [0.004], "activation": "relu", "loss": "mse"},
    }
    common = {"seeds": [0], "lr": 0.5, "iters": 300, "log_every": 100}
    return papers.run(papers.Study.from_mapping({k: {**v, **common} for k, v in settings.items()}))


def _doctored(ds, setting: str, **values):
    """`ds` with the runs of one setting given other values (the GD side: the rows join the theory anew)."""
    out = ds.copy(deep=True)
    rows = out["setting"].values == setting
    for name, value in values.items():
        array = out[name].values.copy()
        array[rows] = value(out.isel(run=rows)) if callable(value) else value
        out[name] = (out[name].dims, array)
    return out


def test_the_papers_rows_find_their_runs_by_footing_and_flip_with_the_store(tiny_papers):
    inputs = {"papers": tiny_papers}
    # nothing converged in 300 steps and nothing below DNC: no verdict can be reached
    assert lit.gk25_width(inputs).verdict == lit.UNSETTLED and lit.gk25_width(inputs).numbers["runs"] == 1
    assert lit.slm24_fig2(inputs).numbers["runs"] == 1 and lit.slm24_fig2(inputs).numbers["converged"] == 0
    assert lit.gk25_width({"papers": None}).verdict == lit.slm24_fig2({}).verdict == lit.NOT_COMPARABLE
    dnc = lambda runs: papers_theory.with_theory(runs)["dnc_objective"].values  # noqa: E731
    # SLM24 Fig. 2: a run below DNC makes it agree; every run converged above DNC makes it disagree
    below = _doctored(tiny_papers, "slm", objective=lambda r: 0.9 * dnc(r))
    assert lit.slm24_fig2({"papers": below}).verdict == lit.AGREES
    above = _doctored(tiny_papers, "slm", objective=lambda r: 1.1 * dnc(r), last_decrease=0.0)
    assert lit.slm24_fig2({"papers": above}).verdict == lit.DISAGREES
    # GK25 Fig. 1: a structure below DNC exists at K = 10, L = 2 (their Theorem 1), so a run at DNC agrees
    at_dnc = _doctored(tiny_papers, "gk", objective=dnc, dnc_structure=True)
    found = lit.gk25_width({"papers": at_dnc})
    assert found.numbers["lower_than_dnc"] and found.verdict == lit.AGREES and found.numbers["reached"] == 1
    assert lit.gk25_width({"papers": _doctored(tiny_papers, "gk", last_decrease=0.0)}).verdict == lit.DISAGREES
    # the K = 2 control: none below DNC agrees (SML23); one below is called a bug, naming the run
    assert lit.sml23_binary(inputs).verdict == lit.AGREES and lit.sml23_binary(inputs).numbers["runs"] == 1
    bug = lit.sml23_binary({"papers": _doctored(tiny_papers, "k2", objective=lambda r: 0.99 * dnc(r))})
    assert bug.verdict == lit.DISAGREES and "seed 0" in bug.ours


def test_slm24_fig5_reads_the_papers_store_first(tiny_papers):
    fig5 = lit.slm24_fig5({"papers": tiny_papers})
    assert fig5.verdict == lit.NOT_COMPARABLE and not fig5.numbers["papers"]  # no run at K = 3…5
    k345 = tiny_papers.isel(run=[1, 1, 1])  # the SLM24 run relabelled as K = 3, 4, 5 with their DNC values below it
    k345 = k345.assign_coords(K=("run", [3, 4, 5]), run=[0, 1, 2])
    joined = papers_theory.with_theory(k345)
    doctored = k345.copy(deep=True)
    doctored["objective"] = ("run", 0.9 * joined["dnc_objective"].values)
    found = lit.slm24_fig5({"papers": doctored})
    assert set(found.numbers["papers"]) == {3, 4, 5} and found.verdict == lit.AGREES
    doctored["objective"] = ("run", 1.1 * joined["dnc_objective"].values)
    assert lit.slm24_fig5({"papers": doctored}).verdict == lit.UNSETTLED
