"""Figures of the report pages: one style, and every figure saved with the data it plots.

`save(fig, name, directory=..., data_directory=...)` writes ``name.png`` and ``name.svg``, and
``name.csv`` (in `data_directory`, by default the same folder); the CSV holds every plotted series (lines, markers, images) in tidy form, so a reader can re-plot or check a
number without re-running the notebook, and the tests can check that no figure is empty.
Reference curves drawn from theory (a threshold, an n^(-1/2) guide) are tagged with
`REFERENCE` so that they are not mistaken for measured data.

The house style is applied by one function, `finish(fig)`, which `save` calls on every figure:
every text at least `MIN_FONT_PT` points at the saved size, every legend outside the data (a legend
drawn over an axes is moved to its right), and every marker whole inside its axes (limits padded
by the marker's radius).  `style_problems(fig)` measures the same three rules; `save` warns
(`StyleWarning`) when one still fails after `finish`, and the tests hold every page's figures to it.
Titles stay short: a figure's settings go in the caption the page prints under it.
"""

from __future__ import annotations

import csv
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..atomic import atomic_path

#: gid of artists that show theory, not measurements (see `reference`).
REFERENCE = "reference"
#: Formats written by `save` unless told otherwise.
FORMATS = ("png", "svg")
CSV_FIELDS = ("panel", "series", "kind", "x", "y", "value")
#: The smallest font a saved figure may carry, in points at its saved size.
MIN_FONT_PT = 9.0


class StyleWarning(UserWarning):
    """A saved figure breaks the house style (`style_problems` says how)."""


def use_style() -> None:
    """A compact, print-friendly style shared by every page (non-interactive backend safe)."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.fontsize": MIN_FONT_PT,
            "legend.frameon": False,
            "font.size": 10,
            "svg.hashsalt": "deepcollapse",  # deterministic SVG ids: reruns diff cleanly
            "svg.fonttype": "none",
        }
    )


def readable_log_ticks(ax) -> None:
    """Every log axis gets at least two labelled ticks, written as powers of ten ($10^{-3}$):
    an axis spanning less than two decades also labels its minor ticks; longer ones label only the
    decades (matplotlib's default labels minor ticks on short spans and they overlap)."""
    from matplotlib.ticker import LogFormatterSciNotation, LogLocator, NullFormatter

    for axis, scale, limits in ((ax.xaxis, ax.get_xscale(), ax.get_xlim()), (ax.yaxis, ax.get_yscale(), ax.get_ylim())):
        lo, hi = sorted(limits)
        if scale != "log" or lo <= 0:
            continue
        decades = math.log10(hi / lo)
        axis.set_major_locator(LogLocator(base=10, numticks=8))
        axis.set_major_formatter(LogFormatterSciNotation(base=10))
        if decades < 2:
            axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0), numticks=12))
            axis.set_minor_formatter(LogFormatterSciNotation(base=10, labelOnlyBase=False, minor_thresholds=(math.inf, math.inf)))
        else:
            axis.set_minor_formatter(NullFormatter())


def suptitle(fig, text: str, *, fontsize: str = "large") -> None:
    """`fig.suptitle(text)` wrapped to the figure's width: a long title (a demo's list of settings)
    would otherwise run past the edges, and constrained layout would shrink every panel to fit it.
    Lines are measured as rendered (digits and capitals are wider than an average character);
    the default size is matplotlib's own for a suptitle."""
    import textwrap

    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(size=fontsize)
    room = 0.96 * fig.get_figwidth() * 72  # points, a small margin on either side
    measure = TextToPath()
    # never break inside $…$: a line with one '$' is a mathtext syntax error when the figure is drawn
    glue = "\ue000"  # a private-use character textwrap does not break on, standing for a space in math
    guarded = "$".join(part.replace(" ", glue) if i % 2 else part for i, part in enumerate(text.split("$")))

    def fits(lines: list[str]) -> bool:  # measured without math rendering: an upper bound on the width
        return all(measure.get_text_width_height_descent(line.replace(glue, " "), prop, ismath=False)[0] <= room for line in lines)

    lines = [guarded]
    chars = len(text)
    while not fits(lines) and chars > 10:
        chars = min(chars - 1, int(chars * 0.95))
        lines = textwrap.wrap(guarded, chars, break_long_words=False)
    fig.suptitle("\n".join(lines).replace(glue, " "), fontsize=fontsize)


