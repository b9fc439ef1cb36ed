"""The points of a UFM sweep and how every page names them.

A run's dataset has dims ("iteration",) or (*sweep dims, "iteration"); `members` yields each sweep
point with its label ("λ=0.005, seed=3").  Data only: the verdicts (`claims`) and the figures
(`ufm_plots`) both read sweeps through it.
"""

from __future__ import annotations

import itertools
import re


def text_name(name: str) -> str:
    """A parameter name in plain text, where no math is typeset (tables, labels): lambda_W1 -> λ_W1."""
    return re.sub(r"^lambda(?=_|$)", "λ", name)


def point_label(dim: str, value) -> str:
    """How every page names one value of a swept dimension: "λ=0.005", "seed=3"."""
    return f"{text_name(dim)}={value:g}"


def _point_labels(point, sel) -> str:
    return ", ".join(point_label(d, point[d].item()) if d in point.coords else point_label(d, i) for d, i in sel.items())


def sweep_dims(ds) -> list[str]:
    return [d for d in ds["objective"].dims if d != "iteration"]


def members(ds):
    """(label, dataset restricted to one sweep point) for every point of a sweep (one for a run)."""
    dims = sweep_dims(ds)
    if not dims:
        yield "", ds
        return
    for combo in itertools.product(*(range(ds.sizes[d]) for d in dims)):
        sel = dict(zip(dims, combo))
        point = ds.isel(sel)
        yield _point_labels(point, sel), point
