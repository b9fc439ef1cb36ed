"""The numbers of docs/math.md that can be computed, computed when the document is rendered.

docs/math.md marks such a number as ``<!--=key-->0.3204<!--/-->``: the Markdown shows the typed
value (a reader of the source, or of the repository's web view, sees it), and the rendered page
(`text.write_document`, reports/math.html) shows `VALUES[key]()` in its place, computed by the
package's own closed forms.  A test holds the typed copy to the computed one, so the two cannot
drift apart (the ETF's distance to an OF at K = 10 was once typed 0.3249; it is 0.3204).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..asymptotic import limit
from ..config import from_mapping
from ..errors import InputError
from ..frames import etf_of_distance
from ..ufm import Config, theory

#: The reference setting of docs/math.md: K = 4, n = 50, d = 20, every λ = 5·10⁻³.
_PLAIN = dict(model="plain", K=4, n=50, d=20, lambda_W=5e-3, lambda_H=5e-3)
_EXTENDED = dict(model="extended", K=4, n=50, d1=20, d2=20, lambda_W1=5e-3, lambda_W2=5e-3, lambda_H1=5e-3)
_DEEP = dict(model="deep", depth=3, K=3, n=8, d=8, lambda_W=2e-3, lambda_H=2e-3)


def _info(**fields) -> dict:
    return theory.minimizer(from_mapping(Config, fields, source="docs/math.md reference"))


def _c_over_one_minus_c() -> float:
    c = _info(**_PLAIN, bias="none")["c"]
    return c / (1 - c)


def _rank_levels() -> str:
    levels = _info(**_EXTENDED, activation="linear")["rank_levels"]
    return ", ".join(f"{v:.5f}".rstrip("0").rstrip(".") if v == 0.5 else f"{v:.5f}" for v in levels)


#: key -> (what computes it, how it is printed).
VALUES: dict[str, tuple[Callable[[], object], str]] = {
    "etf_of_K4": (lambda: etf_of_distance(4), ".4f"),
    "etf_of_K10": (lambda: etf_of_distance(10), ".4f"),
    "plain_c": (lambda: _info(**_PLAIN, bias="none")["c"], ".10f"),
    "plain_objective": (lambda: _info(**_PLAIN, bias="none")["objective"], ".15f"),
    "unregularized_objective": (lambda: _info(**_PLAIN, bias="unregularized")["objective"], ".15f"),
    "regularized_threshold": (_c_over_one_minus_c, ".6f"),
    "regularized_p": (lambda: _info(**_PLAIN, bias="regularized", lambda_b=0.5)["p"], ".10f"),
    "regularized_objective_0.5": (lambda: _info(**_PLAIN, bias="regularized", lambda_b=0.5)["objective"], ".15f"),
    "regularized_objective_0.005": (lambda: _info(**_PLAIN, bias="regularized", lambda_b=0.005)["objective"], ".15f"),
    "ce_x_star": (lambda: _info(**_PLAIN, bias="none", loss="ce")["x_star"], ".12f"),
    "ce_objective": (lambda: _info(**_PLAIN, bias="none", loss="ce")["objective"], ".15f"),
    "extended_threshold": (lambda: 2 ** (-4 / 3), ".5f"),
    "extended_local_threshold": (lambda: 0.75 * 4 ** (-1 / 3), ".4f"),
    "extended_K_rho": (lambda: _info(**_EXTENDED, activation="linear")["control"], ".10f"),
    "extended_x_star": (lambda: _info(**_EXTENDED, activation="linear")["x_star"], ".12f"),
    "extended_objective": (lambda: _info(**_EXTENDED, activation="linear")["objective"], ".15f"),
    "extended_rank_levels": (_rank_levels, "s"),
    "extended_ce_objective": (lambda: _info(**_EXTENDED, activation="linear", loss="ce")["objective"], ".15f"),
    "extended_ce_etf_objective": (lambda: _info(**_EXTENDED, activation="linear", loss="ce")["candidates"]["simplex ETF"], ".15f"),
    "deep_objective": (lambda: _info(**_DEEP)["objective"], ".12g"),
    "theorem51_a_0.1": (lambda: limit(K=4, lambda_W=5e-3, lambda_H_tilde=0.25, sigma=0.1), ".5f"),
    "theorem51_a_0.5": (lambda: limit(K=4, lambda_W=5e-3, lambda_H_tilde=0.25, sigma=0.5), ".5f"),
}

#: A computed number in the Markdown: <!--=key-->typed value<!--/-->.
MARK = re.compile(r"<!--=([\w.]+)-->(.*?)<!--/-->", re.S)


def value(key: str) -> str:
    """The number `key` as the rendered page prints it."""
    if key not in VALUES:
        raise InputError(f"docs/math.md: no computed value named {key!r} (known: {', '.join(sorted(VALUES))})")
    compute, spec = VALUES[key]
    result = compute()
    return format(result, spec) if spec != "s" else str(result)


def typed(markdown: str) -> dict[str, str]:
    """{key: the value typed in the Markdown} for every marked number (what a test compares)."""
    return {m.group(1): m.group(2) for m in MARK.finditer(markdown)}


def substitute(markdown: str) -> str:
    """The Markdown with every marked number replaced by its computed value (markers dropped)."""
    cache: dict[str, str] = {}
    return MARK.sub(lambda m: cache.setdefault(m.group(1), value(m.group(1))), markdown)
