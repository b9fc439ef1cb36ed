"""Validation of a workflow's parameters against its JSON Schema files, defaults filled in.

What `snakemake.utils.validate(config, schema)` does (Draft 2020-12, and every `default` of a property
written into the mapping as it is validated: the recipe of the jsonschema FAQ), with every schema file
of the folder read once.  Snakemake's own resolves each `$ref` by parsing the referenced file again
(through yte): 104 parses of six files, 1.8 s for one validation of params.yaml, twice in every
Snakemake start (the params and the paper's params), so in every DVC stage and every SLURM job;
here ~0.08 s (measured 2026-12-07 on this project's schemas).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import MutableMapping
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def _with_defaults(validator_class):
    """`validator_class`, writing each property's `default` into the instance before checking it."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, MutableMapping):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])  # never the cached schema's own list or dict
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(validator_class, {"properties": properties})


_Validator = _with_defaults(Draft202012Validator)
#: libyaml's parser where PyYAML was built with it (7x faster on these files), else the pure-Python one
_YAML = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _registry(folder: Path) -> Registry:
    """Every *.yaml schema of `folder`, by its file:// URI (how a relative `$ref` between them resolves)."""
    resources = [
        (path.as_uri(), Resource.from_contents(yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML), default_specification=DRAFT202012))
        for path in sorted(folder.glob("*.yaml"))
    ]
    return Registry().with_resources(resources)


def validate(params: MutableMapping, schema: str | Path) -> None:
    """Check `params` against the schema file `schema` (its `$ref`s to the files beside it resolved),
    filling in defaults in place; a mistake raises `jsonschema.ValidationError`."""
    path = Path(schema).resolve()
    registry = _registry(path.parent)
    contents = dict(registry.contents(path.as_uri()))
    contents["$id"] = path.as_uri()  # relative $refs resolve against this file, as in Snakemake's validate
    _Validator(contents, registry=registry).validate(params)
