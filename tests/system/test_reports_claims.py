"""The report pages say only what their data show: pages rendered by papermill from real (small) UFM
runs, and every case of issue 11 seeded — a claim the data contradict either never appears or fails
the render.

The runs are tiny plain UFMs (K = 3, n = 4, d = 6, λ = 0.05, step 0.2) that reach their closed forms
to float64 rounding in 3,000 iterations, so that "agrees", "orthogonal frame", "simplex ETF" and
"neither ETF nor OF" are all really reached; the pages are the workflow's own templates.
"""

from __future__ import annotations

import json
import math
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import yaml

from deepcollapse.reports import claims, figures, network_plots, pages, theory_table, ufm_plots
from deepcollapse.store import open_dataset, write_dataset
from deepcollapse.ufm import Config, Sweep, solve, solve_sweep
from tests.support import ROOT
from tests.support.report_pages import render

NOTEBOOKS = ROOT / "workflow" / "notebooks"
BASE = dict(model="plain", K=3, n=4, d=6, lambda_W=0.05, lambda_H=0.05, lr=0.2, iters=3000, log_every=500)
ETF_OF = claims.etf_of_distance(3)  # 0.6058: NC2_OF of an exact simplex ETF, K = 3
DEMO = {"changes": [{"key": "ufm.experiments.of.iters", "here": 3000, "params": 100000}], "total": 4}


def _render(template: str, out: Path, **parameters) -> str:
    return render(template, out, **parameters)


def _text(html: str) -> str:
    import html as _html

    return _html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _section(text: str, name: str, until: str | None = None) -> str:
    """The paragraph(s) a page writes about run `name` (up to the one about `until`)."""
    start = re.search(rf"\b{name} (\(closed form|:)", text).start()
    end = re.search(rf"\b{until} (\(closed form|:)", text).start() if until else len(text)
    return text[start:end]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """Real runs: bias-free (OF), unregularized bias (ETF), a λ_b sweep across c/(1−c), seeds stopped early."""
    root = tmp_path_factory.mktemp("runs")
    made = {
        "of": solve(Config(**BASE, bias="none")),
        "etf": solve(Config(**BASE, bias="unregularized")),
        "reg": solve_sweep(Config(**BASE, bias="regularized", lambda_b=1.0), Sweep.from_mapping({"lambda_b": [0.1, 2.0]})),
        "early": solve_sweep(Config(**{**BASE, "iters": 200, "log_every": 100}, bias="none"), Sweep.from_mapping({"seed": [0, 1]})),
    }
    paths = {}
    for name, ds in made.items():
        paths[name] = str(write_dataset(ds, root / f"{name}.zarr"))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return paths


@pytest.fixture(scope="module")
def ufm_page(stores, tmp_path_factory):
    out = tmp_path_factory.mktemp("ufm_page")
    html = _render("ufm_runs", out, page="t", title="Test page", runs=stores, overrides=DEMO)
    return out, html


def test_structure_verdicts_follow_the_thresholds():
    assert claims.frame_of(1e-15, 1e-15, K=4) == claims.OF  # a centred OF is an ETF: both distances vanish
    assert claims.frame_of(1e-15, claims.etf_of_distance(4), K=4) == claims.ETF
    assert claims.frame_of(1e-15, 0.2, K=4) == claims.NEITHER  # regularized bias above c/(1−c)
    assert claims.frame_of(math.nan, math.nan, K=4) == claims.ZERO
    assert claims.objective_status(2e-16) == claims.AGREES
    assert claims.objective_status(2.1e-2) == claims.ABOVE
    assert claims.objective_status(-5e-3) == claims.BELOW
    with pytest.raises(claims.ClaimError, match="the data say"):
        claims.check(False, "an ETF", "NC2_OF = 0.1")


