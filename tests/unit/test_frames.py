"""The one structure vocabulary (`deepcollapse.frames`): its thresholds are the ones docs/math.md's
table states, and its verdicts follow them at their edges."""

from __future__ import annotations

import math
import re

from deepcollapse import frames
from tests.support import ROOT


def _table_rows() -> dict[str, list[float]]:
    """verdict -> the powers of ten its condition names, from docs/math.md#structure-claims."""
    doc = (ROOT / "docs" / "math.md").read_text()
    section = doc[doc.index('<a id="structure-claims"></a>'):]
    section = section[:section.index("<a id=", 10)]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and not set(cells[0]) <= {"-"} and cells[0] != "verdict":
            rows[cells[0]] = [10.0 ** int(e) for e in re.findall(r"10\^\{(-?\d+)\}", " ".join(cells[1:]))]
    return rows


def test_the_thresholds_are_the_documented_ones():
    rows, t = _table_rows(), frames.DEFAULT
    assert rows["zero solution"] == [t.zero_norm]
    assert rows["collapsed"] == [t.collapse]
    assert rows["orthogonal frame"] == [t.frame]
    assert rows["simplex ETF"] == [t.frame, t.etf_of_tolerance]
    assert rows["agrees with the closed form"] == [t.agree]
    assert rows["below the closed form"] == [t.below]


def test_verdicts_at_the_edges_of_the_thresholds():
    t = frames.DEFAULT
    assert frames.frame_of(0.5, t.frame, K=4) == frames.OF
    assert frames.frame_of(0.5, t.frame * 1.001, K=4) == frames.NEITHER
    etf = frames.etf_of_distance(4)
    assert frames.frame_of(t.frame, etf + t.etf_of_tolerance * 0.99, K=4) == frames.ETF
    assert frames.frame_of(t.frame, etf + t.etf_of_tolerance * 1.01, K=4) == frames.NEITHER
    assert frames.frame_of(0.0, 0.0, K=4, norm=t.zero_norm) == frames.ZERO
    assert frames.frame_of(0.0, 0.0, K=4, norm=t.zero_norm * 1.01) == frames.OF
    assert frames.is_zero(3e-12) and not frames.is_zero(math.nan) and not frames.is_zero(None)
    assert frames.collapsed(t.collapse) is True and frames.collapsed(2 * t.collapse) is False and frames.collapsed(math.nan) is None