# ------------------------------------------------------------------------------ the house style
def _texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _marker_points(ax, *, data_only: bool = False):
    """(xy (n, 2), radius in pixels, transform to display) of every marker drawn in `ax` (lines with
    markers, scatters); points a log axis cannot show (≤ 0) are left out.  `data_only`: only markers
    placed in data coordinates (those the limits move)."""
    from matplotlib.collections import PathCollection

    dpi = ax.figure.dpi
    found = []
    for line in ax.get_lines():
        marker = line.get_marker()
        if not line.get_visible() or marker in (None, "", " ", "None", "none") or line.get_markersize() <= 0:
            continue
        radius = (line.get_markersize() / 2 + line.get_markeredgewidth() / 2) * dpi / 72
        found.append((np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2), radius, line.get_transform()))
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible() and len(coll.get_offsets()):
            sizes = np.asarray(coll.get_sizes(), dtype=float)
            radius = (math.sqrt(float(sizes.max())) / 2 if sizes.size else 3.0) * dpi / 72
            found.append((np.asarray(coll.get_offsets(), dtype=float).reshape(-1, 2), radius, coll.get_offset_transform()))
    for points, radius, transform in found:
        in_data = transform == ax.transData
        if data_only and not in_data:
            continue
        keep = np.all(np.isfinite(points), axis=1)
        if in_data:
            for axis, scale in ((0, ax.get_xscale()), (1, ax.get_yscale())):
                if scale == "log":
                    keep &= points[:, axis] > 0
        yield points[keep], radius, transform


def _scaled(ax, xy):
    """Data coordinates in the axes' scaled space (log10 on a log axis), where limits are linear."""
    with np.errstate(all="ignore"):
        return ax.transScale.transform(xy)


def _pad_limits(ax) -> bool:
    """Widen the limits of `ax` so that every marker lies whole inside it (not half-clipped at an
    edge); whether it changed a limit."""
    box = ax.get_window_extent()
    found = [(p, r) for p, r, _ in _marker_points(ax, data_only=True)]
    if not found or box.width <= 0 or box.height <= 0:
        return False
    changed = False
    for axis, size, get, put in ((0, box.width, ax.get_xlim, ax.set_xlim), (1, box.height, ax.get_ylim, ax.set_ylim)):
        lo_hi = np.asarray(get(), dtype=float)
        flipped = lo_hi[0] > lo_hi[1]
        corners = np.zeros((2, 2))
        corners[:, axis] = sorted(lo_hi)
        corners[:, 1 - axis] = 1.0  # any valid value on the other axis
        s0, s1 = _scaled(ax, corners)[:, axis]
        values, radii = [], []
        for points, radius in found:
            scaled = _scaled(ax, points)[:, axis]
            ok = np.isfinite(scaled) & np.all(np.isfinite(points), axis=1)
            values.append(scaled[ok])
            radii.append(np.full(int(ok.sum()), radius))
        values, radii = np.concatenate(values), np.concatenate(radii)
        if not values.size or not (np.isfinite(s0) and np.isfinite(s1)) or s1 <= s0:
            continue
        frac = float(radii.max()) / size + 0.005
        if frac >= 0.3:
            continue
        lo, hi = s0, s1
        for _ in range(4):  # the padding is a fraction of the padded span: iterate to its fixed point
            span = hi - lo
            lo, hi = min(s0, values.min() - frac * span), max(s1, values.max() + frac * span)
        if (lo, hi) == (s0, s1):
            continue
        corners[:, axis] = (lo, hi)
        new = ax.transScale.inverted().transform(corners)[:, axis]
        if not np.all(np.isfinite(new)) or ((ax.get_xscale(), ax.get_yscale())[axis] == "log" and new.min() <= 0):
            continue  # limits a log axis clips (a bound at 0): left as they are
        put(*(new[::-1] if flipped else new))
        changed = True
    return changed


def _legends_over_data(fig):
    """(axes, its legend) for every axes legend drawn over an axes of the figure."""
    renderer = fig.canvas.get_renderer()
    data = [ax.get_window_extent(renderer) for ax in fig.get_axes() if not _is_colorbar(ax) and ax.axison]
    for ax in fig.get_axes():
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent(renderer)
            if any(box.overlaps(a) for a in data):
                yield ax, legend


def _move_legend_out(ax, legend) -> None:
    handles, texts = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    fontsize = max(MIN_FONT_PT, legend.get_texts()[0].get_fontsize() if legend.get_texts() else MIN_FONT_PT)
    title = legend.get_title().get_text()
    ax.legend(handles, texts, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=fontsize,
              title=title or None, ncol=1, frameon=False)


