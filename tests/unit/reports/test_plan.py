"""The page plan (deepcollapse.reports.plan), from params dicts alone: no Snakemake.

tests/system/test_pipeline_dag.py checks the same errors through a real `snakemake -n`; tests/system/test_reports_claims.py
checks that the demo's overrides reach the pages' parameters in a real dry run."""

from __future__ import annotations

import copy

import pytest
import yaml

from deepcollapse import stages
from deepcollapse.reports import plan
from tests.support.pipeline import ROOT

PAPER = yaml.safe_load((ROOT / "params.yaml").read_text())
DEMO = yaml.safe_load((ROOT / "demo/params.yaml").read_text())


def _with(params: dict, **sections) -> dict:
    out = copy.deepcopy(params)
    for dotted, value in sections.items():
        *parents, last = dotted.split("__")
        node = out
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return out


def test_the_pages_of_the_paper_run_in_index_order():
    pages = plan.pages(PAPER)
    assert list(pages) == [*PAPER["reports"]["ufm_pages"], "phase_diagram", "theory", "asymptotic", "lowrank", "theorem1", "literature", "networks", "comparison"]
    assert {name: p.template for name, p in pages.items() if p.template != "ufm_runs"} == {
        "phase_diagram": "phase_diagram", "theory": "theory", "asymptotic": "asymptotic", "lowrank": "lowrank",
        "theorem1": "theorem1", "literature": "literature", "networks": "networks", "comparison": "comparison"}  # fmt: skip
    # every template exists
    for page in pages.values():
        assert (ROOT / "workflow/notebooks" / f"{page.template}.ipynb").is_file()


def test_page_inputs_are_the_stage_tables_paths():
    pages = plan.pages(PAPER)
    fig2 = pages["fig2"]
    assert fig2.inputs == {"runs": {n: f"results/ufm/{n}.zarr" for n in PAPER["reports"]["ufm_pages"]["fig2"]["experiments"]}}
    assert fig2.extra["title"] == PAPER["reports"]["ufm_pages"]["fig2"]["title"]
    # the default page of a stage: its outputs by name
    assert pages["asymptotic"].inputs == {"study": "results/asymptotic/theorem51.zarr"}
    assert pages["lowrank"].inputs == {"study": "results/lowrank/study.zarr"}
    assert pages["theorem1"].inputs == {"study": "results/theorem1/map.json"}
    # the literature page: the Theorem-1 map, and the stores of the low-rank study and of the papers'
    # settings when their sections are set
    assert pages["literature"].inputs == {"study": "results/theorem1/map.json", "lowrank": "results/lowrank/study.zarr",
                                          "papers": "results/papers/runs.zarr"}
    without = copy.deepcopy(PAPER)
    del without["ufm"]["studies"]["lowrank"]
    assert plan.pages(without)["literature"].inputs == {"study": "results/theorem1/map.json", "papers": "results/papers/runs.zarr"}
    del without["ufm"]["studies"]["papers"]
    assert plan.pages(without)["literature"].inputs == {"study": "results/theorem1/map.json"}
    del without["ufm"]["studies"]["theorem1"]
    assert "literature" not in plan.pages(without)
    theory = pages["theory"]
    assert theory.inputs["agreement"] == "results/theory/agreement.json"
    assert list(theory.inputs["runs"]) == [*PAPER["ufm"]["experiments"], *PAPER["ufm"]["sweeps"]]
    runs = [f"{d}-{loss}" for d in PAPER["networks"]["datasets"] for loss in PAPER["networks"]["losses"]]
    runs += [f"{d}-{loss}-{name}" for name, v in PAPER["networks"]["variants"].items() for d in v["datasets"] for loss in v["losses"]]
    assert pages["networks"].paths() == [*(f"results/metrics/{r}.zarr" for r in runs), "results/summary/networks.json"]
    comparison = pages["comparison"]
    assert comparison.inputs["references"]["mnist-mse"] == {"ReLU": "results/ufm/fig9d.zarr", "linear": "results/ufm/fig9c.zarr"}
    assert comparison.extra["reference_names"]["cifar10-ce"] == {"ReLU": "ce_extended_relu", "linear": "ce_extended"}


def test_every_page_input_is_an_input_of_the_reports_stage():
    """The reports stage's inputs (what DVC orders it after) hold every file a page reads."""
    tracked = [t for ref in stages.STAGES["reports"].inputs for t in stages.stage_of(ref.split(".")[0]).tracked]
    for config in (PAPER, DEMO):
        for name, page in plan.pages(config).items():
            for path in page.paths():
                assert any(path.startswith(t + "/") for t in tracked), (name, path)


