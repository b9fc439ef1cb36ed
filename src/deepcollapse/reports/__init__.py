"""Helpers for the papermill report pages of the pipeline (workflow/notebooks/*.ipynb).

The notebooks stay short and readable because the mechanics live here:

* `figures`: a uniform style, and `save(fig, name, ...)` writing PNG + SVG + the plotted data as
  CSV next to each other, so that every figure has its numbers behind it;
* `provenance`: what produced the results a page shows (per input store: code revision, package
  versions, device, seed, parameters), rendered on every page;
* `index`: `reports/index.html` linking every page and figure (`deepcollapse report index`);
* `summary`: final metric values of result stores as a small JSON (`deepcollapse report summary`);
* `ufm_plots`, `asymptotic_plots`, `network_plots`: the figures and tables of each page;
* `claims`: what a page may say about a result, by the thresholds of docs/math.md#structure-claims;
* `sweeps`: the points of a UFM sweep and how every page names them (read by `claims` and `ufm_plots`);
* `pages`: the demo banner (settings that differ from params.yaml), links to the math document, and
  `figure`: each figure saved, then shown as the saved file;
* `text`: Markdown with LaTeX as HTML + MathML (no script), and docs/math.md rendered as reports/math.html;
* `math_values`: the numbers of docs/math.md that can be computed, computed when it is rendered;
* `theory_table`: the theory page's table, every row, non-agreeing first, with counts and reasons;
* `plan`: which pages a configuration has, what each reads and its parameters (read by the Snakefile);
* `literature`: the literature page's rows, each published claim with our number and a verdict rule.

Nothing here computes science: the pages only read stores written by the package's commands (the
closed-form thresholds come from `deepcollapse.ufm.theory`) — except `literature`, whose rows
evaluate `ufm.candidates`, the deep linear closed form and a few reduced solves while the page renders
(seconds), so that its numbers are never typed.
"""

from __future__ import annotations

import importlib

_SUBMODULES = {"figures", "provenance", "index", "summary", "ufm_plots", "asymptotic_plots", "network_plots", "claims",
               "pages", "text", "theory_table", "comparison", "lowrank_plots", "sweeps", "plan",
               "literature", "math_values"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
