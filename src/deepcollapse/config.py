"""Typed configuration objects built from YAML/dicts, with one-sentence errors.

Each experiment has a frozen dataclass of parameters (defaults in one place, nanoGPT style).
`from_mapping` refuses unknown keys and wrong types, naming the key and the source file, so a
typo in a YAML file fails before any computation starts.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import InputError, shown
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


#: The largest config file read (bytes): params.yaml is ~20 kB; a bigger file is a mistake
#: (`--config /dev/zero`, a data file), refused after reading this much.
MAX_CONFIG_BYTES = 4 * 2**20
#: The most values a document may hold once its aliases are expanded (YAML's "billion laughs":
#: nine aliases of nine aliases of ... are 9⁹ values, which every check and message would walk).
MAX_EXPANDED_NODES = 1_000_000


class _Refused(Exception):
    """A reason the reader refuses a document, turned into an InputError naming the file."""


def _no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> None:
    """Refuse a key written twice in one mapping (PyYAML would silently keep the last value)."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *base" merges a mapping in; its keys may be overridden on purpose
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise _Refused(f"a mapping key at line {key_node.start_mark.line + 1} is not a scalar") from None
        if key in seen:
            raise _Refused(f"duplicate key {shown(key)} at line {key_node.start_mark.line + 1} (first at line {seen[key]})")
        seen[key] = key_node.start_mark.line + 1


_Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: _dict_of(loader, node))


def _dict_of(loader, node):
    # SafeLoader's own dict constructor is a generator (for recursive structures); checking first
    # and building the mapping at once is enough for a configuration
    _no_duplicates(loader, node)  # the keys written here; merged-in ones ("<<") may be overridden
    return yaml.SafeLoader.construct_mapping(loader, node, deep=True)


def _expanded_size(node: yaml.Node, limit: int) -> int:
    """How many nodes `node` stands for with every alias expanded (shared nodes counted each time
    they are reached), computed once per distinct node; stops counting above `limit`."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node, depth: int = 0) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        if depth > 200:
            raise _Refused("nesting deeper than 200 levels")
        sizes[id(n)] = limit + 1  # a node reached from itself (a recursive alias) counts as too big
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(child, depth + 1) for child in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        sizes[id(n)] = min(total, limit + 1)
        return sizes[id(n)]

    return size(node)


def parse_yaml(text: str):
    """The document of YAML `text`, with YAML 1.2 floats (``1e-05`` is a number), duplicate keys
    refused and aliases expanding beyond MAX_EXPANDED_NODES refused (raises `_Refused`)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise _Refused(f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_text(path: str | os.PathLike, *, what: str = "config file") -> tuple[str, Path]:
    """The text of a config file ("-": standard input): UTF-8 only, at most MAX_CONFIG_BYTES.

    Returns (text, the path to name in errors).  Every refusal is one InputError naming the file.
    """
    if str(path) == "-":
        stream, path = getattr(sys.stdin, "buffer", None), Path("<stdin>")
        # a text stream without bytes under it (a test's StringIO) is read as text and encoded
        data = stream.read(MAX_CONFIG_BYTES + 1) if stream is not None else sys.stdin.read(MAX_CONFIG_BYTES + 1).encode()
    else:
        path = Path(path)
        try:
            with path.open("rb") as fh:  # bounded: `--config /dev/zero` would never end
                data = fh.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise InputError(f"{path}: cannot read {what} ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path}: {what} larger than {MAX_CONFIG_BYTES // 2**20} MiB; is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8") from None
    return text.removeprefix("\ufeff"), path  # a UTF-8 byte-order mark is harmless


def load_yaml(path: str | os.PathLike, *, key: str | None = None) -> dict[str, Any]:
    """Read a YAML mapping: the one config reader of every command.

    A missing or unreadable file, a file that is not UTF-8 or larger than MAX_CONFIG_BYTES, a
    syntax error, a duplicate key, aliases that expand too far, an empty document or one that is
    not a mapping: each an InputError naming the file.  `path` "-" reads standard input (the
    workflow pipes each job's resolved parameters as JSON, which is YAML).  `key` selects a nested
    mapping by a dotted path, e.g. "ufm.experiments.fig2a" to run one experiment straight from
    params.yaml.
    """
    text, path = read_text(path)
    try:
        data = parse_yaml(text)
    except _Refused as exc:
        raise InputError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}: invalid YAML{where}") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply") from None
    if data is None:
        raise InputError(f"{path}: expected a mapping of keys to values, got an empty document (not a mapping)")
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of keys to values, got {type(data).__name__} (not a mapping)")
    if key:
        node: Any = data
        for i, part in enumerate(key.split(".")):
            if not isinstance(node, dict) or part not in node:
                where = ".".join(key.split(".")[: i + 1])
                raise InputError(f"{path}: no key {shown(where)}")
            node = node[part]
        if not isinstance(node, dict):
            raise InputError(f"{path}: key {shown(key)} is not a mapping")
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
        raise errors[0] if errors else InputError(f"{where}: unexpected value {shown(value)}")
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise InputError(f"{where}: {shown(value)} is not one of {choices}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{where}: expected a list, got {shown(value)}")
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {shown(value)}")
        return dict(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {shown(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {shown(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {shown(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {shown(value)}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise InputError(f"{where}: expected a mapping, got {shown(value)}")
        return from_mapping(tp, value, source=where)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise InputError(f"{where}: expected {_type_name(tp)}, got {shown(value)}")
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
        raise InputError(f"{source}: unknown key {shown(unknown[0])} (allowed: {', '.join(sorted(fields))})")
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