def test_fig2_bias_free_page_says_orthogonal_frame_and_that_nc2_etf_vanishes_too(ufm_page):
    # issue: the shared intro said the other frame's NC2 tends to 0.518, but for fig2a NC2_ETF -> 2e-14
    text = _text(ufm_page[1])
    sentence = _section(text, "of", "etf")
    assert "orthogonal frame" in sentence and "NC2_ETF" in sentence and "small too" in sentence
    assert "0.518" not in sentence and "tends to" not in text
    etf = _section(text, "etf", "reg")
    assert "a simplex ETF" in etf and f"{ETF_OF:.4f}" in etf
    for sentence in (sentence, etf):
        assert "GD agrees with the closed form" in sentence and "as predicted" in sentence


def test_regularized_bias_page_speaks_of_the_uncentred_means(ufm_page):
    # issue: "neither ETF nor OF" above c/(1−c) while the plotted (centred) NC2_ETF stays at 1e-15
    text = _text(ufm_page[1])
    reg = _section(text, "reg", "early")
    below, above = reg[reg.index("λ_b=0.1:"):reg.index("λ_b=2:")], reg[reg.index("λ_b=2:"):]
    assert "λ_b=0.1" in below and "a simplex ETF" in below and "neither" not in below
    assert "the uncentred class means are neither an ETF nor an OF" in above
    assert "the centred means are a simplex ETF" in above


def test_seeds_are_labelled_by_outcome_and_demo_runs_say_so(ufm_page):
    # issue: Fig. 5b labelled as the paper's while cut; seed plots did not say which seed converged
    out, html = ufm_page
    text = _text(html)
    assert "Not the paper's settings" in text and "ufm.experiments.of.iters : 3000 here, 100,000 in params.yaml" in text
    early = _section(text, "early")
    assert "0 of 2" not in early and "2 of 2 end above it" in early and "seed=0, seed=1" in early
    svg = (out / "figures" / "early.svg").read_text()
    assert "above the closed form (2 of 2)" in svg  # the legend names each colour's outcome
    assert "DEMO" in (out / "figures" / "of.svg").read_text()  # the figure title says demo, shortly
    assert "DEMO: iters 3000 (params.yaml: 100,000)" in text  # and the caption and the run's sentence say which settings
    assert "DEMO" not in (out / "figures" / "etf.svg").read_text()  # a run at params.yaml's setting does not


def test_every_log_axis_has_two_labelled_ticks_and_math_is_typeset(ufm_page):
    out, html = ufm_page
    assert "cdnjs" not in html and "SPEC" not in html and "require.js" not in html
    assert "../math.html#nc-metrics" in html
    svg = (out / "figures" / "of.svg").read_text()
    assert "lambda" not in svg.lower().replace("\\lambda", "")  # no spelled-out λ


def test_phase_page_marks_and_checks_the_regularized_bias_regimes(stores, tmp_path):
    html = _render("phase_diagram", tmp_path / "ok", runs={"reg": stores["reg"]}, dims={"reg": "lambda_b"})
    assert "<math" in html  # λ_b, c/(1−c) typeset as MathML
    text = _text(html)
    prose = text.split("Provenance")[0]  # the provenance JSON keeps the config's field names (lambda_b)
    assert not re.search(r"\blambda", prose), re.findall(r".{40}\blambda.{40}", prose)  # λ, never spelled out
    assert "λ_b swept" in text and "λ_b=" in text
    assert re.search(r"simplex ETF at λ ?b ?= 0\.1\b", text), text[:3000]
    assert re.search(r"neither ETF nor OF at λ ?b ?= 2\b", text)
    # seeded contradiction: the uncentred means at λ_b = 2 made an exact ETF -> the render fails
    ds = open_dataset(stores["reg"]).load()
    ds["NC2_OF_H"].loc[{"lambda_b": 2.0}] = ETF_OF
    bad = write_dataset(ds, tmp_path / "contradicted.zarr")
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError, match="ClaimError"):
        _render("phase_diagram", tmp_path / "bad", runs={"reg": str(bad)}, dims={"reg": "lambda_b"})