def _is_colorbar(ax) -> bool:
    return ax.get_label() == "<colorbar>"  # the label matplotlib gives a colorbar's axes


def finish(fig):
    """Apply the house style to `fig` (see the module docstring); returns `fig`, drawn as it now is.

    A draw (text measured, constrained layout run) is most of a figure's cost, so the figure is drawn
    again only after a step changed it: legends moved out or a layout engine set, limits padded."""
    for text in _texts(fig):
        if text.get_fontsize() < MIN_FONT_PT:
            text.set_fontsize(MIN_FONT_PT)
    fig.canvas.draw()  # legends and layout placed at their final size
    over = list(_legends_over_data(fig))
    for ax, legend in over:
        _move_legend_out(ax, legend)
    laid_out = bool(fig.get_layout_engine())
    if not laid_out:  # room for the legends moved out; constrained layout cannot place a colorbar
        # made without it (matplotlib then gives the colorbar a gridspec of its own, which
        # constrained layout divides by zero on), tight layout can
        fig.set_layout_engine("tight" if any(map(_is_colorbar, fig.get_axes())) else "constrained")
    if over or not laid_out:
        fig.canvas.draw()
    padded = [_pad_limits(ax) for ax in fig.get_axes() if not _is_colorbar(ax)]
    if any(padded):
        fig.canvas.draw()
    return fig


def style_problems(fig, *, draw: bool = True) -> list[str]:
    """What in `fig` breaks the house style: small text, a legend over the data, a clipped marker.
    `draw=False`: `fig` is drawn as it is (`finish` leaves it so)."""
    if draw:
        fig.canvas.draw()
    problems = [f"text of {t.get_fontsize():g} pt < {MIN_FONT_PT:g} pt: {t.get_text()[:40]!r}" for t in _texts(fig)
                if t.get_fontsize() < MIN_FONT_PT]
    problems += [f"legend over the data in panel {ax.get_title()[:40]!r}" for ax, _ in _legends_over_data(fig)]
    for ax in fig.get_axes():
        if _is_colorbar(ax):
            continue
        box = ax.get_window_extent()
        for points, radius, transform in _marker_points(ax):
            if not len(points):
                continue
            with np.errstate(all="ignore"):
                shown = transform.transform(points)
            ok = np.all(np.isfinite(shown), axis=1)
            if not ok.any():
                continue
            x, y = shown[ok].T
            # a marker is clipped when its centre is inside the axes but its disc crosses the edge
            inside = (x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)
            cut = inside & ((x - radius < box.x0 - 0.5) | (x + radius > box.x1 + 0.5) | (y - radius < box.y0 - 0.5) | (y + radius > box.y1 + 0.5))
            if cut.any():
                problems.append(f"{int(cut.sum())} marker(s) clipped at the edge of panel {ax.get_title()[:40]!r}")
    return problems


def reference(artist):
    """Mark a matplotlib artist (or the list `ax.plot` returns) as a theory/reference curve."""
    for a in artist if isinstance(artist, (list, tuple)) else [artist]:
        a.set_gid(REFERENCE)
    return artist


def _panel_name(ax, index: int) -> str:
    return ax.get_title() or ax.get_ylabel() or f"panel{index}"


