"""The report plumbing: figures saved with their data, the provenance block, the index, summaries."""

import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

from deepcollapse import rundir
from deepcollapse.errors import InputError
from deepcollapse.provenance import collect
from deepcollapse.reports import figures, index, pages, provenance, summary
from deepcollapse.store import write_dataset


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_save_writes_every_format_and_the_plotted_data(tmp_path):
    figures.use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2)
    n = np.array([10.0, 100.0, 1000.0])
    err = np.array([0.58, 0.18, 0.058])
    ax1.loglog(n, err, "o-", label="sigma=0.1")
    figures.reference(ax1.loglog(n, 0.58 * (n / 10) ** -0.5, "k--", label="n^-1/2"))
    ax1.set_title("error")
    mesh = ax2.pcolormesh([0, 1, 2], [0, 1], np.array([[1.0, np.nan]]))
    ax2.set_title("phase")
    written = figures.save(fig, "demo", directory=tmp_path / "figs", data_directory=tmp_path / "figs")
    assert sorted(p.name for p in written) == ["demo.csv", "demo.png", "demo.svg"]
    assert (tmp_path / "figs/demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "figs/demo.svg").read_bytes()[:500]
    rows = _rows(tmp_path / "figs/demo.csv")
    measured = [r for r in rows if r["series"] == "sigma=0.1"]
    assert [float(r["x"]) for r in measured] == n.tolist()
    assert [float(r["y"]) for r in measured] == err.tolist()
    assert {r["kind"] for r in rows if r["series"] == "n^-1/2"} == {"reference"}
    mesh_rows = [r for r in rows if r["kind"] == "mesh"]
    assert [float(r["x"]) for r in mesh_rows] == [0.5, 1.5]
    # 3 measured line points + 1 finite mesh cell; the reference curve and the NaN cell do not count
    assert figures.measured_points(tmp_path / "figs/demo.csv") == 4
    plt.close(fig)


def test_a_bar_chart_saves_one_row_per_bar(tmp_path):
    """Bars (a histogram of ranks on the literature page) are data too: centre and height per bar."""
    fig, ax = plt.subplots()
    ax.bar(np.array([5.0, 9.0]) - 0.2, [3, 7], width=0.4, label="GK25")
    ax.bar(np.array([5.0, 9.0]) + 0.2, [0, 10], width=0.4, label="SLM24")
    figures.save(fig, "hist", directory=tmp_path, formats=("png",))
    bars = [(r["series"], float(r["x"]), float(r["y"])) for r in _rows(tmp_path / "hist.csv") if r["kind"] == "bar"]
    assert bars == [("GK25", 4.8, 3.0), ("GK25", 8.8, 7.0), ("SLM24", 5.2, 0.0), ("SLM24", 9.2, 10.0)]
    assert figures.measured_points(tmp_path / "hist.csv") == 4
    plt.close(fig)


def test_a_figure_with_only_reference_curves_has_no_measured_data(tmp_path):
    fig, ax = plt.subplots()
    figures.reference(ax.axvline(0.3, label="threshold"))
    ax.plot([1, 2], [np.nan, np.nan], label="diverged run")
    figures.save(fig, "empty", directory=tmp_path, formats=("png",))
    assert figures.measured_points(tmp_path / "empty.csv") == 0
    plt.close(fig)


def test_svg_is_byte_identical_for_identical_data(tmp_path):
    figures.use_style()
    out = []
    for name in ("a", "b"):
        fig, ax = plt.subplots()
        ax.semilogy([1, 2, 3], [1e-1, 1e-5, 1e-12])
        figures.save(fig, name, directory=tmp_path, formats=("svg", "png"))
        plt.close(fig)
        out.append(((tmp_path / f"{name}.svg").read_bytes(), (tmp_path / f"{name}.png").read_bytes()))
    assert out[0] == out[1]


def test_every_format_is_saved_with_the_layout_finish_computed(tmp_path):
    """One layout, computed once at the figure's dpi, in every file: the PNG is the padded tight box
    of the figure as `finish` drew it, at the saved dpi; the figure keeps its layout engine."""
    figures.use_style()
    fig, (a, b) = plt.subplots(1, 2, figsize=(6, 3))
    a.loglog([1, 10, 100], [1e-3, 1e-2, 1], "o-", label="points")
    b.plot([0, 1], [2, 3], label="line")
    b.legend()
    figures.finish(fig)
    engine = fig.get_layout_engine()
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(matplotlib.rcParams["savefig.pad_inches"])
    figures.save(fig, "frozen", directory=tmp_path, dpi=120)
    width, height = pages.png_size(tmp_path / "frozen.png")
    assert abs(width - bbox.width * 120) <= 2 and abs(height - bbox.height * 120) <= 2, (width, height, bbox)  # rounding
    assert fig.get_layout_engine() is engine
    plt.close(fig)


@pytest.mark.parametrize("layout, colorbar", [(None, False), (None, True), ("constrained", True), ("tight", True)])
def test_saving_lays_the_figure_out_once_and_keeps_its_engine(tmp_path, monkeypatch, layout, colorbar):
    """Each file is one draw of the layout `finish` made, not a layout pass and a draw, and the
    figure's own engine is back afterwards (none, constrained, tight; with a colorbar, which `finish`
    lays out with the tight engine when the figure had none)."""
    from matplotlib.figure import Figure

    figures.use_style()
    fig, ax = plt.subplots(layout=layout)
    mesh = ax.pcolormesh(np.arange(4.0).reshape(2, 2))
    if colorbar:
        fig.colorbar(mesh, ax=ax)
    figures.finish(fig)
    engine = fig.get_layout_engine()
    draws = []
    original = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(type(renderer).__name__) or original(self, renderer))
    figures.save(fig, "once", directory=tmp_path, formats=("png", "svg"))
    assert draws == ["RendererAgg", "RendererAgg", "MixedModeRenderer"]  # finish's, then one per file
    assert fig.get_layout_engine() is engine
    plt.close(fig)


