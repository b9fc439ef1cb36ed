"""The JSON Schema of params.yaml stays in step with the package's config dataclasses, and accepts
params.yaml and the demo as they are.

The schema exists so that a bad key fails before any job; the dataclasses are the single place where
each parameter is defined.  These tests fail when a field is added to one and not the other.
"""

import dataclasses
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from tests.support.pipeline import ROOT

SCHEMAS = ROOT / "workflow/schemas"


def _schema(name):
    return yaml.safe_load((SCHEMAS / name).read_text())


def _validator():
    registry = Registry().with_resources(
        (path.name, Resource.from_contents(yaml.safe_load(path.read_text()))) for path in SCHEMAS.glob("*.yaml")
    )
    return jsonschema.Draft202012Validator(_schema("params.schema.yaml"), registry=registry)


def _fields(cls):
    return {f.name for f in dataclasses.fields(cls) if f.init}


def _at(name, pointer=""):
    """The subschema at `pointer` of schema file `name`, following `$ref`s (to fields.schema.yaml, generated)."""
    resolver = _validator()._resolver
    node = resolver.lookup(f"{name}#{pointer}").contents
    while "$ref" in node:
        file, _, fragment = node["$ref"].partition("#")
        name = file or name
        node = resolver.lookup(f"{name}#{fragment}").contents
    return node


def test_ufm_experiment_keys_are_the_ufm_config_fields():
    from deepcollapse.ufm import Config

    keys = set(_at("ufm.schema.yaml", "/$defs/experiment")["properties"]) - {"sweep"}
    assert keys == _fields(Config)


def test_asymptotic_keys_are_the_study_config_fields():
    from deepcollapse.asymptotic import Config, ExtendedConfig

    schema = _at("asymptotic.schema.yaml")["properties"]
    assert set(schema) == _fields(Config)
    assert set(_at("fields.schema.yaml", "/$defs/asymptotic.configs.ExtendedConfig")["properties"]) == _fields(ExtendedConfig)


def test_network_training_keys_are_the_train_config_fields_the_workflow_does_not_set():
    from deepcollapse.nets.config import TrainConfig

    keys = set(_at("networks.schema.yaml", "/$defs/train")["properties"])
    assert keys == _fields(TrainConfig) - {"dataset", "loss", "data", "threads"}


def test_threads_is_one_key_networks_threads():
    """`networks.threads` sets a network job's cores and torch's threads; a second key for the same
    number (networks.train.threads, as the demo once had beside it) is refused before any job."""
    config = _merged(ROOT / "params.yaml")
    config["networks"]["train"]["threads"] = 1
    errors = list(_validator().iter_errors(config))
    assert len(errors) == 1 and list(errors[0].absolute_path) == ["networks", "train"] and "'threads'" in errors[0].message
    # every network rule reserves networks.threads and hands the same number to torch
    for rule in ("train", "features", "metrics"):
        text = (ROOT / f"workflow/rules/{rule}.smk").read_text()
        block = text[text.index(f"rule {rule}:"):].split("\n\n\n")[0]
        assert 'threads: NET["threads"]' in block and "--threads {threads}" in block, rule


def test_lowrank_keys_are_the_study_fields():
    from deepcollapse.ufm.lowrank import Study

    assert set(_at("ufm.schema.yaml", "/properties/studies/properties/lowrank")["properties"]) == _fields(Study)


def test_papers_settings_keys_are_the_setting_fields():
    from deepcollapse.ufm.papers import Setting

    section = _at("ufm.schema.yaml", "/properties/studies/properties/papers")
    assert section["additionalProperties"] == {"$ref": "fields.schema.yaml#/$defs/ufm.papers.Setting"}
    assert set(_at("fields.schema.yaml", "/$defs/ufm.papers.Setting")["properties"]) == _fields(Setting)


def test_theorem1_keys_are_the_study_fields():
    from deepcollapse.ufm.theorem1 import Study

    assert set(_at("ufm.schema.yaml", "/properties/studies/properties/theorem1")["properties"]) == _fields(Study)


def _merged(*files):
    from snakemake.utils import update_config

    config = {}
    for path in files:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


@pytest.mark.parametrize("files", [["params.yaml"], ["params.yaml", "workflow/demo.yaml"]], ids=["params", "demo"])
def test_params_and_demo_validate(files):
    errors = list(_validator().iter_errors(_merged(*(ROOT / f for f in files))))
    assert errors == []


def test_every_ufm_run_of_params_builds_its_package_config():
    # the schema is the first gate; the package's own checks (ranges, step size, cross-field rules)
    # must accept every run of the paper config too, or the run would fail hours in
    from deepcollapse.ufm import batched

    ufm = yaml.safe_load((ROOT / "params.yaml").read_text())["ufm"]
    for name, exp in ufm["experiments"].items():
        assert batched.from_mapping(exp, source=name)[1] is None, f"{name}: a sweep belongs in ufm.sweeps"
    for name, exp in (ufm.get("sweeps") or {}).items():
        base, sweep = batched.from_mapping(exp, source=name)
        batched.configs_of(base, sweep)  # every point validated
