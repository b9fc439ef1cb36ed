"""`params_schema.validate` is Snakemake's `validate` (Draft 2020-12, defaults filled in) with every
schema file read once: the same filled-in parameters, the same refusals."""

from __future__ import annotations

import copy

import jsonschema
import pytest
import yaml
from snakemake.utils import validate as snakemake_validate

from deepcollapse import params_schema
from tests.support import ROOT

SCHEMA = ROOT / "workflow" / "schemas" / "params.schema.yaml"


@pytest.mark.parametrize("params_file", ["params.yaml", "demo/params.yaml"])
def test_the_same_defaults_as_snakemakes_validate(params_file):
    params = yaml.safe_load((ROOT / params_file).read_text())
    ours, theirs = copy.deepcopy(params), copy.deepcopy(params)
    params_schema.validate(ours, SCHEMA)
    snakemake_validate(theirs, str(SCHEMA))
    assert ours == theirs


def test_defaults_are_filled_in_through_a_ref_to_another_file(tmp_path):
    """The project's schemas declare no default today; a schema that does gets them written, as Snakemake's."""
    (tmp_path / "main.schema.yaml").write_text(yaml.safe_dump({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"section": {"$ref": "part.schema.yaml#/$defs/section"}, "top": {"type": "integer", "default": 3}},
    }))  # fmt: skip
    (tmp_path / "part.schema.yaml").write_text(yaml.safe_dump({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"section": {"type": "object", "properties": {"lr": {"type": "number", "default": 0.1}}}},
    }))  # fmt: skip
    ours, theirs = {"section": {}}, {"section": {}}
    params_schema.validate(ours, tmp_path / "main.schema.yaml")
    snakemake_validate(theirs, str(tmp_path / "main.schema.yaml"))
    assert ours == theirs == {"section": {"lr": 0.1}, "top": 3}


def test_a_misspelt_key_and_a_value_out_of_range_are_refused_where_they_are():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    bad = copy.deepcopy(params)
    bad["ufm"]["experiments"]["fig2a"]["lamda_W"] = 0.1
    with pytest.raises(jsonschema.ValidationError) as err:
        params_schema.validate(bad, SCHEMA)
    assert list(err.value.absolute_path) == ["ufm", "experiments", "fig2a"] and err.value.validator == "additionalProperties"
    bad = copy.deepcopy(params)
    bad["ufm"]["experiments"]["fig2a"]["lr"] = -1.0
    with pytest.raises(jsonschema.ValidationError) as err:
        params_schema.validate(bad, SCHEMA)
    assert list(err.value.absolute_path) == ["ufm", "experiments", "fig2a", "lr"]


def test_a_default_list_is_copied_into_each_mapping(tmp_path):
    """Mutating one validated mapping's default must not change the next one's (the registry is cached)."""
    (tmp_path / "main.schema.yaml").write_text(yaml.safe_dump({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"seeds": {"type": "array", "default": [0, 1]}},
    }))  # fmt: skip
    first, second = {}, {}
    params_schema.validate(first, tmp_path / "main.schema.yaml")
    first["seeds"].append(99)
    params_schema.validate(second, tmp_path / "main.schema.yaml")
    assert second == {"seeds": [0, 1]}
