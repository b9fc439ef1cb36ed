"""Every relative link of README.md and docs/*.md resolves: the file exists and the #anchor is one of
its headings (GitHub's slug) or an explicit <a id>.  Documents move text between them; a link left
pointing at the old place fails here, not in a reader's browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# [text](target) outside code; a target with a scheme (http:, mailto:) is not ours to check
_LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
_ANCHOR = re.compile(r'<a\s+(?:id|name)="([^"]+)"')


def _prose(text: str) -> str:
    return _INLINE_CODE.sub("", _FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w keeps letters of any script, digits, underscore
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text()
    found = set(_ANCHOR.findall(text))
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", text)):
        base = slug(heading)
        n = seen.get(base, 0)
        found.add(base if n == 0 else f"{base}-{n}")  # GitHub numbers repeated headings
        seen[base] = n + 1
    return found


def links(path: Path) -> list[str]:
    return [t for t in _LINK.findall(_prose(path.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_slug_follows_github():
    assert slug("Theorem 5.1: fixed noisy features, finite n against the limit") == "theorem-51-fixed-noisy-features-finite-n-against-the-limit"
    assert slug("Running on a cluster (SLURM)") == "running-on-a-cluster-slurm"
    assert slug("UFM experiments (`deepcollapse ufm`)") == "ufm-experiments-deepcollapse-ufm"
    assert slug("The CPU demo (`make run`)") == "the-cpu-demo-make-run"


def test_the_checker_sees_a_broken_link(tmp_path):
    doc = tmp_path / "a.md"
    doc.write_text("# Title\n\n[ok](#title) [bad](#nope) [file](missing.md) `[code](x.md)`\n```\n[fenced](y.md)\n```\n")
    assert links(doc) == ["#title", "#nope", "missing.md"]
    assert anchors(doc) == {"title"}


@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    broken = []
    for target in links(doc):
        file_part, _, anchor = target.partition("#")
        path = (doc.parent / file_part).resolve() if file_part else doc
        if not path.exists():
            broken.append(f"{target}: no file {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no anchor #{anchor} in {path.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}:\n" + "\n".join(broken)


def test_the_documents_exist_and_the_readme_is_a_guide():
    names = {p.name for p in DOCUMENTS}
    assert {"README.md", "math.md", "configuration.md", "outputs.md", "operations.md", "measurements.md"} <= names
    assert len((ROOT / "README.md").read_text().splitlines()) <= 300  # issue 19: the reference lives in docs/


def test_math_md_links_only_within_itself():
    """docs/math.md is also published alone, as reports/math.html beside the pages (reports.text):
    a link to a sibling document (configuration.md#...) resolves on GitHub and breaks there."""
    outside = [link for link in links(ROOT / "docs/math.md") if not link.startswith("#")]
    assert not outside, outside
