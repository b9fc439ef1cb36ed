"""docs/math.md's computable numbers: computed when the page is rendered, and the copies typed in the
Markdown equal to them (the ETF's distance to an OF at K = 10 was once typed 0.3249; it is 0.3204)."""

from __future__ import annotations

import math

import pytest

from deepcollapse.errors import InputError
from deepcollapse.reports import math_values, text
from tests.support import ROOT

DOC = ROOT / "docs" / "math.md"


def test_every_typed_value_is_the_computed_one():
    typed = math_values.typed(DOC.read_text())
    assert {"etf_of_K4", "etf_of_K10", "plain_objective", "extended_objective"} <= set(typed)
    wrong = {key: (shown, math_values.value(key)) for key, shown in typed.items() if shown != math_values.value(key)}
    assert not wrong, f"docs/math.md types values its closed forms do not give (typed, computed): {wrong}"


def test_the_values_are_the_closed_forms():
    assert math_values.value("etf_of_K10") == f"{math.sqrt(2 - 2 * math.sqrt(0.9)):.4f}" == "0.3204"
    assert math_values.value("etf_of_K4") == "0.5176"
    c = 4 * math.sqrt(50 * 5e-3 * 5e-3)
    assert math_values.value("plain_c") == f"{c:.10f}"
    assert math_values.value("plain_objective") == f"{c - c * c / 2:.15f}"  # Theorem 3.1's L* = c − c²/2
    assert math_values.value("unregularized_objective") == f"{0.75 * (c - c * c / 2):.15f}"


def test_the_rendered_page_shows_the_computed_value_not_the_typed_one(tmp_path):
    source = tmp_path / "doc.md"
    source.write_text("At $K=10$ an ETF is <!--=etf_of_K10-->0.3249<!--/--> from an OF, "
                      "and $\\big\\|M\\big\\|_F$ is typeset.\n")
    html = text.write_document(source, tmp_path / "doc.html").read_text()
    assert "0.3204" in html and "0.3249" not in html and "<!--=" not in html
    assert "\\|" not in html and "&#x02016;" in html  # the norm bars, not a literal \|
    source.write_text("<!--=no_such_value-->1<!--/-->")
    with pytest.raises(InputError, match="no computed value named 'no_such_value'"):
        text.write_document(source, tmp_path / "bad.html")
    with pytest.raises(InputError, match="TeX left in the output"):
        text.mathml("\\big\\foo x")
