import dataclasses
import io
from typing import Literal

import pytest

from deepcollapse.config import from_mapping, from_yaml, load_yaml
from deepcollapse.errors import InputError


@dataclasses.dataclass(frozen=True)
class Toy:
    K: int = 4
    lr: float = 0.1
    loss: Literal["mse", "ce"] = "mse"
    epochs: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        if self.K < 2:
            raise InputError(f"K must be at least 2, got {self.K}")


def test_defaults_and_coercion():
    cfg = from_mapping(Toy, {"lr": 1, "epochs": [3, 4]})
    assert cfg == Toy(K=4, lr=1.0, loss="mse", epochs=(3, 4))
    assert isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"KK": 3}, "unknown key 'KK'"),
        ({"K": "four"}, "key 'K': expected an integer"),
        ({"K": True}, "key 'K': expected an integer"),
        ({"loss": "hinge"}, "'hinge' is not one of"),
        ({"lr": "fast"}, "key 'lr': expected a number"),
        ({"epochs": [1, "x"]}, "key 'epochs'[1]"),
        ({"K": 1}, "K must be at least 2"),
    ],
)
def test_bad_values_name_the_key(mapping, fragment):
    with pytest.raises(InputError) as err:
        from_mapping(Toy, mapping, source="exp.yaml")
    assert fragment in str(err.value) and str(err.value).startswith("exp.yaml")
    assert "\n" not in str(err.value)


def test_yaml_file_key_and_stdin(tmp_path, monkeypatch):
    f = tmp_path / "params.yaml"
    f.write_text("ufm:\n  experiments:\n    a: {K: 5}\n")
    assert from_yaml(Toy, f, key="ufm.experiments.a").K == 5
    with pytest.raises(InputError, match="no key 'ufm.nope'"):
        load_yaml(f, key="ufm.nope")
    monkeypatch.setattr("sys.stdin", io.StringIO('{"K": 7, "loss": "ce"}'))
    assert from_yaml(Toy, "-") == Toy(K=7, loss="ce")


def test_yaml_errors(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(InputError, match="invalid YAML"):
        load_yaml(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="expected a mapping"):
        load_yaml(lst)


def test_json_floats_without_a_dot_are_numbers(tmp_path, monkeypatch):
    # json.dumps(1e-05) == "1e-05", which YAML 1.1 (PyYAML's default) reads as a string
    import json

    from deepcollapse.config import parse_yaml

    assert parse_yaml(json.dumps({"lr": 1e-05, "wd": 5e-4, "big": 1e20, "x": 1.5, "n": 3})) == {
        "lr": 1e-05, "wd": 5e-4, "big": 1e20, "x": 1.5, "n": 3,
    }
    assert parse_yaml("a: .inf\nb: 1_000.5\nc: '1e-5'\nd: 1e-5") == {"a": float("inf"), "b": 1000.5, "c": "1e-5", "d": 1e-5}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps({"lr": 1e-05})))
    assert from_yaml(Toy, "-").lr == 1e-05


def test_direct_construction_is_type_checked_for_every_config():
    import numpy as np

    from deepcollapse.asymptotic import Config as AsymptoticConfig
    from deepcollapse.constraints import validate_fields
    from deepcollapse.nets.config import TrainConfig
    from deepcollapse.ufm import Config as UFMConfig

    with pytest.raises(InputError, match="loss='hinge' is not one of"):
        TrainConfig(loss="hinge")
    with pytest.raises(InputError, match="epochs must be a positive integer, got 2.5"):
        TrainConfig(epochs=2.5)
    with pytest.raises(InputError, match="noise='cauchy' is not one of"):
        AsymptoticConfig(noise="cauchy")
    with pytest.raises(InputError, match="lambda_W must be a (non-negative )?number"):
        UFMConfig(lambda_W="0.1")
    UFMConfig(K=np.int64(3), lr=np.float32(0.5))  # numpy scalars are numbers
    validate_fields(UFMConfig(init_scale=None))  # `float | None` accepts None
    validate_fields(Toy(K=np.int64(3), lr=np.float32(0.5)))  # a dataclass without declarations: only its annotations