def test_phase_figure_circles_points_stuck_above_the_closed_form(stores, tmp_path):
    # issue: GD stuck in local minima below the extended threshold looked like a phase transition
    ds = open_dataset(stores["early"])
    outs = claims.outcomes(ds)
    fig = ufm_plots.phase_figure(ds, dim="seed", threshold=None, title="t", outcomes=outs)
    figures.save(fig, "phase", directory=tmp_path, formats=("svg",))
    plt.close(fig)
    rows = figures.figure_rows(fig)
    stuck = [r for r in rows if r["series"].startswith("GD stopped above") and r["kind"] == "reference"]
    assert len(stuck) >= 2  # both seeds, on the objective panel at least
    assert "GD stopped above the closed form" in (tmp_path / "phase.svg").read_text()


@pytest.fixture(scope="module")
def agreement_table(stores, tmp_path_factory):
    """`deepcollapse theory` over the real runs: agreeing ones and the seeds stopped early."""
    out = tmp_path_factory.mktemp("theory") / "agreement.json"
    subprocess.run([sys.executable, "-m", "deepcollapse", "theory", "--runs", *stores.values(), "--out", str(out),
                    "--csv", str(theory_table.rows_path(out))], check=True, capture_output=True)
    return out


def test_theory_page_shows_every_row_non_agreeing_first_with_counts(agreement_table, tmp_path):
    # issue: the table was cut to 10 of 87 rows; the non-agreeing rows were invisible
    import pandas as pd

    rows = pd.read_csv(theory_table.rows_path(agreement_table))
    html = _render("theory", tmp_path, agreement=str(agreement_table))
    body = html[html.index("Every row"):]
    assert len(re.findall(r"<tr>\s*<th[^>]*>", body)) >= len(rows)  # pandas prints one <tr> per row (+ header rows)
    table = theory_table.ordered(rows)
    not_agreeing = int((table["status"] != "agrees").sum())
    assert not_agreeing >= 2  # the two seeds stopped after 200 iterations
    assert set(table["status"][:not_agreeing]).isdisjoint({"agrees"}) and set(table["status"][not_agreeing:]) == {"agrees"}
    text = _text(html)
    for status, count in table["status"].value_counts().items():
        assert f"{status} : {count}" in text
    # the solver's reason for the early-stopped seeds, counted on the page
    reasons = table.loc[table["status"] != "agrees", "reason"].value_counts()
    assert "not converged in the iterations given" in reasons
    for reason, count in reasons.items():
        assert f"{reason} : {count}" in text


def test_theory_page_counts_reasons_when_the_solver_gives_them():
    import pandas as pd

    rows = pd.DataFrame([
        {"run": "a", "point": "", "status": "agrees", "reason": "agrees", "objective_rel_gap": 0.0},
        {"run": "b", "point": "seed=0", "status": "GD above closed form", "reason": "ReLU dead sample", "objective_rel_gap": 2e-2},
        {"run": "b", "point": "seed=1", "status": "GD above closed form", "reason": "ReLU dead sample", "objective_rel_gap": 2e-2},
        {"run": "c", "point": "", "status": "GD BELOW closed form", "reason": "closed form refuted", "model": "extended",
         "loss": "ce", "objective_rel_gap": -5e-3, "objective_gd": 0.2573, "objective_theory": 0.2587, "theory_source": "x"},
    ])  # fmt: skip
    table = theory_table.ordered(rows)
    assert list(table["run"]) == ["c", "b", "b", "a"]
    text = theory_table.summary_markdown({"tolerance": 1e-6}, table)
    assert "**ReLU dead sample**: 2" in text and "**closed form refuted**: 1" in text
    assert "#extended-ce" in text and "no `reason` column" not in text
    # a single run has no sweep point: shown blank, not "nan" (pandas reads the empty CSV cell as NaN)
    shown = theory_table.display(pd.read_csv(io.StringIO(table.to_csv(index=False))))
    assert ("a", "") in shown.index and "nan" not in {str(p).lower() for _, p in shown.index}


