"""`deepcollapse asymptotic`: config in, Zarr out (with provenance); bad input: exit 2, nothing written."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from deepcollapse.asymptotic import Config
from deepcollapse.cli import main
from deepcollapse.config import from_yaml, to_dict
from deepcollapse.store import open_dataset
from tests.support import ROOT

SMALL = {"n": [10, 100], "sigma": [0.0, 0.3], "seeds": 2, "extended": {"iters": 300}}


def test_round_trip_through_zarr(tmp_path):
    config = tmp_path / "params.yaml"
    config.write_text(yaml.safe_dump({"other": {"x": 1}, "asymptotic": SMALL}))
    out = tmp_path / "res" / "asymptotic.zarr"
    assert main(["asymptotic", "--config", str(config), "--key", "asymptotic", "--out", str(out)]) == 0
    ds = open_dataset(out)
    assert dict(ds.sizes) == {"sigma": 2, "n": 2, "seed": 2, "class": 4, "feature": 20, "feature1": 20}
    provenance = ds.attrs["provenance"]
    assert provenance["params"] == to_dict(from_yaml(Config, config, key="asymptotic"))
    assert {"git", "versions", "device"} <= set(provenance) and provenance["seed"] == 0
    assert ds.attrs["config"]["extended"]["iters"] == 300
    assert float(ds.relative_error.sel(sigma=0.0).max()) < 1e-13
    np.testing.assert_allclose(ds.attenuation_limit.values, [1.0, 1 / (1 + 4 * 0.09 * np.sqrt(50))])
    assert [p.name for p in out.parent.iterdir()] == ["asymptotic.zarr"]  # no temporary left behind


def test_stdin_json_as_the_workflow_pipes_it(tmp_path):
    out = tmp_path / "r.zarr"
    proc = subprocess.run(
        [sys.executable, "-m", "deepcollapse", "asymptotic", "--config", "-", "--out", str(out)],
        input=json.dumps({**SMALL, "extended": {"enabled": False}}),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    ds = open_dataset(out)
    assert "exploratory_relative_error" not in ds and ds.relative_error.dims == ("sigma", "n", "seed")


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"K": 1}, "K must be an integer >= 2, got 1"),
        ({"n": [100, 10]}, "strictly increasing"),
        ({"noise": "cauchy"}, "'cauchy' is not one of"),
        ({"extended": {"lr": 50.0, "iters": 200}, "n": [10], "seeds": 1}, "diverged"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, mapping, fragment, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(mapping)))
    assert main(["asymptotic", "--config", "-", "--out", str(tmp_path / "r.zarr")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_missing_config_file_and_key(tmp_path, capsys):
    assert main(["asymptotic", "--config", str(tmp_path / "none.yaml"), "--out", str(tmp_path / "r.zarr")]) == 2
    (tmp_path / "p.yaml").write_text("ufm: {}\n")
    assert main(["asymptotic", "--config", str(tmp_path / "p.yaml"), "--key", "asymptotic", "--out", str(tmp_path / "r.zarr")]) == 2
    err = capsys.readouterr().err
    assert "cannot read config file" in err and "no key 'asymptotic'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


def test_params_yaml_section_is_the_default_study():
    """params.yaml's `asymptotic:` section is paper-faithful: exactly the Config defaults."""
    assert from_yaml(Config, ROOT / "params.yaml", key="asymptotic") == Config()
