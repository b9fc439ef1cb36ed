"""deepcollapse: unconstrained features models and exact neural-collapse metrics.

A reproduction and extension of Tirer & Bruna, "Extended Unconstrained Features Model for
Exploring Deep Neural Collapse" (ICML 2022).  The mathematics the code implements is written
down in the repository's ``docs/math.md``; every closed form is checked against gradient descent
in the tests.

Submodules are imported lazily so that ``import deepcollapse`` stays cheap (torch is only loaded
when a submodule that needs it is used)::

    from deepcollapse import metrics, ufm, asymptotic
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"metrics", "ufm", "asymptotic", "nets", "data", "store", "provenance", "errors", "config"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