def test_network_sentences_claim_no_frame_the_data_do_not_show():
    # issue: the text asserted "NC2_OF -> 0" while the demo's MSE penultimate NC2_OF was 0.998, NC3 1.10
    import xarray as xr

    layers = ["stage1", "stage4", "penultimate"]
    nc = lambda *v: (("epoch", "layer"), np.array([v, v], dtype=float))
    ds = xr.Dataset({"NC1": nc(2.0, 0.5, 0.5), "NC2_ETF": nc(0.9, 0.7, 0.7), "NC2_OF": nc(1.0, 0.998, 0.998),
                     "NC3_OF": nc(np.nan, np.nan, 1.10), "NC3_ETF": nc(np.nan, np.nan, 0.12),
                     "GM_RATIO": nc(5.0, 1.97, 1.97)}, coords={"epoch": [0, 10], "layer": layers}, attrs={"num_classes": 10})
    (sentence,) = network_plots.run_sentences({"digits-mse": ds})
    assert "neither an ETF nor an OF" in sentence and "the data do not show it" in sentence
    # MSE predicts an OF: its NC3 variant (uncentred means) first; both are printed
    assert "NC3_OF = 1.1, NC3_ETF = 0.12" in sentence
    # the global mean, not the centred geometry, is named as what keeps NC2_OF up
    assert "GM_RATIO = 1.97 times an OF's" in sentence and "even a perfect ETF" in sentence
    (ce,) = network_plots.run_sentences({"digits-ce": ds})
    assert "NC3_ETF = 0.12, NC3_OF = 1.1" in ce and "GM_RATIO" not in ce  # CE with bias: ETF predicted
    assert "layer stage4 = penultimate" in sentence and "stage4 has the same metrics as penultimate" in sentence
    assert network_plots.duplicate_layers(ds) == {"stage4": "penultimate"}
    assert "NC1 falls with depth at every stage (each by more than 10%)" in sentence  # 2.0 -> 0.5
    tie = ds.assign(NC1=nc(1.0, 0.95, 0.1))  # stage1 and stage4 within 10%: a tie, not a fall
    (tied,) = network_plots.run_sentences({"digits-mse": tie.assign(NC2_OF=nc(1.0, 0.99, 0.998))})
    assert "NC1 does not fall with depth at every stage by more than 10%" in tied
    fig = network_plots.epoch_figure({"mse": ds}, dataset="digits")
    assert all(ax.get_xscale() == "linear" for ax in fig.get_axes())  # not symlog with ticks 0, 10⁰, 10¹
    labels = {line.get_label() for ax in fig.get_axes() for line in ax.get_lines()}
    assert not any(label.endswith(" stage4") for label in labels)  # drawn once, as "stage4 = penultimate"
    assert any(label.endswith("stage4 = penultimate") for label in labels)
    plt.close(fig)


def test_every_math_anchor_cited_exists_and_no_spec_is_cited():
    # issue: pages cited "SPEC-math §6", a document the repository does not ship
    doc = (ROOT / "docs" / "math.md").read_text()
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', doc))
    cited = set()
    documents = [ROOT / "README.md", *(p for p in (ROOT / "docs").glob("*.md") if p.name != "math.md")]  # links: test_docs_links
    for path in [*NOTEBOOKS.glob("*.ipynb"), *(ROOT / "src").rglob("*.py"), *documents, *(ROOT / "workflow").rglob("*.smk")]:
        source = path.read_text()
        cited |= set(re.findall(r"docs/math\.md#([a-z0-9-]+)", source))
        cited |= set(re.findall(r"math_link\(['\"]([a-z0-9-]+)", source))
        assert not re.search(r"SPEC(-math)? §", source), f"{path} cites the spec"
    assert cited and cited <= anchors, sorted(cited - anchors)
    for legacy in pages.LEGACY_SECTIONS.values():
        assert legacy in anchors


