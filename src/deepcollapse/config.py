"""Typed configuration objects built from YAML/dicts, with one-sentence errors.

Each experiment has a frozen dataclass of parameters (defaults in one place, nanoGPT style).
`from_mapping` refuses unknown keys and wrong types, naming the key and the source file, so a
typo in a YAML file fails before any computation starts.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import InputError
from .store import jsonable

T = TypeVar("T")


class _Loader(yaml.SafeLoader):
    """SafeLoader reading floats as YAML 1.2 / JSON do.

    PyYAML implements YAML 1.1, where ``1e-05`` (no dot) is a *string*, yet it is exactly what
    ``json.dumps(1e-05)`` writes: the workflow pipes parameters as JSON, so small learning rates
    and weight decays would be refused as "expected a number" without this resolver.
    """


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _first in list(_Loader.yaml_implicit_resolvers):
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _Loader.yaml_implicit_resolvers[_first] if tag != "tag:yaml.org,2002:float"
    ]
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    """yaml.safe_load with YAML 1.2 floats (``1e-05`` is a number)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def load_yaml(path: str | os.PathLike, *, key: str | None = None) -> dict[str, Any]:
    """Read a YAML mapping; a missing file, a syntax error or a non-mapping is an InputError.

    `path` "-" reads standard input (the workflow pipes each job's resolved parameters as JSON,
    which is YAML).  `key` selects a nested mapping by a dotted path, e.g. "ufm.experiments.fig2a"
    to run one experiment straight from params.yaml.
    """
    if str(path) == "-":
        import sys

        text, path = sys.stdin.read(), Path("<stdin>")
    else:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise InputError(f"{path}: cannot read config file ({exc.strerror})") from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: invalid YAML{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of keys to values, got {type(data).__name__}")
    if key:
        node: Any = data
        for i, part in enumerate(key.split(".")):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(key.split(".")[: i + 1])
                raise InputError(f"{path}: no key {where!r}")
            node = node[part]
        if not isinstance(node, dict):
            raise InputError(f"{path}: key {key!r} is not a mapping")
        data = node
    return data


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; allow int -> float and list -> tuple."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is typing.Union or origin is types.UnionType:
        for option in args:
            if option is type(None) and value is None:
                return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except InputError as exc:
                errors.append(exc)
        raise errors[0] if errors else InputError(f"{where}: unexpected value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise InputError(f"{where}: {value!r} is not one of {choices}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {value!r}")
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        return from_mapping(tp, value, source=where)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise InputError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def from_mapping(cls: type[T], mapping: Mapping[str, Any], *, source: str = "config") -> T:
    """Build dataclass `cls` from `mapping`, refusing unknown keys and wrong types.

    `source` names where the mapping came from (a file path) and prefixes every error.  The
    dataclass's own ``__post_init__`` then checks values (its declared constraints, see
    `deepcollapse.constraints`, and the rules that span fields).
    """
    if not isinstance(mapping, Mapping):
        raise InputError(f"{source}: expected a mapping, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(map(str, mapping)) - set(fields))
    if unknown:
        raise InputError(f"{source}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(fields))})")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(value, hints[name], f"{source}: key {name!r}") for name, value in mapping.items()}
    try:
        return cls(**kwargs)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


def from_yaml(cls: type[T], path: str | os.PathLike, *, key: str | None = None) -> T:
    source = str(path) if not key else f"{path} [{key}]"
    return from_mapping(cls, load_yaml(path, key=key), source=source)


def to_dict(obj: Any) -> dict[str, Any]:
    """Resolved parameters of a config dataclass as plain JSON types (for provenance)."""
    return jsonable(dataclasses.asdict(obj))
