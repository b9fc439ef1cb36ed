"""Text of the report pages: Markdown with LaTeX math, typeset as MathML.

Browsers render MathML natively, so a page needs no MathJax script and no network to show its math
(the pages are read offline and tested in headless Chromium, where a CDN script is a console error).
`html(text)` turns Markdown with ``$…$`` / ``$$…$$`` math into HTML; `show(text)` displays it from
a notebook; `write_document` renders docs/math.md itself as reports/math.html, the page every report
page links to for its definitions (`math_link`), with its computable numbers computed
(`math_values`).

    python -m deepcollapse.reports.text docs/math.md reports/math.html
"""

from __future__ import annotations

import html as _html
import os
import re
import sys
from pathlib import Path

from ..errors import InputError
from ..store import write_text
from . import math_values

#: The rendered math document, relative to a report page in reports/pages/.
MATH_PAGE_FROM_PAGES = "../math.html"

_BLOCK = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$(?!\$)", re.S)
_PLACEHOLDER = "MATHPLACEHOLDER{}X"
_RESTORE = re.compile(r"MATHPLACEHOLDER(\d+)X")

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #ccc;padding:.2rem .5rem;vertical-align:top}
code{background:#f4f4f4;padding:0 .2rem} math[display=block]{margin:.6rem 0}
math{font-family:"STIX Two Math","Latin Modern Math","Cambria Math","DejaVu Math TeX Gyre",math}
"""


#: Delimiters latex2mathml leaves as TeX after a size command (`\big\|` gives <mo ...>\|</mo>).
_DELIMITERS = {"\\|": "&#x02016;", "\\Vert": "&#x02016;", "\\lVert": "&#x02016;", "\\rVert": "&#x02016;",
               "\\vert": "|", "\\lvert": "|", "\\rvert": "|", "\\{": "{", "\\}": "}",
               "\\langle": "&#x027E8;", "\\rangle": "&#x027E9;"}
_MO_TEX = re.compile(r"(<mo[^>]*>)(\\[A-Za-z]+|\\.)(</mo>)")
_LEFT_TEX = re.compile(r">[^<]*\\[^<]*<")


def mathml(tex: str, *, display: bool = False) -> str:
    r"""One LaTeX formula as MathML; an unsupported construct, or TeX the converter would leave in
    the output as text (a reader would see `\|`), raises naming the formula."""
    from latex2mathml.converter import convert

    try:
        out = convert(tex.strip(), display="block" if display else "inline")
    except Exception as exc:  # latex2mathml raises its own exception types per construct
        raise InputError(f"cannot typeset the formula {tex.strip()!r}: {exc}") from None
    out = _MO_TEX.sub(lambda m: m.group(1) + _DELIMITERS.get(m.group(2), m.group(2)) + m.group(3), out)
    left = _LEFT_TEX.search(out)
    if left:
        raise InputError(f"cannot typeset the formula {tex.strip()!r}: TeX left in the output ({left.group(0)[1:-1]!r})")
    return out


def html(text: str) -> str:
    """Markdown with $…$ / $$…$$ math as an HTML fragment (math as MathML).  The math is cut out
    before the Markdown parser runs, so that '|', '_' and '*' inside a formula stay math."""
    from markdown_it import MarkdownIt

    formulas: list[str] = []

    def stash(rendered: str) -> str:
        formulas.append(rendered)
        return _PLACEHOLDER.format(len(formulas) - 1)

    text = _BLOCK.sub(lambda m: stash(mathml(m.group(1), display=True)), text)
    text = _INLINE.sub(lambda m: stash(mathml(m.group(1))), text)
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    return _RESTORE.sub(lambda m: formulas[int(m.group(1))], rendered)


def show(text: str) -> None:
    """Display Markdown with math in a notebook (an HTML output, kept as is by nbconvert)."""
    from IPython.display import HTML, display

    display(HTML(html(text)))


def math_link(anchor: str, label: str | None = None) -> str:
    """A Markdown link from a report page to a section of the math document."""
    return f"[{label or 'docs/math.md#' + anchor}]({MATH_PAGE_FROM_PAGES}#{anchor})"


def write_document(source: str | os.PathLike, out: str | os.PathLike, *, title: str = "deepcollapse: the mathematics") -> Path:
    """Render a Markdown document with math (docs/math.md) as a standalone HTML page."""
    source = Path(source)
    if not source.is_file():
        raise InputError(f"{source}: no such document")
    body = html(math_values.substitute(source.read_text()))  # computed numbers: computed now, not typed
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}"
            f"<p><small>Rendered from <code>{_html.escape(str(source))}</code> of the repository.</small></p></body></html>\n")
    return write_text(page, out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m deepcollapse.reports.text SOURCE.md OUT.html", file=sys.stderr)
        return 2
    try:
        write_document(args[0], args[1])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
