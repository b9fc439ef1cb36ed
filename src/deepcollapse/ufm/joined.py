"""A gradient-descent store joined to its closed forms, on the theory side.

A store written by `deepcollapse ufm` holds what gradient descent produced and the config that
produced it, no closed-form value: the GD stage then never depends on the theory's code, and a
fix to a closed form reruns the theory table and the pages only, not hours of GD.  Whoever
compares GD with theory joins here:

* `point_configs(ds)`: the `ufm.Config` of every problem of a store (its stored config with each
  sweep point's fields set), in the order of the store's sweep dimensions;
* `with_theory(ds)`: the store with, per problem, "theory_objective" (the closed-form minimum,
  NaN without one), "theory_zero" (the minimizer is 0) and, per logged iteration, "objective_gap"
  ((objective − theory_objective)/|theory_objective|); attrs "theory" (`theory.minimizer` of a
  single run) or "theory_source" (of a sweep's first point).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from ..config import from_mapping
from ..errors import InputError
from . import theory
from .config import Config

#: What `with_theory` adds to a store (and what an older store carried itself).
THEORY_VARIABLES = ("theory_objective", "theory_zero", "objective_gap")


def point_configs(ds) -> list[tuple[dict[str, int], Config]]:
    """(index of the point along each sweep dimension, its Config) for every problem of a UFM store."""
    try:
        base = from_mapping(Config, dict(ds.attrs["config"]), source="stored config")
    except InputError as exc:
        raise InputError(f"the store's config is not a UFM config ({exc})") from None
    sweep = ds.attrs.get("sweep") or {}
    names = list(sweep)
    out = []
    for combo in itertools.product(*(range(len(sweep[name]["values"])) for name in names)):
        index = dict(zip(names, combo))
        overrides = {}
        for name, i in index.items():
            value = sweep[name]["values"][i]
            for field in sweep[name]["fields"]:
                overrides[field] = int(value) if field == "seed" else float(value)
        out.append((index, dataclasses.replace(base, **overrides)))
    return out


def with_theory(ds) -> Any:
    """`ds` with the closed-form variables of the module docstring (a new Dataset; `ds` is left alone).

    A dataset that has them already (joined before, or written by a version that stored them) is
    returned as it is, so that every report function may call this on what it is given.
    """
    if all(name in ds for name in THEORY_VARIABLES):
        return ds
    points = point_configs(ds)
    info = [theory.minimizer(config) for _, config in points]
    dims = tuple(ds.attrs.get("sweep") or {})
    shape = tuple(ds.sizes[d] for d in dims)
    T = ds.sizes["iteration"]
    theory_objective = np.array([i["objective"] for i in info], dtype=np.float64)
    objective = np.asarray(ds["objective"].transpose(*dims, "iteration").values).reshape(len(points), T)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = (objective - theory_objective[:, None]) / np.abs(theory_objective[:, None])
    out = ds.assign(
        objective_gap=(dims + ("iteration",), gap.reshape(shape + (T,))),
        theory_objective=(dims, theory_objective.reshape(shape)),
        theory_zero=(dims, np.array([bool(i["zero"]) for i in info]).reshape(shape)),
    )
    out["objective_gap"].attrs["description"] = "(objective − theory_objective)/|theory_objective|"
    if dims:
        base = from_mapping(Config, dict(ds.attrs["config"]), source="stored config")
        out.attrs["theory_source"] = theory.minimizer(base).get("source", "")
    else:
        out.attrs["theory"] = info[0]
    return out
