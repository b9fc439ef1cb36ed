"""`reports/index.html`: one page linking every rendered report page and every figure file."""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..outputs import html_marker
from ..provenance import collect
from ..store import write_text

_TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
section{border-top:1px solid #ddd;padding-top:.5rem;margin-top:1.5rem}
.figs{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0;width:15rem} figure img{width:100%;border:1px solid #eee}
figcaption{font-size:.8rem;color:#444} pre{font-size:.75rem;background:#f6f6f6;padding:.5rem;overflow:auto}
"""


def page_title(page: Path) -> str:
    """The page's first heading (a notebook's title cell), else its <title>, else its file name."""
    text = page.read_text(errors="replace")
    for pattern in (_H1, _TITLE):
        match = pattern.search(text)
        if match:
            title = html.unescape(_TAG.sub("", match.group(1))).replace("\u00b6", "").strip()
            if title:
                return title
    return page.stem


def _check_page(page: Path) -> None:
    """Refuse a page that is not HTML text (a store, an image, a binary file given by mistake)."""
    try:
        head = page.read_bytes()[:65536]
    except OSError as exc:
        raise InputError(f"{page}: cannot read report page ({exc.strerror})") from None
    text = head.decode("utf-8", errors="replace")
    if b"\0" in head or "<" not in text or text.count("\ufffd") > len(text) // 100:
        raise InputError(f"{page}: not an HTML page (binary or not markup); --pages takes rendered report pages")


def build(
    *,
    pages: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    figures_root: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    title: str = "deepcollapse reports",
    note: str = "",
) -> Path:
    """Write the index linking `pages` (rendered HTML), the figures under ``figures_root/<page>/``
    and their data under ``data_root/<page>/`` (both default to folders beside `out`)."""
    out = Path(out)
    figures_root = Path(figures_root) if figures_root is not None else out.parent / "figures"
    data_root = Path(data_root) if data_root is not None else out.parent / "data"
    esc = html.escape

    def rel(path: Path) -> str:
        return esc(os.path.relpath(path, out.parent))

    body = [f"<h1>{esc(title)}</h1>"]
    body.append('<p class="sub">Reproduction of Tirer &amp; Bruna, <i>Extended Unconstrained Features Model '
                "for Exploring Deep Neural Collapse</i> (ICML 2022). Each page states the provenance of its data.</p>")
    if note:  # e.g. the demo's: not the paper's settings (each page lists the overrides of its own data)
        body.append(f'<p class="note"><b>{esc(note)}</b></p>')
    math_page = out.parent / "math.html"  # docs/math.md rendered by the workflow (reports.text)
    if math_page.is_file():
        body.append(f'<p>Definitions, closed forms, metrics and what is verified: <a href="{rel(math_page)}">'
                    "the math document (docs/math.md)</a>.</p>")
    toc = []
    sections = []
    for page in map(Path, pages):
        if not page.is_file():
            raise InputError(f"{page}: report page does not exist")
        _check_page(page)
        name, heading = page.stem, page_title(page)
        toc.append(f'<li><a href="{rel(page)}">{esc(heading)}</a></li>')
        figs = []
        for png in sorted((figures_root / name).glob("*.png")):
            files = [png.with_suffix(".png"), png.with_suffix(".svg"), data_root / name / f"{png.stem}.csv"]
            links = " · ".join(f'<a href="{rel(f)}">{f.suffix[1:]}</a>' for f in files if f.exists())
            figs.append(
                f'<figure><a href="{rel(png)}"><img src="{rel(png)}" alt="{esc(png.stem)}" loading="lazy"></a>'
                f"<figcaption>{esc(png.stem)} — {links}</figcaption></figure>"
            )
        sections.append(
            f'<section id="{esc(name)}"><h2><a href="{rel(page)}">{esc(heading)}</a></h2>'
            + (f'<div class="figs">{"".join(figs)}</div>' if figs else "<p>(tables only)</p>")
            + "</section>"
        )
    body.append("<h2>Pages</h2><ul>" + "".join(toc) + "</ul>")
    body.extend(sections)
    body.append("<section><h2>Provenance of this index</h2><pre>")
    body.append(esc(json.dumps(collect(), indent=1, sort_keys=True)))
    body.append("</pre></section>")
    document = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{html_marker('index')}<title>{esc(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
    return write_text(document, out, kind="index")