def _rows_of_axes(ax, panel: str) -> Iterable[dict]:
    from matplotlib.collections import PathCollection, QuadMesh
    from matplotlib.container import BarContainer
    from matplotlib.image import AxesImage

    for line in ax.get_lines():
        label = line.get_label()
        kind = "reference" if line.get_gid() == REFERENCE else "line"
        for x, y in np.asarray(line.get_xydata(), dtype=float):
            yield {"panel": panel, "series": label, "kind": kind, "x": x, "y": y, "value": ""}
    for coll in ax.collections:
        kind = "reference" if coll.get_gid() == REFERENCE else "points"
        if isinstance(coll, QuadMesh):
            values = np.asarray(coll.get_array(), dtype=float).ravel()
            centers = coll.get_coordinates()  # (rows+1, cols+1, 2) corners
            cx = 0.25 * (centers[:-1, :-1] + centers[1:, :-1] + centers[:-1, 1:] + centers[1:, 1:])
            for (x, y), v in zip(cx.reshape(-1, 2), values):
                yield {"panel": panel, "series": coll.get_label(), "kind": "mesh", "x": x, "y": y, "value": v}
        elif isinstance(coll, PathCollection):
            values = coll.get_array()
            offsets = np.asarray(coll.get_offsets(), dtype=float)
            for i, (x, y) in enumerate(offsets):
                v = "" if values is None else float(np.asarray(values).ravel()[i])
                yield {"panel": panel, "series": coll.get_label(), "kind": kind, "x": x, "y": y, "value": v}
    for container in ax.containers:  # bars (ax.bar, a histogram): one row per bar, x its centre, y its height
        if isinstance(container, BarContainer):
            for patch in container.patches:
                yield {"panel": panel, "series": container.get_label(), "kind": "bar",
                       "x": patch.get_x() + patch.get_width() / 2, "y": patch.get_height(), "value": ""}
    for image in ax.get_images():
        if isinstance(image, AxesImage):
            array = np.asarray(image.get_array(), dtype=float)
            for (r, c), v in np.ndenumerate(array):
                yield {"panel": panel, "series": image.get_label(), "kind": "image", "x": c, "y": r, "value": v}


def figure_rows(fig) -> list[dict]:
    """Every plotted point of `fig` as tidy rows (panel, series, kind, x, y, value)."""
    rows: list[dict] = []
    for i, ax in enumerate(fig.get_axes()):
        if _is_colorbar(ax):
            continue
        rows.extend(_rows_of_axes(ax, _panel_name(ax, i)))
    return rows


def save(
    fig,
    name: str,
    *,
    directory: str | os.PathLike,
    data_directory: str | os.PathLike | None = None,
    formats: Sequence[str] = FORMATS,
    dpi: int | None = None,
) -> list[Path]:
    """Write `fig` as ``directory/name.{png,svg}`` plus its data as ``data_directory/name.csv``.

    The pipeline keeps the CSVs out of the figure folder so that `dvc plots` (which renders every
    file of reports/figures) shows the images only.
    """
    directory = Path(directory)
    data_directory = Path(data_directory) if data_directory is not None else directory
    finish(fig)
    problems = style_problems(fig, draw=False)  # finish left it drawn in its final state
    if problems:
        warnings.warn(StyleWarning(f"{name}: " + "; ".join(problems)), stacklevel=2)
    directory.mkdir(parents=True, exist_ok=True)
    data_directory.mkdir(parents=True, exist_ok=True)
    written = []
    with _laid_out(fig) as bbox:
        for fmt in formats:
            target = directory / f"{name}.{fmt}"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=_metadata(fmt), bbox_inches=bbox)
            written.append(target)
    target = data_directory / f"{name}.csv"
    with atomic_path(target) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(figure_rows(fig))
    written.append(target)
    return written


@contextmanager
def _laid_out(fig):
    """The figure's layout and its tight bounding box (inches, padded as `savefig` pads it), as
    `finish` left it drawn, with the layout engine off meanwhile.

    `savefig` with a layout engine or ``bbox_inches="tight"`` lays the figure out and measures every
    text once more before it draws (and a vector backend parses each math label again for it): a
    second draw per file, about a third of a page's cost.  The layout `finish` computed at the
    figure's dpi is the one saved in every format instead."""
    import matplotlib as mpl

    engine = fig.get_layout_engine()
    pad = mpl.rcParams["savefig.pad_inches"]
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(pad, pad)
    # no engine at all: "none" installs a placeholder engine, and savefig lays out first whenever
    # there is an engine; None means no engine only where the rc parameters ask for none
    no_default = {"figure.autolayout": False, "figure.constrained_layout.use": False}
    with mpl.rc_context(no_default):
        fig.set_layout_engine(None)
    try:
        yield bbox
    finally:
        with mpl.rc_context(no_default):
            fig.set_layout_engine(engine)  # from no engine: no compatibility check to fail


def _metadata(fmt: str) -> dict:
    # No creation date in the files: identical data give identical bytes (DVC/git friendly).
    if fmt == "svg":
        return {"Date": None}
    if fmt == "png":
        return {"Software": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return {}


def measured_points(csv_path: str | os.PathLike) -> int:
    """Number of finite data points in a figure's CSV that are measurements, not reference curves."""
    count = 0
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] == "reference":
                continue
            cell = row["value"] if row["kind"] in ("mesh", "image") else row["y"]
            try:
                value = float(cell)
            except ValueError:
                continue
            count += math.isfinite(value)
    return count