def test_a_page_figure_shows_the_saved_png_at_its_on_screen_size(tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)  # what the page would show, in order
    figures.use_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([1, 2, 3], [3, 1, 2], label="run")
    written = pages.figure(fig, "page", "the settings", directory=tmp_path / "f", data_directory=tmp_path / "d",
                           settings={"formats": ["png", "svg"], "dpi": 150})  # fmt: skip
    assert sorted(p.name for p in written) == ["page.csv", "page.png", "page.svg"]
    image, caption = shown
    assert image.data == (tmp_path / "f/page.png").read_bytes()  # the file itself, not another drawing
    width, _ = pages.png_size(tmp_path / "f/page.png")
    assert image.width == round(width * fig.dpi / 150)  # the figure's size on screen
    assert "the settings" in caption.data
    assert not plt.fignum_exists(fig.number)  # closed: the notebook's backend does not draw it again
    with pytest.raises(ValueError, match="not a PNG"):
        pages.png_size(tmp_path / "f/page.svg")


def _badly_styled_figure():
    """Text of 5-6 pt, legends over the data, markers centred on the axes' limits (half-clipped),
    on a log axis and on an inverted one."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.loglog([1, 10, 100], [1e-3, 1e-2, 1], "o", ms=8, label="points")
    a.set_xlim(1, 100)
    a.set_ylim(1e-3, 1)
    a.legend(fontsize=5, loc="center")
    b.scatter([0, 1], [0, 1], s=80, label="scatter")
    b.set_xlim(0, 1)
    b.set_ylim(0, 1)
    b.invert_yaxis()
    b.set_title("small", fontsize=6)
    b.legend(fontsize="xx-small")
    return fig


def test_the_house_style_is_measured_and_applied(tmp_path):
    import re
    import warnings

    figures.use_style()
    fig = _badly_styled_figure()
    problems = "\n".join(figures.style_problems(fig))
    assert "text of 5 pt" in problems and "text of 6 pt" in problems
    assert problems.count("legend over the data") == 2 and problems.count("clipped at the edge") == 2
    figures.finish(fig)
    assert figures.style_problems(fig) == []
    a, b = fig.get_axes()
    assert a.get_xlim()[0] < 1 < 100 < a.get_xlim()[1] and b.get_ylim()[0] > 1 > 0 > b.get_ylim()[1]  # inverted stays inverted
    plt.close(fig)
    with warnings.catch_warnings():
        warnings.simplefilter("error", figures.StyleWarning)  # save applies the style: nothing left to warn about
        figures.save(_badly_styled_figure(), "styled", directory=tmp_path, formats=("svg",))
    sizes = [float(v) for v in re.findall(r"font(?:-size)?:\s*([0-9.]+)px", (tmp_path / "styled.svg").read_text())]
    # SVG units are points at the saved size; mathtext sets an exponent (10^-3 on a log axis) at 70%
    assert sizes and min(sizes) >= 0.7 * figures.MIN_FONT_PT and sorted(sizes)[len(sizes) // 2] >= figures.MIN_FONT_PT
    plt.close("all")


def _store(path, *, epochs=3, seed=7):
    ds = xr.Dataset(
        {
            "NC1": (("epoch", "layer"), np.arange(epochs * 2, dtype=float).reshape(epochs, 2)),
            "accuracy": (("epoch",), np.linspace(0.5, 1.0, epochs)),
            "W": (("epoch", "k", "d"), np.zeros((epochs, 2, 3))),
        },
        coords={"epoch": [1, 5, 20][:epochs], "layer": ["stage1", "penultimate"]},
    )
    return write_dataset(ds, path, provenance=collect(params={"lr": 0.05}, seed=seed))


def test_a_long_title_is_wrapped_inside_the_figure():
    """A demo title listing every setting must not run past the figure (it shrank every panel)."""
    fig, ax = plt.subplots(figsize=(9, 3.6), constrained_layout=True)
    ax.plot([0, 1], [0, 1])
    lower = "digits: NC metrics per checkpoint — DEMO " + ", ".join(f"networks.train.setting_{i}=value_{i}" for i in range(12))
    digits = "DEMO " + ", ".join(f"{1000 + 37 * i}={2 ** i:.6e}" for i in range(14))  # digits, capitals: wider glyphs
    capitals = "DEMO: " + " ".join(["MNIST RESNET18 WIDTH WEIGHT DECAY EPOCHS"] * 4)
    for text, size in [(lower, "large"), (digits, "small"), (capitals, "medium")]:
        fig.suptitle("")
        figures.suptitle(fig, text, fontsize=size)
        fig.canvas.draw()
        title = fig._suptitle
        assert title.get_text().replace("\n", " ") == text and "\n" in title.get_text()
        box = title.get_window_extent()
        assert box.x0 >= 0 and box.x1 <= fig.bbox.width, (text, size, box)
    for shift in range(0, 60, 3):  # the line break falls at every place of the formula in turn
        math = "x" * shift + " DEMO " * 12 + "ETF for $\\lambda_b \\leq c / (1 - c) \\cdot K + 1 - 2$ and neither above"
        fig.suptitle("")
        figures.suptitle(fig, math, fontsize="large")
        assert all(line.count("$") % 2 == 0 for line in fig._suptitle.get_text().splitlines()), fig._suptitle.get_text()
        fig.canvas.draw()  # a '$' pair split over two lines raises here
    short = plt.figure(figsize=(9, 3.6))
    figures.suptitle(short, "fig2a")
    assert short._suptitle.get_text() == "fig2a"
    plt.close("all")


def test_provenance_block_names_every_input_with_its_revision_and_parameters(tmp_path):
    a = _store(tmp_path / "a.zarr", seed=3)
    b = tmp_path / "agreement.json"
    b.write_text(json.dumps({"rows": [], "provenance": collect(seed=11)}))
    run = tmp_path / "digits-mse"  # a training run directory: its provenance is in run.json
    run.mkdir()
    rundir.meta_path(run).write_text(json.dumps({"config": {}, "provenance": collect(seed=5)}))
    rows = provenance.summary_rows({"runs": {"mse": str(a)}, "table": str(b), "run": str(run)})
    assert [r["input"] for r in rows] == ["runs: mse", "table", "run"]
    assert [r["seed"] for r in rows] == [3, 11, 5]
    assert rows[0]["params"] == {"lr": 0.05}
    assert rows[0]["commit"] != "unknown"
    page = provenance.to_html({"runs": [str(a)]}, page_params={"page": "x"})
    assert "Provenance" in page and "&quot;lr&quot;: 0.05" in page and "Rendered by" in page


def test_provenance_block_shows_the_upstream_records_an_artifact_carries(tmp_path):
    # a metrics dataset keeps its features store's attrs, which keep the training run's record:
    # the page must show the training parameters, not only the metrics job's own
    training = collect(params={"lr": 0.05, "epochs": 200}, seed=4)
    ds = xr.Dataset({"NC1": (("epoch",), np.ones(2))}, attrs={"features": {"run": {"provenance": training}}})
    path = write_dataset(ds, tmp_path / "m.zarr", provenance=collect(params={"split": "train"}, seed=0))
    rows = provenance.summary_rows({"metrics": str(path)})
    assert [r["input"] for r in rows] == ["metrics", "metrics <- features.run"]
    assert rows[1]["params"] == {"lr": 0.05, "epochs": 200} and rows[1]["seed"] == 4
    assert "&quot;epochs&quot;: 200" in provenance.to_html({"metrics": str(path)})


def test_summary_takes_the_last_epoch_of_small_variables_only(tmp_path):
    _store(tmp_path / "m.zarr")
    out = summary.write({"digits-mse": tmp_path / "m.zarr"}, along="epoch", out=tmp_path / "s.json")
    data = json.loads(out.read_text())["digits-mse"]
    assert data["epoch"] == 20
    assert data["NC1"] == {"stage1": 4.0, "penultimate": 5.0}
    assert data["accuracy"] == 1.0
    assert "W" not in data  # three dimensions: a weight, not a metric
    with pytest.raises(InputError, match="no dimension 'iteration'"):
        summary.final_values(tmp_path / "m.zarr", along="iteration")


def test_index_links_every_page_and_figure_file(tmp_path):
    reports = tmp_path / "reports"
    (reports / "figures/fig2").mkdir(parents=True)
    # nbconvert titles a page with the file name; the notebook's first heading is the real title
    (reports / "fig2.html").write_text(
        '<html><head><title>fig2</title></head><body><h1 id="a">Fig. 2 &amp; more<a class="anchor-link" href="#a">\u00b6</a></h1></body></html>'
    )
    (reports / "theory.html").write_text("<html><head><title>Closed form</title></head></html>")
    (reports / "data/fig2").mkdir(parents=True)
    for ext in ("png", "svg"):
        (reports / f"figures/fig2/fig2a.{ext}").write_text("x")
    (reports / "data/fig2/fig2a.csv").write_text("x")
    out = index.build(pages=[reports / "fig2.html", reports / "theory.html"], out=reports / "index.html")
    text = out.read_text()
    for link in ('href="fig2.html"', 'href="theory.html"', 'src="figures/fig2/fig2a.png"', 'href="figures/fig2/fig2a.svg"', 'href="data/fig2/fig2a.csv"'):
        assert link in text
    assert '<a href="fig2.html">Fig. 2 &amp; more</a>' in text and '<a href="theory.html">Closed form</a>' in text
    assert "Provenance of this index" in text
    with pytest.raises(InputError, match="missing.html"):
        index.build(pages=[reports / "missing.html"], out=reports / "index.html")


def test_every_lazily_exported_submodule_exists():
    import deepcollapse.reports as reports

    modules = {p.stem for p in Path(reports.__file__).parent.glob("*.py")} - {"__init__"}
    assert reports._SUBMODULES == modules
    for name in sorted(modules):
        assert getattr(reports, name).__name__ == f"deepcollapse.reports.{name}"
