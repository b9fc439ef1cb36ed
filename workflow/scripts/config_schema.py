"""Write the field rules of params.yaml's JSON Schema from the package's declared constraints.

    python workflow/scripts/config_schema.py           # (re)write workflow/schemas/fields.schema.yaml
    python workflow/scripts/config_schema.py --check   # exit 1, naming the file, if it is out of date

Each configuration declares what its fields accept (`parameter_constraints`, in the vocabulary
of `deepcollapse.constraints`); this script turns every declaration into its JSON Schema
fragment, one closed object (`additionalProperties: false`) per configuration, under `$defs` of
workflow/schemas/fields.schema.yaml.  The hand-written schema files keep the structure of
params.yaml (its sections, the workflow's own keys, the sweep syntax) and `$ref` these objects,
so a range, an option or a device rule is written once: beside the configuration.

A UFM model's fields are declared by the model (`ufm.models`); a field several models read takes
the values any of them accepts (the deep model's per-layer `d` includes the plain model's single
one).  The generated file is committed; tests/unit/test_constraints.py fails when it is out of date.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_files import sync  # noqa: E402

from deepcollapse.asymptotic.configs import Config as AsymptoticConfig  # noqa: E402
from deepcollapse.constraints import Constraint, Nested, declarations, schema_name  # noqa: E402
from deepcollapse.nets.config import TrainConfig  # noqa: E402
from deepcollapse.ufm import models  # noqa: E402
from deepcollapse.ufm.config import Config as UFMConfig  # noqa: E402
from deepcollapse.ufm.lowrank_study import Study  # noqa: E402
from deepcollapse.ufm.papers import Setting as PapersSetting  # noqa: E402
from deepcollapse.ufm.theorem1 import Study as Theorem1Study  # noqa: E402

PROJECT = Path(__file__).resolve().parents[2]
TARGET = PROJECT / "workflow/schemas/fields.schema.yaml"
COMMAND = "python workflow/scripts/config_schema.py"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One configuration as params.yaml writes it: its class, the fields the workflow sets itself
    (absent from params.yaml), and keys params.yaml adds beside the fields (hand-written schemas)."""

    cls: type
    set_by_workflow: tuple[str, ...] = ()
    extra: dict = dataclasses.field(default_factory=dict)


#: The configurations params.yaml holds (nested ones, e.g. the Theorem 5.1 `extended:` study and
#: the low-rank sizes, follow from their `Nested` declarations).
ENTRIES = (
    # ufm.experiments.* and ufm.sweeps.*: a Config, plus the `sweep:` of a batched job (ufm.batched)
    Entry(UFMConfig, extra={"sweep": {"$ref": "ufm.schema.yaml#/$defs/sweep"}}),
    Entry(Study),
    Entry(Theorem1Study),
    Entry(PapersSetting),  # ufm.studies.papers.<name>: one named setting each
    Entry(AsymptoticConfig),
    # networks.train and networks.per_loss.*: the workflow sets dataset, loss and data per run
    # (networks.datasets and .losses list them: their values are generated too); threads is
    # networks.threads, passed by the rules as --threads (one key: the job's cores and torch's)
    Entry(TrainConfig, set_by_workflow=("dataset", "loss", "data", "threads")),
)


def field_constraints(cls: type) -> dict[str, Constraint]:
    """{field: constraint} of a configuration class, in field order.  For `ufm.Config`, a field a
    model reads takes the union of what the models that read it accept."""
    own = declarations(cls)
    if cls is not UFMConfig:
        return own
    out = {}
    for f in dataclasses.fields(cls):
        if f.name in own:
            out[f.name] = own[f.name]
            continue
        readers = [models.get(m).parameter_constraints[f.name] for m in models.names() if f.name in models.get(m).parameter_constraints]
        out[f.name] = _union(readers)
    return out


class _Union(Constraint):
    """What any of several constraints accepts (the schema only: the package checks the model's own)."""

    def __init__(self, members):
        self.members = members

    def json_schema(self):
        return {"anyOf": [m.json_schema() for m in self.members]}

    def words(self, context=None):
        return " or ".join(m.words(context) for m in self.members)


def _union(constraints: list[Constraint]) -> Constraint:
    distinct = []
    for c in constraints:
        if not any(d.includes(c) for d in distinct):
            distinct = [d for d in distinct if not c.includes(d)] + [c]
    return distinct[0] if len(distinct) == 1 else _Union(distinct)


def object_schema(cls: type, *, set_by_workflow=(), extra=None) -> dict:
    properties = {}
    for name, constraint in field_constraints(cls).items():
        if name not in set_by_workflow:
            properties[name] = constraint.json_schema()
    fields = {f.name for f in dataclasses.fields(cls)}
    missing = fields - set(properties) - set(set_by_workflow)
    if missing:
        raise SystemExit(f"{cls.__qualname__}: no constraint declared for {', '.join(sorted(missing))}")
    note = f" (the workflow sets {', '.join(set_by_workflow)} per run)" if set_by_workflow else ""
    return {
        "description": f"the fields of deepcollapse.{schema_name(cls)}{note}",
        "type": "object",
        "additionalProperties": False,
        "properties": {**properties, **(extra or {})},
    }


def nested_classes(cls: type) -> list[type]:
    out = []
    for constraint in field_constraints(cls).values():
        for c in _walk(constraint):
            if isinstance(c, Nested) and c.cls not in out:
                out += [c.cls, *nested_classes(c.cls)]
    return out


def _walk(constraint):
    yield constraint
    for attr in ("item",):
        inner = getattr(constraint, attr, None)
        if isinstance(inner, Constraint):
            yield from _walk(inner)


def schema() -> dict:
    defs = {}
    for entry in ENTRIES:
        defs[schema_name(entry.cls)] = object_schema(entry.cls, set_by_workflow=entry.set_by_workflow, extra=entry.extra)
        for cls in nested_classes(entry.cls):
            defs.setdefault(schema_name(cls), object_schema(cls))
        for name in entry.set_by_workflow:  # what the workflow's own lists of them may hold
            defs[f"{schema_name(entry.cls)}.{name}"] = field_constraints(entry.cls)[name].json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "field rules of params.yaml's configurations",
        "description": "Generated from the package's declared constraints; the other schema files $ref these objects.",
        "$defs": defs,
    }


class _Dumper(yaml.SafeDumper):
    """Writes a mapping of plain values on one line, as the hand-written schemas do, and no anchors."""

    def ignore_aliases(self, data):
        return True


def _represent_mapping(dumper, data):
    flat = all(not isinstance(v, dict) and not (isinstance(v, list) and any(isinstance(i, dict) for i in v)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat)


_Dumper.add_representer(dict, _represent_mapping)


def text() -> str:
    header = f"# Generated from the configurations' parameter_constraints by {COMMAND}: do not edit.\n"
    return header + yaml.dump(schema(), Dumper=_Dumper, sort_keys=False, width=140, allow_unicode=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the generated file is up to date")
    args = parser.parse_args(argv)
    return sync({TARGET: text()}, check=args.check, root=PROJECT, command=COMMAND)


if __name__ == "__main__":
    sys.exit(main())