def test_optional_pages_follow_their_sections():
    no_study = copy.deepcopy(PAPER)
    del no_study["ufm"]["studies"]["lowrank"]
    no_nets = _with(PAPER, networks__datasets=[], networks__variants=None)
    no_compare = _with(PAPER, networks__compare={})
    assert "lowrank" not in plan.pages(no_study) and "lowrank" in plan.pages(PAPER)
    assert not {"networks", "comparison"} & set(plan.pages(no_nets))
    assert "comparison" not in plan.pages(no_compare) and "networks" in plan.pages(no_compare)
    # the comparison page covers the runs whose loss has references
    only_mse = _with(PAPER, networks__compare={"mse": PAPER["networks"]["compare"]["mse"]})
    assert list(plan.pages(only_mse)["comparison"].inputs["metrics"]) == [f"{d}-mse" for d in PAPER["networks"]["datasets"]]


@pytest.mark.parametrize(
    "sections, message",
    [
        ({"reports__ufm_pages__fig2": {"title": "x", "experiments": ["fig2z"]}},
         "params: reports.ufm_pages.fig2.experiments names 'fig2z', which is not in ufm.experiments or ufm.sweeps"),
        ({"reports__phase_diagram": {"fig2a": "lambda"}}, "params: reports.phase_diagram names 'fig2a', which is not in ufm.sweeps"),
        ({"reports__phase_diagram": {"phase_plain": "lamda"}},
         "params: reports.phase_diagram.phase_plain draws 'lamda', which ufm.sweeps.phase_plain does not sweep (it sweeps: lambda)"),
        ({"networks__compare": {"mse": {"relu": "fig9z", "linear": "fig9c"}}},
         "params: networks.compare.mse.relu names 'fig9z', which is not in ufm.experiments"),
        ({"ufm__sweeps__fig2a": {"sweep": {"lambda": [1]}}}, "params: ufm.experiments and ufm.sweeps both define 'fig2a'; names must be unique"),
    ],
    ids=["page-experiment", "phase-not-a-sweep", "phase-dimension", "compare-reference", "duplicate-run"],
)
def test_a_page_naming_what_the_params_lack_is_refused_in_one_line(sections, message):
    with pytest.raises(stages.PlanError) as err:
        plan.pages(_with(PAPER, **sections))
    assert str(err.value) == message


def test_config_changes_are_the_leaves_that_differ():
    base = {"a": {"b": 1, "c": {"d": 2}}, "e": 3, "resources": {"cpu": {"mem_mb": 1}}}
    here = {"a": {"b": 1, "c": {"d": 5}, "new": 1}, "resources": {"cpu": {"mem_mb": 2}}}
    assert plan.config_changes(base, here) == [
        {"key": "a.c.d", "params": 2, "here": 5}, {"key": "a.new", "params": "(absent)", "here": 1},
        {"key": "e", "params": 3, "here": "(absent)"}, {"key": "resources.cpu.mem_mb", "params": 1, "here": 2}]  # fmt: skip
    assert [c["key"] for c in plan.overrides(base, here)] == ["a.c.d", "a.new", "e"]  # resources are not science


def test_each_page_lists_the_overrides_that_concern_its_data():
    changes = plan.overrides(PAPER, DEMO)
    assert changes and not plan.overrides(PAPER, PAPER)
    pages = plan.pages(DEMO)
    concern = {name: {c["key"] for c in plan.page_changes(page, changes)} for name, page in pages.items()}
    fig5 = set(PAPER["reports"]["ufm_pages"]["fig5"]["experiments"])
    assert concern["fig5"] and all(k.split(".")[2] in fig5 for k in concern["fig5"])
    assert "ufm.experiments.fig5b.iters" in concern["theory"]
    assert not any(k.startswith("ufm.studies.") for k in concern["theory"])  # the study has its own page
    assert concern["lowrank"] and all(k.startswith("ufm.studies.lowrank.") for k in concern["lowrank"])
    assert concern["networks"] and all(k.startswith("networks.") for k in concern["networks"])
    assert concern["networks"] <= concern["comparison"]
    assert all(k.startswith("asymptotic.") for k in concern["asymptotic"])


def test_parameters_of_a_page():
    changes = plan.overrides(PAPER, DEMO)
    pages = plan.pages(DEMO)
    params = plan.parameters("fig5", pages["fig5"], DEMO["reports"], changes)
    assert params["page"] == "fig5" and params["runs"] == pages["fig5"].inputs["runs"]
    assert params["title"] == DEMO["reports"]["ufm_pages"]["fig5"]["title"]
    assert (params["figures_dir"], params["data_dir"]) == ("reports/figures/fig5", "reports/data/fig5")
    assert params["settings"] == {"formats": DEMO["reports"]["formats"], "dpi": DEMO["reports"]["dpi"]}
    assert params["overrides"] == {"changes": plan.page_changes(pages["fig5"], changes), "total": len(changes)}


def test_index_note_only_when_overridden():
    assert plan.index_note([]) == ""
    assert plan.index_note([{"key": "x"}] * 3).startswith("Not the paper's settings: 3 setting(s) of params.yaml were overridden")
