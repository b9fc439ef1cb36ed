"""Every report page says DEMO when its data were made with overridden settings: each notebook of
workflow/notebooks is rendered (papermill, the workflow's own templates) from real tiny artifacts
with overrides that concern its data, and the page must show the "Not the paper's settings" banner
and every figure it saves must be titled DEMO.  A notebook added without a case here fails the test.

The same renders hold the house style of the figures: no figure is saved with text under
`figures.MIN_FONT_PT`, a legend over the data or a clipped marker (`figures.StyleWarning`).
"""

from __future__ import annotations

import html as _html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deepcollapse.reports import theory_table
from deepcollapse.store import write_dataset
from deepcollapse.ufm import Config, Sweep, solve, solve_sweep
from tests.support import ROOT
from tests.support.report_pages import NOTEBOOKS, render
from tests.support.tiny_artifacts import ASYMPTOTIC, build

PLAIN = dict(model="plain", K=3, n=4, d=6, lambda_W=0.05, lambda_H=0.05, lr=0.2, iters=400, log_every=100)
EXTENDED = dict(model="extended", loss="mse", K=3, n=4, d1=6, d2=6, lambda_W1=5e-3, lambda_W2=5e-3, lambda_H1=5e-3, lr=0.1,
                iters=400, log_every=100, init_scale=0.1)
LOWRANK = {"depths": [2], "sizes": [{"K": 3, "n": 4, "d": 5}], "lambda_ratios": [0.5], "activations": ["linear"],
           "losses": ["mse"], "seeds": [0], "iters": 200, "log_every": 100}
THEOREM1 = {"Ks": [4], "depths": [2], "k_rho": [0.02, 0.3], "starts": 3, "confirm_starts": 3}
#: GD at two of the papers' footings (the literature page finds runs by their parameters): one seed, 200 steps
PAPERS = {"gk": {"depths": [2], "Ks": [10], "n": 5, "widths": [16], "lambdas": [2.0**-10], "activation": "linear", "loss": "ce",
                 "seeds": [0], "lr": 0.5, "iters": 200, "log_every": 100},
          "slm": {"depths": [4], "Ks": [10], "n": 5, "widths": [30], "lambdas": [0.004], "activation": "relu", "loss": "mse",
                  "seeds": [0], "lr": 0.5, "iters": 200, "log_every": 100}}


def _change(key, here, params):
    return {"key": key, "here": here, "params": params}


def _cli(*args):
    subprocess.run([sys.executable, "-m", "deepcollapse", *map(str, args)], check=True, capture_output=True)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-artifacts")
    tiny = build(root / "tiny")  # a trained digits run, its metrics store, a UFM store, a theory table
    made = {
        "run": solve(Config(**PLAIN, bias="none")),
        "sweep": solve_sweep(Config(**PLAIN, bias="none"), Sweep.from_mapping({"lambda": {"fields": ["lambda_W", "lambda_H"], "values": [0.01, 0.05, 2.0]}})),
        "relu": solve(Config(**EXTENDED, activation="relu")),
        "linear": solve(Config(**EXTENDED, activation="linear")),
    }
    paths = {name: str(write_dataset(ds, root / f"{name}.zarr")) for name, ds in made.items()}
    paths["theory"] = str(root / "agreement.json")
    _cli("theory", "--runs", paths["run"], paths["sweep"], "--out", paths["theory"], "--csv", theory_table.rows_path(paths["theory"]))
    for name, config, out in (("asymptotic", ASYMPTOTIC, "study.zarr"), ("lowrank", LOWRANK, "study.zarr"), ("theorem1", THEOREM1, "map.json"),
                                ("papers", PAPERS, "runs.zarr")):
        (root / f"{name}.yaml").write_text(yaml.safe_dump(config))
        paths[name] = str(root / name / out)
        _cli(name, "--config", root / f"{name}.yaml", "--out", paths[name])
    paths["metrics"] = str(tiny["metrics.zarr"])
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return paths


def cases(a: dict) -> dict[str, dict]:
    """template -> its parameters and an override that concerns its data."""
    run_iters = _change("ufm.experiments.run.iters", 400, 100_000)
    train = _change("networks.train.epochs", 1, 200)
    t1_starts = _change("ufm.studies.theorem1.starts", 3, 8)
    return {
        "ufm_runs": dict(title="Runs", runs={"run": a["run"]}, overrides={"changes": [run_iters], "total": 3}),
        "phase_diagram": dict(runs={"sweep": a["sweep"]}, dims={"sweep": "lambda"},
                              overrides={"changes": [_change("ufm.sweeps.sweep.iters", 400, 100_000)], "total": 3}),
        "theory": dict(agreement=a["theory"], runs={"run": a["run"], "sweep": a["sweep"]}, overrides={"changes": [run_iters], "total": 3}),
        "asymptotic": dict(study=a["asymptotic"], overrides={"changes": [_change("asymptotic.seeds", 1, 20)], "total": 3}),
        "lowrank": dict(study=a["lowrank"], overrides={"changes": [_change("ufm.studies.lowrank.iters", 200, 150_000)], "total": 3}),
        "networks": dict(metrics={"digits-ce": a["metrics"]}, summary=a["metrics"], overrides={"changes": [train], "total": 3}),
        "theorem1": dict(study=a["theorem1"], overrides={"changes": [t1_starts], "total": 3}),
        # its SRG figure is computed from the fixed setting literature.SRG_SETTING, not from the overridden study
        "literature": dict(study=a["theorem1"], lowrank=a["lowrank"], papers=a["papers"], overrides={"changes": [t1_starts], "total": 3},
                           settings_free_figures={"srg_ratio"}),
        "comparison": dict(metrics={"digits-ce": a["metrics"]}, references={"digits-ce": {"ReLU": a["relu"], "linear": a["linear"]}},
                           reference_names={"digits-ce": {"ReLU": "relu", "linear": "linear"}}, overrides={"changes": [train], "total": 3}),
    }


def test_every_notebook_has_a_case():
    templates = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert templates == set(cases({k: "" for k in ("run", "sweep", "relu", "linear", "theory", "asymptotic", "lowrank", "theorem1", "papers", "metrics")}))


def _text(page: str) -> str:
    return _html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.parametrize("template", sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
def test_a_page_made_from_overridden_settings_says_demo(artifacts, template, tmp_path):
    parameters = dict(cases(artifacts)[template])
    settings_free = parameters.pop("settings_free_figures", set())
    page = render(template, tmp_path, page=template, **parameters)
    text = _text(page)
    assert "Not the paper's settings" in text, f"{template}: no demo banner"
    key = parameters["overrides"]["changes"][0]["key"]
    assert key in text.replace(" ", ""), f"{template}: the banner does not list {key}"
    svgs = sorted((tmp_path / "figures").glob("*.svg"))
    assert svgs, f"{template}: no figure saved"
    untitled = [svg.name for svg in svgs if svg.stem not in settings_free and "DEMO" not in svg.read_text()]
    assert not untitled, f"{template}: figures not titled DEMO: {untitled}"
    assert "StyleWarning" not in page, re.findall(r"StyleWarning.{0,300}", page)[:3]


def test_a_page_at_the_papers_settings_says_so_and_no_figure_says_demo(artifacts, tmp_path):
    parameters = dict(cases(artifacts)["lowrank"], overrides={"changes": [], "total": 0})
    text = _text(render("lowrank", tmp_path, page="lowrank", **parameters))
    assert "Not the paper's settings" not in text and "params.yaml as committed" in text
    assert not [svg.name for svg in (tmp_path / "figures").glob("*.svg") if "DEMO" in svg.read_text()]
