"""Helpers for the papermill report pages of the pipeline (workflow/notebooks/*.ipynb).

The notebooks stay short and readable because the mechanics live here:

* `figures`: a uniform style, and `save(fig, name, ...)` writing PNG + SVG + the plotted data as
  CSV next to each other, so that every figure has its numbers behind it;
* `provenance`: what produced the results a page shows (per input store: code revision, package
  versions, device, seed, parameters), rendered on every page;
* `index`: `reports/index.html` linking every page and figure (`deepcollapse report index`);
* `summary`: final metric values of result stores as a small JSON (`deepcollapse report summary`);
* `ufm_plots`, `asymptotic_plots`, `network_plots`: the figures and tables of each page.

Nothing here computes science: the pages only read stores written by the package's commands.
"""

from __future__ import annotations

import importlib

_SUBMODULES = {"figures", "provenance", "index", "summary", "ufm_plots", "asymptotic_plots", "network_plots"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
