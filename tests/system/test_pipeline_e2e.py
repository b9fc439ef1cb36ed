"""End to end: the whole pipeline on a reduced config, then every report page and figure checked.

The reduced config is params.yaml itself with every experiment kept but made cheap (fewer
iterations, a tiny network on `digits`, a small asymptotic grid), so that each report page and
each figure the real run draws is drawn here too, through the real schema, rules and CLI.  The run
is the suite's shared demo run (`make run` on a scratch project: `dvc repro demo/dvc.yaml`, whose
stages run the Snakemake targets; tests/support/demo_run.py), read here under its output root demo/.
"""

import csv
import json
import math
import re

import pytest
import yaml

from deepcollapse.reports.figures import measured_points
from tests.support.pipeline import snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(demo_run):
    """The demo's output root (results/, reports/ and its merged params.yaml)."""
    return demo_run.origin / "demo"


def _linked_pages(index_html: str) -> list[str]:
    return sorted(set(re.findall(r'<li><a href="([^"]+\.html)">', index_html)))


def test_index_links_every_page_and_each_page_states_its_provenance(finished):
    reports = finished / "reports"
    pages = _linked_pages((reports / "index.html").read_text())
    expected = {f"pages/{p.name}" for p in (reports / "pages").glob("*.html")}
    assert pages and set(pages) == expected
    for page in pages:
        html = (reports / page).read_text()
        assert "Provenance" in html and "Rendered by" in html, page
        assert "Traceback" not in html, page


def test_every_figure_exists_in_each_format_with_measured_data(finished):
    figures = sorted((finished / "reports/figures").glob("*/*.png"))
    pages = {p.parent.name for p in figures}
    html_pages = {p.stem for p in (finished / "reports/pages").glob("*.html")}
    assert pages == html_pages  # every page draws at least one figure
    for png in figures:
        assert png.with_suffix(".svg").stat().st_size > 0, png
        points = measured_points(finished / "reports/data" / png.parent.name / f"{png.stem}.csv")
        assert points > 0, f"{png}: no measured data behind the figure"


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_dvc_metrics_are_small_json_with_finite_values(finished):
    agreement = json.loads((finished / "results/theory/agreement.json").read_text())
    assert agreement["summary"]["problems"] == sum(run["problems"] for run in agreement["runs"].values()) > 0
    assert sum(agreement["reasons"].values()) == agreement["summary"]["problems"]
    with open(finished / "results/theory/agreement.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == agreement["summary"]["problems"]
    for row in rows:  # empty/NaN only where there is nothing to compare with
        assert _finite(float(row["objective_rel_gap"] or "nan")) or row["status"] == "no closed form", row
    networks = json.loads((finished / "results/summary/networks.json").read_text())
    params = yaml.safe_load((finished / "params.yaml").read_text())["networks"]
    grid = {f"{d}-{l}" for d in params["datasets"] for l in params["losses"]}
    variants = {f"{d}-{l}-{name}" for name, v in (params.get("variants") or {}).items() for d in v["datasets"] for l in v["losses"]}
    assert set(networks) == grid | variants
    for run in networks.values():
        assert run["epoch"] == params["train"]["epochs"]  # the final checkpoint
        assert set(run["NC1"]) >= {"stage1", "penultimate"}
        assert all(_finite(v) for v in run["NC1"].values()), run["NC1"]  # NaN would be stored as null
        assert _finite(run["accuracy"]) and _finite(run["loss"])


def test_a_second_run_has_nothing_to_do(demo_run):
    proc = snakemake(demo_run.origin, "all", options=["--directory", "demo", "-n"])
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