def test_the_math_document_typesets_every_formula(tmp_path):
    from deepcollapse.reports import text

    out = text.write_document(ROOT / "docs" / "math.md", tmp_path / "math.html")
    html = out.read_text()
    assert html.count("<math") > 100 and "$" not in _text(html).replace("US$", "")
    for anchor in ("ufm-bias-free", "nc-metrics", "relu-dead-sample", "extended-ce", "deep-ufm"):
        assert f'id="{anchor}"' in html


@pytest.mark.parametrize("how", ["configfile", "demo-root"])
def test_demo_overrides_reach_the_pages_as_parameters(tmp_path, how):
    """The resolved config diffed against the project's params.yaml by reports.smk (a real Snakemake
    dry run): with --configfile, and as `make run` runs the demo, under demo/ with the merged
    demo/params.yaml (which must not be mistaken for the paper's)."""
    from tests.support.pipeline import copy_workflow, environment

    work = copy_workflow(tmp_path / "wf")
    cmd = [sys.executable, "-m", "snakemake", "reports/pages/fig5.html", "-n", "-p", "--cores", "1"]
    if how == "configfile":
        cmd += ["--configfile", "workflow/demo.yaml"]
        cwd = work
    else:
        sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
        from dvc_pipelines import merged

        load = lambda path: yaml.safe_load(path.read_text())  # noqa: E731
        cwd = work / "demo"
        cwd.mkdir()
        (cwd / "params.yaml").write_text(yaml.safe_dump(merged(load(work / "params.yaml"), load(work / "workflow/demo.yaml"))))
        cmd += ["-s", "../workflow/Snakefile"]
    run = subprocess.run(cmd, cwd=cwd, env=environment(), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    (params,) = re.findall(r"-y '(\{.*?\})'", run.stdout)[-1:]
    overrides = json.loads(params)["overrides"]
    keys = {c["key"]: (c["params"], c["here"]) for c in overrides["changes"]}
    assert keys["ufm.experiments.fig5b.iters"] == (2_000_000, 200_000)
    assert all(k.startswith(("ufm.experiments.fig5", "ufm.sweeps.fig5")) for k in keys)
    assert overrides["total"] > len(keys)  # the demo also changed other pages' settings
    # the index says it first, for every page (a dry run plans the whole report, without running it)
    index = subprocess.run([*cmd[:3], "reports/index.html", *cmd[4:]], cwd=cwd, env=environment(), capture_output=True, text=True, timeout=300)
    assert index.returncode == 0, index.stderr[-2000:]
    (line,) = [shlex.split(x) for x in index.stdout.splitlines() if " report index " in x]
    (note,) = [arg.removeprefix("--note=") for arg in line if arg.startswith("--note=")]
    assert note.startswith(f"Not the paper's settings: {overrides['total']} setting(s) of params.yaml were overridden"), note
    # each page lists what concerns its own data: the theory page the UFM runs' settings (not the
    # low-rank study's, which it does not show), the low-rank page the study's
    for page, wanted in (("theory", "ufm.experiments.fig5b.iters"), ("lowrank", "ufm.studies.lowrank.iters")):
        planned = subprocess.run([*cmd[:3], f"reports/pages/{page}.html", *cmd[4:]], cwd=cwd, env=environment(),
                                 capture_output=True, text=True, timeout=300)
        assert planned.returncode == 0, planned.stderr[-2000:]
        page_params = [p for p in map(json.loads, re.findall(r"-y '(\{.*?\})'", planned.stdout)) if p.get("page") == page]
        listed = {c["key"] for c in page_params[0]["overrides"]["changes"]}
        assert wanted in listed and all(k.startswith("ufm.studies.lowrank.") == (page == "lowrank") for k in listed), (page, listed)
