"""The one constraint vocabulary (`deepcollapse.constraints`) and what is derived from it.

* Every field of every configuration has a declared constraint, and every invalid value the
  declaration produces is refused when the configuration is built, with one line naming the field.
* The JSON Schema of params.yaml is generated from the declarations (workflow/scripts/config_schema.py):
  the committed file is up to date, each field's rule in it is the declaration's fragment, and it
  refuses the same invalid values (those a JSON Schema can see) and accepts the valid ones.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from deepcollapse import constraints as C
from deepcollapse.asymptotic.configs import Config as AsymptoticConfig, ExtendedConfig
from deepcollapse.constraints import DEVICE
from deepcollapse.errors import InputError
from deepcollapse.nets.config import TrainConfig
from deepcollapse.ufm import models
from deepcollapse.ufm.config import Config as UFMConfig
from deepcollapse.ufm.lowrank import Size, Study
from deepcollapse.ufm.papers import Setting

ROOT = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").is_file())
SCHEMAS = ROOT / "workflow/schemas"


def _script():
    spec = importlib.util.spec_from_file_location("config_schema", ROOT / "workflow/scripts/config_schema.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("config_schema", module)  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


config_schema = _script()


# ------------------------------------------------------------------ the configurations and their fields
def _ufm_base(owner: str | None) -> dict:
    return {"model": owner, "depth": 2} if owner == "deep" else ({"model": owner} if owner else {})


def _cases():
    """(id, build(field, value), field, constraint) for every field of every configuration; a UFM
    model's own fields once per model that reads them (built as that model)."""
    out = []
    for name, constraint in C.declarations(UFMConfig).items():
        out.append((f"ufm.Config.{name}", lambda f, v: UFMConfig(**{f: v}), name, constraint))
    for model in models.names():
        for name, constraint in models.get(model).parameter_constraints.items():
            base = _ufm_base(model)
            out.append((f"ufm.{model}.{name}", lambda f, v, base=base: UFMConfig(**{**base, f: v}), name, constraint))
    simple = [TrainConfig, AsymptoticConfig, ExtendedConfig, Study, Setting]
    for cls in simple:
        for name, constraint in C.declarations(cls).items():
            out.append((f"{cls.__qualname__}.{name}", lambda f, v, cls=cls: cls(**{f: v}), name, constraint))
    for name, constraint in C.declarations(Size).items():
        out.append((f"Size.{name}", lambda f, v: Size(**{"K": 4, "n": 10, "d": 16, f: v}), name, constraint))
    return out


CASES = _cases()
CONFIGS = [UFMConfig, TrainConfig, AsymptoticConfig, ExtendedConfig, Study, Size, Setting]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__qualname__)
def test_every_field_of_every_configuration_is_declared(cls):
    declared = set(C.declarations(cls))
    if cls is UFMConfig:  # a model's own fields are declared by the models that read them
        declared |= {f for m in models.names() for f in models.get(m).parameter_constraints}
        assert set(models.model_fields()) <= declared
    fields = {f.name for f in dataclasses.fields(cls)}
    assert declared == fields, (sorted(fields - declared), sorted(declared - fields))


@pytest.mark.parametrize("case, build, field, constraint", CASES, ids=[c[0] for c in CASES])
def test_every_invalid_value_of_every_field_is_refused_naming_the_field(case, build, field, constraint):
    invalid = constraint.invalid_values()
    assert invalid, "a constraint must produce invalid values"
    for value in invalid:
        with pytest.raises(InputError) as err:
            build(field, value)
        message = str(err.value)
        assert field in message and "\n" not in message, (value, message)


@pytest.mark.parametrize("case, build, field, constraint", CASES, ids=[c[0] for c in CASES])
def test_the_examples_fall_on_their_side_of_the_constraint(case, build, field, constraint):
    for value in constraint.invalid_values():
        assert not constraint.accepts(value), value
    for value in constraint.valid_values():
        assert constraint.accepts(value), value
    assert constraint.words() and str(constraint) == constraint.words()


def test_messages_say_what_is_accepted():
    assert C.Interval(int, 2).refusal("K", 1) == "K must be an integer >= 2, got 1"
    assert C.POSITIVE.refusal("lr", math.nan) == "lr must be a positive number, got nan"
    assert C.Interval(float, 1 / 64, 64, why="one channel").refusal("width", 0.0) == "width must be a number >= 0.015625 and <= 64, got 0.0 (one channel)"
    assert C.Options(("mse", "ce")).refusal("loss", "hinge") == "loss='hinge' is not one of 'mse', 'ce'"
    assert C.ListOf(C.POSITIVE_INT, increasing=True).refusal("n", [10, 10]) == "n must be strictly increasing, got [10, 10]"
    assert C.ListOf(C.POSITIVE_INT).refusal("n", []) == "n must list at least 1 value, got []"
    assert C.ListOf(C.POSITIVE_INT).refusal("n", [1, 0]) == "n[1] must be a positive integer, got 0"
    assert C.OrNone(C.POSITIVE).refusal("init_scale", 0) == "init_scale must be a positive number or null, got 0"


def test_per_layer_reads_the_depth_of_the_config():
    deep = UFMConfig(model="deep", depth=3, d=[4, 5, 6])
    per_layer = models.get("deep").parameter_constraints["d"]
    assert per_layer.accepts((4, 5, 6), deep) and not per_layer.accepts((4, 5), deep) and per_layer.accepts(4, deep)
    assert per_layer.refusal("d", (4, 5), deep) == "d must be a positive integer, or a list of one per layer (depth 3), got (4, 5)"


