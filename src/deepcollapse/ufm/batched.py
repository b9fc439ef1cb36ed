"""Sweeps: many UFM configs of equal shapes solved as one batched tensor computation.

A sweep is a base `Config` plus axes.  Each axis is a dimension of the result; it sets one or
more Config fields to each of its values (several fields move together, e.g. λ_W = λ_H along the
phase diagram).  The cartesian product of the axes is solved as a single batch of problems on
the config's device, with NC metrics computed in batch (`batched_metrics`).

In YAML, next to the base config's fields::

    sweep:
      seed: [0, 1, 2, 3, 4]                      # dim "seed" sets field seed
      lambda:                                    # dim "lambda" sets lambda_W and lambda_H
        fields: [lambda_W, lambda_H]
        values: [0.005, 0.02, 0.035, 0.05]
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import re

from ..config import from_mapping as config_from_mapping
from ..errors import InputError, shown
from ..provenance import collect
from . import solver
from .config import BATCHABLE, Config

#: Names the result dataset already uses, or its join with the closed forms (`ufm.joined`) adds
#: (a sweep dimension may not take them).
RESERVED = ("iteration", "class", "sample", "label", "objective", "objective_gap", "grad_norm", "b")
RESERVED_PREFIXES = ("norm_", "theory_", "NC", "dead_")
#: parameter, level and dim names of every model: W, W1.., H, H1.., Z, Z2.., feature, feature1..
RESERVED_PATTERN = re.compile(r"^(W|H|Z|feature)\d*$")


@dataclasses.dataclass(frozen=True)
class Axis:
    """One dimension of a sweep: `fields` all take each of `values` in turn."""

    name: str
    fields: tuple[str, ...]
    values: tuple[float | int, ...]


@dataclasses.dataclass(frozen=True)
class Sweep:
    axes: tuple[Axis, ...]

    @classmethod
    def from_mapping(cls, mapping: Any, *, source: str = "sweep") -> "Sweep":
        """Parse the `sweep:` mapping (dim name → list of values, or → {fields, values})."""
        if not isinstance(mapping, Mapping) or not mapping:
            raise InputError(f"{source}: expected a non-empty mapping of dimension names to values")
        axes = [_parse_axis(str(name), spec, where=f"{source}.{name}") for name, spec in mapping.items()]
        seen: set[str] = set()
        for axis in axes:
            for field in axis.fields:
                if field in seen:
                    raise InputError(f"{source}.{axis.name}: field {field!r} is swept by two dimensions")
                seen.add(field)
        return cls(tuple(axes))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def size(self) -> int:
        """The number of points (problems), without building them (a cost check reads it first)."""
        return math.prod(self.shape)

    def first_point(self) -> dict[str, Any]:
        """The field overrides of the first point alone (the base config is validated with them)."""
        return self._point(tuple(a.values[0] for a in self.axes))

    def _point(self, combo) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for axis, value in zip(self.axes, combo):
            for field in axis.fields:
                point[field] = float(value) if field != "seed" else int(value)
        return point

    def points(self) -> list[dict[str, Any]]:
        """Field overrides of every point, in C order of the axes."""
        return [self._point(combo) for combo in itertools.product(*(a.values for a in self.axes))]

    def describe(self, point: dict[str, Any]) -> str:
        return ", ".join(f"{a.name}={point[a.fields[0]]:g}" for a in self.axes)

    def to_dict(self) -> dict[str, Any]:
        return {a.name: {"fields": list(a.fields), "values": list(a.values)} for a in self.axes}


def _parse_axis(name: str, spec: Any, *, where: str) -> Axis:
    if isinstance(spec, Mapping):
        if set(spec) - {"fields", "values"} or "values" not in spec:
            raise InputError(f"{where}: expected keys 'fields' and 'values', got {sorted(map(str, spec))}")
        fields, values = spec.get("fields", [name]), spec["values"]
    else:
        fields, values = [name], spec
    if not name.isidentifier() or name in RESERVED or name.startswith(RESERVED_PREFIXES) or RESERVED_PATTERN.match(name):
        raise InputError(f"{where}: {shown(name)} cannot name a dimension (not an identifier, or a name the result uses)")
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
        raise InputError(f"{where}: 'fields' must be a non-empty list of Config field names")
    for field in fields:
        if field not in BATCHABLE:
            raise InputError(f"{where}: cannot sweep {field!r} in one batch (sweepable: {', '.join(BATCHABLE)})")
    if "seed" in fields and len(fields) > 1:
        raise InputError(f"{where}: seed must be swept on its own dimension")
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise InputError(f"{where}: expected a non-empty list of values")
    integer = list(fields) == ["seed"]
    for v in values:
        ok = isinstance(v, int) if integer else isinstance(v, (int, float)) and math.isfinite(v)
        if isinstance(v, bool) or not ok:
            raise InputError(f"{where}: values must be {'integers' if integer else 'numbers'}, got {shown(v)}")
    if len(set(values)) != len(values):
        raise InputError(f"{where}: values repeat")
    return Axis(name, tuple(fields), tuple(values))


def from_mapping(mapping: Mapping[str, Any], *, source: str = "config") -> tuple[Config, Sweep | None]:
    """A config mapping (Config fields, optionally a `sweep:` entry) → (base Config, Sweep or None).

    Fields the sweep sets need not appear in the base: the base is validated with the sweep's
    first point applied (a regularized-bias sweep over λ_b needs no λ_b of its own).
    """
    if not isinstance(mapping, Mapping):
        raise InputError(f"{source}: expected a mapping of Config fields")
    fields = dict(mapping)
    spec = fields.pop("sweep", None)
    if spec is None:
        return config_from_mapping(Config, fields, source=source), None
    sweep = Sweep.from_mapping(spec, source=f"{source}: sweep")
    return config_from_mapping(Config, {**fields, **sweep.first_point()}, source=source), sweep


def configs_of(base: Config, sweep: Sweep) -> list[Config]:
    """Every point's Config (each validated: a λ or lr out of range names its sweep point)."""
    out = []
    for point in sweep.points():
        try:
            out.append(dataclasses.replace(base, **point))
        except InputError as exc:
            raise InputError(f"sweep point ({sweep.describe(point)}): {exc}") from None
    return out


def solve_sweep(base: Config, sweep: Sweep, *, metrics: solver.MetricsMode = "batched", progress=None, backend: solver.Backend = "auto"):
    """Solve every point of `sweep` as one batch; dims (*sweep dims, "iteration") as in `ufm.solve`.

    attrs: "config" (the base config), "sweep" (the axes), "provenance"; the closed form of each
    point is joined on the theory side (`ufm.joined.with_theory`), not stored.
    """
    configs = configs_of(base, sweep)
    points = sweep.points()
    trajectory = solver.run(configs, metrics=metrics, on_nonfinite=lambda i: f"sweep point {sweep.describe(points[i])}", progress=progress, backend=backend)
    record = base.resolved()
    swept = {field for axis in sweep.axes for field in axis.fields}
    if "init_scale" in swept and "init_scale_features" not in swept and base.init_scale_features is None:
        # the feature scale followed init_scale at every point: resolving it to the first point's
        # value would make the stored config describe the other points wrongly
        record["init_scale_features"] = None
    params = {"config": record, "sweep": sweep.to_dict()}
    return solver.to_dataset(
        configs,
        trajectory,
        sweep_dims=[(a.name, a.values) for a in sweep.axes],
        attrs={
            "config": record,
            "sweep": sweep.to_dict(),
            "provenance": collect(params=params, device=base.device),
        },
    )
