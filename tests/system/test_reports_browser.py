"""The reports in a real browser: headless Chromium (Debian's package) loads reports/index.html and
every page it links, and the test fails on a console error, a failed request, an image that did not
load, or a link to a missing file or anchor.  Full-page screenshots are saved as test artefacts
(under results/test-artifacts/browser/, git-ignored, or $DEEPCOLLAPSE_TEST_ARTIFACTS).

The report tree is built here from real tiny UFM runs with the workflow's own templates, index and
math document.  Set DEEPCOLLAPSE_REPORTS=<a reports/ folder> (e.g. after the demo) to check that
tree as well.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from tests.support.browser import Browser, local_path
from deepcollapse.reports import index, text
from deepcollapse.store import write_dataset
from deepcollapse.ufm import Config, Sweep, solve, solve_sweep
from tests.support.report_pages import ROOT, render

ARTIFACTS = Path(os.environ.get("DEEPCOLLAPSE_TEST_ARTIFACTS", ROOT / "results" / "test-artifacts")) / "browser"
BASE = dict(model="plain", K=3, n=4, d=6, lambda_W=0.05, lambda_H=0.05, lr=0.2, iters=1000, log_every=250)


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


@pytest.fixture(scope="module")
def report_tree(tmp_path_factory):
    """reports/{index.html, math.html, pages/, figures/, data/} from two real runs, as the workflow lays it out."""
    root = tmp_path_factory.mktemp("reports")
    runs = {"plain": solve(Config(**BASE, bias="none")),
            "seeds": solve_sweep(Config(**BASE, bias="unregularized"), Sweep.from_mapping({"seed": [0, 1]}))}
    stores = {name: str(write_dataset(ds, root / "results" / f"{name}.zarr")) for name, ds in runs.items()}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    reports = root / "reports"
    render("ufm_runs", root / "work", html_dir=reports / "pages", name="ufm", page="ufm", title="Tiny UFM runs", runs=stores,
           figures_dir=str(reports / "figures" / "ufm"), data_dir=str(reports / "data" / "ufm"),
           overrides={"changes": [{"key": "ufm.experiments.plain.iters", "here": 1000, "params": 100000}], "total": 1})
    text.write_document(ROOT / "docs" / "math.md", reports / "math.html")
    index.build(pages=[reports / "pages" / "ufm.html"], out=reports / "index.html")
    return reports


def crawl(browser: Browser, start: Path, shots: Path) -> dict[str, list[str]]:
    """Visit `start` and every local HTML page reachable from it; {page: problems}."""
    todo, seen, found = [start.resolve().as_uri()], set(), {}
    while todo:
        url = todo.pop(0)
        page = urllib.parse.urldefrag(url)[0]
        if page in seen:
            continue
        seen.add(page)
        path = local_path(page)
        name = path.relative_to(start.parent.resolve()).as_posix().replace("/", "__")
        visit = browser.visit(page, screenshot=shots / f"{Path(name).stem}.png")
        found[name] = visit.problems
        for link in visit.links:
            target = local_path(urllib.parse.urldefrag(link)[0])
            if target is not None and target.suffix == ".html" and target.exists():
                todo.append(target.as_uri())
    return found


def test_index_math_and_every_page_load_without_errors(browser, report_tree):
    found = crawl(browser, report_tree / "index.html", ARTIFACTS / "tiny")
    assert {"index.html", "math.html", "pages__ufm.html"} <= set(found), sorted(found)
    assert not {page: p for page, p in found.items() if p}, found
    for page in found:
        assert (ARTIFACTS / "tiny" / f"{Path(page).stem}.png").stat().st_size > 10_000  # a real screenshot


def test_the_checker_sees_a_missing_image_a_broken_link_and_a_console_error(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"
                    "<img src='figures/missing.png' alt='x'><a href='pages/nowhere.html'>x</a><a href='#nothere'>y</a>"
                    "<p>with K n^{1/(L+1)} untypeset</p><p>the norm \\|M\\| and \\big( sized</p><pre>C:\\path \\| in code is literal</pre>"
                    "<table><tr><td style='min-width:2000px'>a wide table</td></tr></table>"
                    "<script>console.error('boom')</script></body></html>")
    problems = "\n".join(browser.visit(page.as_uri()).problems)
    assert "image did not load" in problems and "missing.png" in problems
    assert "broken link" in problems and "nowhere.html" in problems
    assert "broken anchor" in problems and "nothere" in problems
    assert "console error: boom" in problems
    assert "raw TeX in the text" in problems and "n^{1/(L+1)}" in problems  # the low-rank page once showed this
    assert "\\|M" in problems and "\\big(" in problems  # the math page once showed norms as \|
    assert "C:\\path" not in problems  # preformatted text (code, provenance JSON) is literal
    assert "table wider than the 1280 px window" in problems and "a wide table" in problems


def test_lazy_images_below_the_fold_are_awaited_not_called_missing(browser, tmp_path):
    """The pages' images are loading="lazy"; far below the first screen a headless window would not
    load them before the check (the index once reported four present figures as missing): the
    checker waits for every image, and still reports one that is truly absent."""
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "present.png")
    page = tmp_path / "tall.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'><title>t</title></head><body>"
                    "<div style='height:20000px'></div><img src='present.png' alt='p' loading='lazy'>"
                    "<div style='height:20000px'></div><img src='absent.png' alt='a' loading='lazy'></body></html>")
    problems = browser.visit(page.as_uri()).problems
    assert [p for p in problems if "image did not load" in p] == [f"image did not load: {(tmp_path / 'absent.png').as_uri()}"], problems


def test_the_demo_reports_if_given(browser):
    """Only with DEEPCOLLAPSE_REPORTS: the demo's (or a full run's) report tree passes the same checks."""
    given = os.environ.get("DEEPCOLLAPSE_REPORTS")
    if not given:
        return  # the tiny tree above is the default check; this one needs a pipeline run first
    found = crawl(browser, Path(given) / "index.html", ARTIFACTS / "given")
    assert not {page: p for page, p in found.items() if p}, found