def test_options_read_a_registry_when_checking(monkeypatch):
    # a model registered after the Config class was defined (as tests/unit/ufm/test_registry_only.py does)
    model = C.declarations(UFMConfig)["model"]
    assert not model.accepts("later")
    monkeypatch.setitem(models._REGISTRY, "later", models.get("plain"))
    assert model.accepts("later") and "'later'" in model.words()


def test_one_device_rule():
    # 'auto' (CUDA when available, else CPU) is accepted by every configuration with a device
    for cls in (UFMConfig, TrainConfig, AsymptoticConfig, Study, Setting):
        assert C.declarations(cls)["device"] is DEVICE
        cls(device="auto")
    for bad in ("gpu", "cuda:", "cpu:0", "mps"):
        assert not DEVICE.accepts(bad)
        with pytest.raises(InputError, match=f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '{bad}'"):
            from deepcollapse.devices import resolve

            resolve(bad)


# ------------------------------------------------------------------ the generated schema
def test_generated_schema_is_up_to_date(tmp_path, monkeypatch, capsys):
    assert config_schema.main(["--check"]) == 0
    stale = tmp_path / "fields.schema.yaml"
    stale.write_text(config_schema.TARGET.read_text().replace("minimum: 2", "minimum: 3", 1))
    monkeypatch.setattr(config_schema, "TARGET", stale)
    monkeypatch.setattr(config_schema, "PROJECT", tmp_path)
    assert config_schema.main(["--check"]) == 1 and "out of date" in capsys.readouterr().err
    assert config_schema.main([]) == 0 and stale.read_text() == config_schema.text()  # rewritten
    assert config_schema.main(["--check"]) == 0


def _registry():
    return Registry().with_resources((p.name, Resource.from_contents(yaml.safe_load(p.read_text()))) for p in SCHEMAS.glob("*.yaml"))


GENERATED = yaml.safe_load((SCHEMAS / "fields.schema.yaml").read_text())["$defs"]


def _schema_cases():
    out = []
    for entry in config_schema.ENTRIES:
        for cls in [entry.cls, *config_schema.nested_classes(entry.cls)]:
            skip = entry.set_by_workflow if cls is entry.cls else ()
            for name, constraint in config_schema.field_constraints(cls).items():
                if name not in skip:
                    out.append((C.schema_name(cls), name, constraint, cls))
    return out


SCHEMA_CASES = _schema_cases()


def test_the_schema_holds_a_rule_for_every_declared_field_and_nothing_else():
    for entry in config_schema.ENTRIES:
        props = set(GENERATED[C.schema_name(entry.cls)]["properties"]) - set(entry.extra)
        assert props == {f.name for f in dataclasses.fields(entry.cls)} - set(entry.set_by_workflow)


def _json(value):
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    if dataclasses.is_dataclass(value):
        raise TypeError
    return value


@pytest.mark.parametrize("where, field, constraint, cls", SCHEMA_CASES, ids=[f"{c[0]}.{c[1]}" for c in SCHEMA_CASES])
def test_the_schemas_rule_is_the_declaration(where, field, constraint, cls):
    rule = GENERATED[where]["properties"][field]
    assert rule == constraint.json_schema()
    registry = _registry()
    validator = jsonschema.Draft202012Validator({"$ref": f"fields.schema.yaml#/$defs/{where}/properties/{field}"}, registry=registry)
    readers = _readers(cls, field, constraint)
    for value in constraint.invalid_values():
        try:
            doc = _json(value)
        except TypeError:
            continue
        if any(r.accepts(value) for r in readers) or constraint.schema_blind(value):
            continue  # another model's declaration accepts it / a rule JSON Schema cannot state
        assert not validator.is_valid(doc), (field, value)
    for value in constraint.valid_values():
        try:
            doc = _json(value)
        except TypeError:
            continue
        assert validator.is_valid(doc), (field, value)


def _readers(cls, field, constraint):
    """The model declarations a UFM model field's schema rule joins (empty for the others)."""
    if cls is not UFMConfig or field in C.declarations(UFMConfig):
        return []
    return [m.parameter_constraints[field] for m in map(models.get, models.names()) if field in m.parameter_constraints]


@pytest.mark.parametrize("model", models.names())
def test_a_model_fields_schema_rule_refuses_what_no_model_accepts_and_accepts_each_models_values(model):
    registry = _registry()
    for field, constraint in models.get(model).parameter_constraints.items():
        validator = jsonschema.Draft202012Validator({"$ref": f"fields.schema.yaml#/$defs/ufm.config.Config/properties/{field}"}, registry=registry)
        for value in constraint.valid_values():
            assert validator.is_valid(_json(value)), (model, field, value)
        others = _readers(UFMConfig, field, constraint)
        for value in constraint.invalid_values():
            if not any(r.accepts(value) for r in others) and not constraint.schema_blind(value):
                assert not validator.is_valid(_json(value)), (model, field, value)


def test_declarations_of_several_models_join_into_one_rule():
    union = config_schema._union
    per_layer = C.PerLayer(C.POSITIVE_INT)
    assert union([C.POSITIVE_INT, per_layer]) is per_layer and union([per_layer, C.POSITIVE_INT]) is per_layer
    assert union([C.NONNEGATIVE, C.NONNEGATIVE]) == C.NONNEGATIVE
    joined = union([C.POSITIVE_INT, C.Interval(float, 0.5, 2)])
    assert joined.json_schema() == {"anyOf": [C.POSITIVE_INT.json_schema(), {"type": "number", "minimum": 0.5, "maximum": 2}]}
