"""One vocabulary for the meaningful values of every configuration field, scikit-learn style.

Each configuration declares, beside itself, ``parameter_constraints = {field: constraint}`` (the
UFM models, `ufm.Config`, `nets.config.TrainConfig`, the Theorem 5.1 configs, the low-rank study);
`validate_fields(config)` checks them and raises `InputError` with one sentence naming the
field and its value.  Rules that span several fields stay in the configuration's own `validate` method.

A constraint is introspectable, so that nothing about a range is written twice:

* ``str(c)`` / ``c.words()``: what it accepts, in words (the error messages use them);
* ``c.json_schema()``: its JSON Schema fragment (workflow/scripts/config_schema.py writes the
  schema of params.yaml from these);
* ``c.invalid_values()`` / ``c.valid_values()``: examples on both sides of it (the tests refuse
  every invalid value of every field of every configuration); ``c.schema_blind(value)`` says
  whether an invalid value is one the JSON Schema fragment cannot see (e.g. "strictly increasing").

Every number constraint refuses NaN and infinities: no field of the project means anything there.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import InputError, shown


class Constraint:
    """What a field accepts.  Subclasses define `accepts`, `words`, `json_schema` and the examples."""

    why = ""  # what the limit protects; ends the error message

    def accepts(self, value: Any, context: Any = None) -> bool:
        raise NotImplementedError

    def words(self, context: Any = None) -> str:
        raise NotImplementedError

    def refusal(self, name: str, value: Any, context: Any = None) -> str:
        """The one-sentence error for `value` of field `name` (`context`: the config holding it)."""
        why = f" ({self.why})" if self.why else ""
        return f"{name} must be {self.words(context)}, got {shown(value)}{why}"

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def invalid_values(self) -> list[Any]:
        raise NotImplementedError

    def valid_values(self) -> list[Any]:
        raise NotImplementedError

    def schema_blind(self, value: Any) -> bool:
        """True for an invalid value that the JSON Schema fragment cannot refuse."""
        return False

    def includes(self, other: "Constraint") -> bool:
        """Whether every value `other` accepts is accepted here (used to merge per-model declarations)."""
        return other == self

    def __str__(self) -> str:
        return self.words()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Interval(Constraint):
    """A finite number (``kind`` float) or integer (``kind`` int) in [low, high]; an end None is unbounded.

    ``closed`` says which ends belong to the interval: "both", "left", "right" or "neither".
    """

    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    why: str = ""

    def _low_closed(self) -> bool:
        return self.closed in ("both", "left")

    def _high_closed(self) -> bool:
        return self.closed in ("both", "right")

    def accepts(self, value: Any, context: Any = None) -> bool:
        if not _is_number(value) or (self.kind is int and not isinstance(value, numbers.Integral)):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (value == self.low and not self._low_closed())):
            return False
        return self.high is None or not (value > self.high or (value == self.high and not self._high_closed()))

    def words(self, context: Any = None) -> str:
        if self.high is None and self.low == 0:  # the two ranges most fields have, said in words
            positive = "positive" if not self._low_closed() else "non-negative"
            return f"a {positive} {'integer' if self.kind is int else 'number'}"
        if self.high is None and self.low == 1 and self.kind is int and self._low_closed():
            return "a positive integer"
        parts = []
        if self.low is not None:
            parts.append(f"{'>=' if self._low_closed() else '>'} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<=' if self._high_closed() else '<'} {self.high:g}")
        name = "an integer" if self.kind is int else "a number"
        return name + (" " + " and ".join(parts) if parts else "")

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if self.kind is int else "number"}
        if self.low is not None:
            out["minimum" if self._low_closed() else "exclusiveMinimum"] = _plain(self.low, self.kind)
        if self.high is not None:
            out["maximum" if self._high_closed() else "exclusiveMaximum"] = _plain(self.high, self.kind)
        return out

    def invalid_values(self) -> list[Any]:
        out: list[Any] = ["1", True, None]
        if self.kind is int:
            out.append(1.5)
            if self.low is not None:
                out.append(math.ceil(self.low) - 1 if self._low_closed() else math.floor(self.low))
            if self.high is not None:
                out.append(math.floor(self.high) + 1 if self._high_closed() else math.ceil(self.high))
        else:
            out += [math.nan, math.inf, -math.inf]
            if self.low is not None:
                out.append(self.low - 1e-3 * max(1.0, abs(self.low)) if self._low_closed() else self.low)
            if self.high is not None:
                out.append(self.high + 1e-3 * max(1.0, abs(self.high)) if self._high_closed() else self.high)
        return out

    def valid_values(self) -> list[Any]:
        def inside(end: float, closed: bool, step: float) -> float | int:
            x = end if closed else end + step * max(1.0, abs(end))
            return (math.ceil(x) if step > 0 else math.floor(x)) if self.kind is int else float(x)

        out = [] if self.low is not None or self.high is not None else [3 if self.kind is int else 0.5]
        if self.low is not None:
            out.append(inside(self.low, self._low_closed(), 1e-3))
        if self.high is not None:
            out.append(inside(self.high, self._high_closed(), -1e-3))
        return [v for v in out if self.accepts(v)]

    def schema_blind(self, value: Any) -> bool:
        # JSON has no NaN or infinity, and a JSON Schema "number" accepts a float that a YAML
        # reader would hand the package as it is; such values are refused by the package alone
        return _is_number(value) and not math.isfinite(value)


def _plain(x: float, kind: type) -> float | int:
    """A bound as JSON writes it: an integer for an integer field or a whole number."""
    return int(x) if kind is int or float(x).is_integer() else float(x)


@dataclasses.dataclass(frozen=True)
class Options(Constraint):
    """One of a fixed set of strings; `choices` may be a function (a registry read when checking)."""

    choices: tuple[str, ...] | Callable[[], Sequence[str]]

    def _choices(self) -> tuple[str, ...]:
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def accepts(self, value: Any, context: Any = None) -> bool:
        return isinstance(value, str) and value in self._choices()

    def words(self, context: Any = None) -> str:
        return "one of " + ", ".join(repr(c) for c in self._choices())

    def refusal(self, name: str, value: Any, context: Any = None) -> str:
        return f"{name}={shown(value)} is not {self.words(context)}"

    def json_schema(self) -> dict[str, Any]:
        return {"enum": list(self._choices())}

    def invalid_values(self) -> list[Any]:
        return ["not-an-option", 1, None]

    def valid_values(self) -> list[Any]:
        return list(self._choices())


@dataclasses.dataclass(frozen=True)
class Pattern(Constraint):
    """A string matching `regex` (a whole-string match), described by `description`."""

    regex: str
    description: str
    invalid: tuple[str, ...] = ()
    valid: tuple[str, ...] = ()

    def accepts(self, value: Any, context: Any = None) -> bool:
        return isinstance(value, str) and re.fullmatch(self.regex, value) is not None

    def words(self, context: Any = None) -> str:
        return self.description

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{self.regex})$"}

    def invalid_values(self) -> list[Any]:
        return [*self.invalid, 0, None]

    def valid_values(self) -> list[Any]:
        return list(self.valid)


@dataclasses.dataclass(frozen=True)
class Boolean(Constraint):
    def accepts(self, value: Any, context: Any = None) -> bool:
        return isinstance(value, bool)

    def words(self, context: Any = None) -> str:
        return "true or false"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def invalid_values(self) -> list[Any]:
        return ["yes", 1, None]

    def valid_values(self) -> list[Any]:
        return [True, False]


@dataclasses.dataclass(frozen=True)
class Text(Constraint):
    """Any string (a path, a name)."""

    def accepts(self, value: Any, context: Any = None) -> bool:
        return isinstance(value, str)

    def words(self, context: Any = None) -> str:
        return "a string"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string"}

    def invalid_values(self) -> list[Any]:
        return [1, None]

    def valid_values(self) -> list[Any]:
        return ["x"]


@dataclasses.dataclass(frozen=True)
class OrNone(Constraint):
    """None (the field's "not given"), or a value `item` accepts."""

    item: Constraint

    def accepts(self, value: Any, context: Any = None) -> bool:
        return value is None or self.item.accepts(value, context)

    def words(self, context: Any = None) -> str:
        return f"{self.item.words(context)} or null"

    def json_schema(self) -> dict[str, Any]:
        inner = self.item.json_schema()
        if isinstance(inner.get("type"), str):
            return {**inner, "type": [inner["type"], "null"]}
        if "enum" in inner:
            return {"enum": [*inner["enum"], None]}
        return {"anyOf": [inner, {"type": "null"}]}

    def invalid_values(self) -> list[Any]:
        return [v for v in self.item.invalid_values() if v is not None]

    def valid_values(self) -> list[Any]:
        return [None, *self.item.valid_values()]

    def schema_blind(self, value: Any) -> bool:
        return self.item.schema_blind(value)


@dataclasses.dataclass(frozen=True)
class ListOf(Constraint):
    """A list (a tuple once built) of at least `min_items` values each accepted by `item`; optionally strictly increasing."""

    item: Constraint
    min_items: int = 1
    increasing: bool = False

    def accepts(self, value: Any, context: Any = None) -> bool:
        return self._problem(value, context) is None

    def _problem(self, value: Any, context: Any) -> tuple[str, Any] | None:
        if not isinstance(value, (list, tuple)):
            return ("type", value)
        if len(value) < self.min_items:
            return ("short", value)
        for i, v in enumerate(value):
            if not self.item.accepts(v, context):
                return ("item", i)
        if self.increasing and any(not b > a for a, b in zip(value, value[1:])):
            return ("order", value)
        return None

    def words(self, context: Any = None) -> str:
        kind = "strictly increasing list" if self.increasing else "list"
        size = "a non-empty " if self.min_items == 1 else ("a " if not self.min_items else f"a {self.min_items}+ item ")
        return f"{size}{kind} of values each {self.item.words(context)}"

    def refusal(self, name: str, value: Any, context: Any = None) -> str:
        problem = self._problem(value, context)
        if problem and problem[0] == "item":
            return self.item.refusal(f"{name}[{problem[1]}]", value[problem[1]], context)
        if problem and problem[0] == "short":
            return f"{name} must list at least {self.min_items} value{'s' if self.min_items > 1 else ''}, got {shown(list(value))}"
        if problem and problem[0] == "order":
            return f"{name} must be strictly increasing, got {shown(list(value))}"
        return super().refusal(name, value, context)

    def json_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array"}
        if self.min_items:
            out["minItems"] = self.min_items
        out["items"] = self.item.json_schema()
        return out

    def invalid_values(self) -> list[Any]:
        good = self.item.valid_values()
        out: list[Any] = ["x", 1]
        if self.min_items:
            out.append([])
        out += [[*good[:1], bad] for bad in self.item.invalid_values() if bad is not None]
        if self.increasing and good:
            out.append([good[0], good[0]])
        return out

    def valid_values(self) -> list[Any]:
        good = self.item.valid_values()
        if self.increasing:
            good = sorted(set(good))
        return [good[: max(1, self.min_items)]] if good else []

    def schema_blind(self, value: Any) -> bool:
        problem = self._problem(value, None)
        if problem and problem[0] == "item":
            return self.item.schema_blind(value[problem[1]])
        return bool(problem) and problem[0] == "order"


@dataclasses.dataclass(frozen=True)
class PerLayer(Constraint):
    """A value `item` accepts, or a list of exactly `config.<length>` of them (one per layer, bottom first)."""

    item: Constraint
    length: str = "depth"  # the field of the config holding the number of layers

    def _length(self, context: Any) -> int | None:
        return getattr(context, self.length, None) if context is not None else None

    def accepts(self, value: Any, context: Any = None) -> bool:
        if isinstance(value, (list, tuple)):
            length = self._length(context)
            return bool(value) and (length is None or len(value) == length) and all(self.item.accepts(v, context) for v in value)
        return self.item.accepts(value, context)

    def words(self, context: Any = None) -> str:
        return f"{self.item.words(context)}, or a list of one per layer"

    def refusal(self, name: str, value: Any, context: Any = None) -> str:
        length = self._length(context) if isinstance(value, (list, tuple)) else None
        extra = f" ({self.length} {length})" if length is not None else ""
        return f"{name} must be {self.words(context)}{extra}, got {shown(value)}"

    def json_schema(self) -> dict[str, Any]:
        item = self.item.json_schema()
        return {"oneOf": [item, {"type": "array", "minItems": 1, "items": item}]}

    def invalid_values(self) -> list[Any]:
        good = self.item.valid_values()
        return [*self.item.invalid_values(), [], *([[good[0], bad] for bad in self.item.invalid_values() if bad is not None] if good else [])]

    def valid_values(self) -> list[Any]:
        return self.item.valid_values()

    def includes(self, other: Constraint) -> bool:
        return other == self or other == self.item

    def schema_blind(self, value: Any) -> bool:
        if isinstance(value, (list, tuple)):
            return any(self.item.schema_blind(v) for v in value)
        return self.item.schema_blind(value)


@dataclasses.dataclass(frozen=True)
class Nested(Constraint):
    """A nested configuration (a dataclass that validates itself when built)."""

    cls: type

    def accepts(self, value: Any, context: Any = None) -> bool:
        return isinstance(value, self.cls)

    def words(self, context: Any = None) -> str:
        return f"a mapping of {self.cls.__name__} keys"

    def json_schema(self) -> dict[str, Any]:
        return {"$ref": f"#/$defs/{schema_name(self.cls)}"}

    def invalid_values(self) -> list[Any]:
        return [1, "x", None]

    def valid_values(self) -> list[Any]:
        try:
            return [self.cls()]  # its defaults, where every field has one
        except TypeError:
            return []


def schema_name(cls: type) -> str:
    """The `$defs` name of a configuration class in the generated schema ("nets.config.TrainConfig")."""
    return f"{cls.__module__.removeprefix('deepcollapse.')}.{cls.__qualname__}"


#: The ranges most fields have.
POSITIVE_INT = Interval(int, 1)
NONNEGATIVE_INT = Interval(int, 0)
NONNEGATIVE = Interval(float, 0.0)
POSITIVE = Interval(float, 0.0, closed="right")
#: The `device` field of every configuration (networks, UFM runs and studies, Theorem 5.1): "auto"
#: is CUDA when this machine has it, else the CPU (the networks' default); a configuration checks
#: the spelling when it is built, `devices.resolve` checks the machine when a job starts (declared
#: here, not beside torch, so that reading a configuration never imports torch).
DEVICE = Pattern(
    r"auto|cpu|cuda(:[0-9]+)?",
    "'auto', 'cpu', 'cuda' or 'cuda:N'",
    invalid=("gpu", "tpu", "cuda:", "cpu:0", "CUDA"),
    valid=("auto", "cpu", "cuda", "cuda:1"),
)


# ----------------------------------------------------------------------------------- checking
def validate_fields(config: Any, declared: Mapping[str, Constraint] | None = None, *, prefix: str = "") -> None:
    """Raise InputError naming the first field of `config` (in declaration order) that its constraint refuses.

    `declared`: {field: constraint}, by default `declarations(type(config))`.  `prefix` is put
    before the field's name in the message ("extended." for a nested config).
    """
    if declared is None:
        declared = declarations(type(config))
    for name, constraint in declared.items():
        value = getattr(config, name)
        if not constraint.accepts(value, config):
            raise InputError(constraint.refusal(prefix + name, value, config))


def declarations(cls: type) -> dict[str, Constraint]:
    """Every declared constraint of configuration class `cls`, in field order.

    Its `parameter_constraints`, plus the constraints its annotations already state and that are
    not repeated there: a ``Literal[...]`` field takes one of its values (`Options`), a ``bool``
    field true or false, a ``str`` field any string, a nested configuration `Nested`; each
    optionally ``| None``.  Numbers always need a declared range.
    """
    return dict(_declarations(cls))


@functools.cache  # a class's declarations do not change (an Options of a registry reads it when checking)
def _declarations(cls: type) -> tuple[tuple[str, Constraint], ...]:
    explicit = dict(getattr(cls, "parameter_constraints", {}))
    hints = typing.get_type_hints(cls)
    out: dict[str, Constraint] = {}
    for f in dataclasses.fields(cls):
        constraint = explicit.pop(f.name, None) or from_annotation(hints[f.name])
        if constraint is not None:
            out[f.name] = constraint
    out.update(explicit)  # constraints of fields the dataclass does not have are a bug the tests catch
    return tuple(out.items())


def from_annotation(tp: Any) -> Constraint | None:
    """The constraint an annotation states by itself (None for numbers and other types)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        inner = from_annotation(rest[0]) if len(rest) == 1 else None
        return OrNone(inner) if inner is not None else None
    if origin is typing.Literal:
        return Options(tuple(args))
    if tp is bool:
        return Boolean()
    if tp is str:
        return Text()
    if dataclasses.is_dataclass(tp):
        return Nested(tp)
    return None
