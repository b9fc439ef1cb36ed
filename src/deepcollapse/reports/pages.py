"""What every report page says before its figures: which settings made it, and the links to the math.

`banner(overrides)` is the first thing a page shows: when the pipeline ran with overrides of
params.yaml (the CPU demo, `--configfile workflow/demo.yaml`) it lists every setting of this page
that differs from params.yaml, as computed by deepcollapse.reports.plan from the resolved config.
`demo_note(name, overrides)` is the suffix of a figure title whose run is not at the paper's setting
(" — DEMO": titles stay short) and `demo_caption(name, overrides)` the settings behind it, for the
caption under the figure; `demo_title(title, overrides)` marks a figure of a page whose data the
overrides concern as a whole (the low-rank study, the networks, the comparison).  `figure(fig, name,
caption, ...)` is how every page shows a figure: saved (`figures.save`), shown as the saved file,
closed, captioned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import figures, text
from .sweeps import text_name

_SOURCE_ANCHOR = re.compile(r"docs/math\.md#([a-z0-9-]+)")
#: Sections of the specification the project was written from -> the anchors of docs/math.md that
#: now hold them, so that results stored before the move still link to the right place.
LEGACY_SECTIONS = {
    "0": "notation", "1": "ufm-plain", "1.1": "ufm-bias-free", "1.2": "ufm-unregularized-bias",
    "1.3": "ufm-regularized-bias", "1.4": "ufm-cross-entropy", "2": "extended-linear", "2.1": "extended-linear",
    "2.2": "extended-relu", "3": "critical-point-identities", "4": "theorem-5-1", "5": "nc-metrics",
    "5.1": "nc-metrics", "6": "gd-protocol", "7": "extended-ce", "8": "deep-ufm",
}
_LEGACY = re.compile("SPEC" r"(?:-math)? §(\d+(?:\.\d+)?)(?:[–-]\d+(?:\.\d+)?)?")


def _value(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) >= 1e4:
        return f"{v:,}"
    return str(v)


def changes_of(name: str, overrides: Mapping[str, Any]) -> list[dict]:
    """The overrides of one UFM run (experiment or sweep `name`)."""
    prefixes = (f"ufm.experiments.{name}.", f"ufm.sweeps.{name}.")
    return [c for c in overrides.get("changes", []) if c["key"].startswith(prefixes)]


def banner_markdown(overrides: Mapping[str, Any] | None) -> str:
    """The demo notice (Markdown), or the statement that the page uses params.yaml as is."""
    overrides = overrides or {}
    changes, total = list(overrides.get("changes", [])), int(overrides.get("total", 0))
    if not total:
        return "*Settings: params.yaml as committed (no overrides).*"
    lines = [f"> **Not the paper's settings.** This pipeline ran with overrides of params.yaml "
             f"(e.g. `--configfile workflow/demo.yaml`, the CPU demo): {total} setting(s) differ."]
    if changes:
        lines.append("> This page's data were made with:")
        lines.append(">")
        for c in changes:
            lines.append(f"> * `{c['key']}`: {_value(c['here'])} here, {_value(c['params'])} in params.yaml")
        lines.append(">")
        lines.append("> Figures of these runs are titled DEMO; what they show is not what the paper's setting gives.")
    else:
        lines.append("> None of them concerns this page's data.")
    return "\n".join(lines)


def banner(overrides: Mapping[str, Any] | None) -> None:
    text.show(banner_markdown(overrides))


#: What a figure title ends with when its data are not at params.yaml's settings.
DEMO = " — DEMO"


def demo_note(name: str, overrides: Mapping[str, Any] | None) -> str:
    """' — DEMO' for a run the overrides changed, else '' (the settings go in `demo_caption`)."""
    return DEMO if changes_of(name, overrides or {}) else ""


def demo_caption(name: str, overrides: Mapping[str, Any] | None) -> str:
    """'DEMO: iters 200,000 (params.yaml: 2,000,000)' for a run the overrides changed, else ''."""
    changes = changes_of(name, overrides or {})
    if not changes:
        return ""
    return "DEMO: " + "; ".join(f"{c['key'].split('.', 3)[-1]} {_value(c['here'])} (params.yaml: {_value(c['params'])})" for c in changes)


def demo_title(title: str, overrides: Mapping[str, Any] | None) -> str:
    """`title` + ' — DEMO' when any override concerns this page's data (its banner lists them)."""
    return title + (DEMO if (overrides or {}).get("changes") else "")


def caption(markdown: str) -> None:
    """The caption under a figure (its settings; titles stay short): small text, Markdown with math."""
    if markdown:
        text.show(f"<small>{markdown}</small>")


def figure(fig, name: str, caption_markdown: str = "", *, directory, data_directory, settings: Mapping[str, Any]) -> list[Path]:
    """A page's figure: saved (`figures.save`: each of ``settings["formats"]`` at ``settings["dpi"]``,
    and its data), shown inline as saved, closed, then its caption.  Returns the files written.

    The page shows the saved PNG (or SVG) itself, at the size the figure has on screen, rather than
    letting the notebook's backend draw the figure once more: what the reader sees is the file.
    """
    # as everywhere in reports/: matplotlib only where a figure is drawn (the theory table's and the
    # plan's importers draw nothing)
    import matplotlib.pyplot as plt
    from IPython.display import SVG, Image, display

    written = figures.save(fig, name, directory=directory, data_directory=data_directory,
                           formats=settings["formats"], dpi=settings["dpi"])  # fmt: skip
    images = {path.suffix: path for path in written}
    if ".png" in images:
        width, _ = png_size(images[".png"])
        display(Image(filename=str(images[".png"]), width=round(width * fig.dpi / settings["dpi"])))
    elif ".svg" in images:
        display(SVG(filename=str(images[".svg"])))
    else:  # no image format asked for: the backend draws it
        display(fig)
    plt.close(fig)
    caption(caption_markdown)
    return written


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's header (its IHDR chunk comes first)."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG file")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


#: The fields of a stored UFM config that set each model's problem and run (a caption's settings).
_SETTINGS = {
    "plain": ("K", "n", "d", "lambda_W", "lambda_H", "lambda_b", "lr", "iters", "init_scale", "seed"),
    "extended": ("K", "n", "d1", "d2", "lambda_W1", "lambda_W2", "lambda_H1", "lr", "iters", "init_scale", "seed"),
    "deep": ("K", "n", "d", "depth", "lambda_W", "lambda_H", "lr", "iters", "init_scale", "seed"),
}


def settings_text(config: Mapping[str, Any], *, swept: tuple[str, ...] = ()) -> str:
    """'K = 4, n = 50, d = 20, λ_W = 0.005, λ_H = 0.005, lr = 0.1, iters = 100,000, seed = 0': the
    settings of a stored UFM config that its model uses (λ_b only with a regularized bias), less the
    `swept` fields (the figure's axis shows those)."""
    fields = _SETTINGS.get(str(config.get("model")), tuple(config))
    if config.get("bias") != "regularized":
        fields = tuple(f for f in fields if f != "lambda_b")
    return ", ".join(f"{text_name(k)} = {_value(config[k])}" for k in fields
                     if k in config and k not in swept and not isinstance(config[k], (bool, dict, list)))


def source_link(source: str) -> str:
    """A closed form's source ("docs/math.md#ufm-bias-free (Theorem 3.1)") as a Markdown link."""
    source = _LEGACY.sub(lambda m: f"docs/math.md#{LEGACY_SECTIONS.get(m.group(1), 'notation')}", source or "")
    return _SOURCE_ANCHOR.sub(lambda m: f"[docs/math.md#{m.group(1)}]({text.MATH_PAGE_FROM_PAGES}#{m.group(1)})", source or "")
