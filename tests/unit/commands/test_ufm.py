"""`deepcollapse ufm` and `deepcollapse theory`: real Zarr stores, exit statuses, params.yaml."""

import io
import json

import pytest

from deepcollapse.cli import main
from deepcollapse.config import load_yaml
from deepcollapse.store import open_dataset
from deepcollapse.ufm import batched, theory
from deepcollapse.ufm.joined import THEORY_VARIABLES, with_theory
from tests.support import ROOT

SMALL = "{model: plain, K: 3, n: 4, d: 5, lambda_W: 0.05, lambda_H: 0.05, iters: 2000, log_every: 500}"


def test_one_experiment_from_a_params_file(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text(f"ufm:\n  experiments:\n    small: {SMALL}\n")
    out = tmp_path / "small.zarr"
    assert main(["ufm", "--config", str(params), "--key", "ufm.experiments.small", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "objective 0." in said and "closed form" not in said  # GD's own numbers; the theory table compares
    stored = open_dataset(out)
    # the GD store holds what GD produced, no closed form (a theory fix must not rerun GD)
    assert not set(THEORY_VARIABLES) & set(stored.variables) and not {"theory", "theory_source"} & set(stored.attrs)
    ds = with_theory(stored)
    assert ds.attrs["config"]["K"] == 3 and ds.attrs["theory"]["source"].endswith("(Theorem 3.1)")
    assert ds["NC1_H"].dims == ("iteration",) and int(ds["iteration"][-1]) == 2000
    assert abs(float(ds["objective_gap"][-1])) <= 1e-6


def test_sweep_from_stdin_then_theory_table(tmp_path, monkeypatch, capsys):
    sweep = {"model": "plain", "bias": "unregularized", "K": 3, "n": 4, "d": 5, "iters": 2000, "log_every": 1000,
             "sweep": {"seed": [0, 1], "lambda": {"fields": ["lambda_W", "lambda_H"], "values": [0.05, 0.3]}}}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(sweep)))
    runs = tmp_path / "runs"
    assert main(["ufm", "--config", "-", "--out", str(runs / "grid.zarr")]) == 0
    ds = open_dataset(runs / "grid.zarr")
    assert ds["objective"].dims == ("seed", "lambda", "iteration")
    assert ds.attrs["sweep"]["lambda"]["fields"] == ["lambda_W", "lambda_H"]

    monkeypatch.setattr("sys.stdin", io.StringIO('{"model": "extended", "activation": "relu", "loss": "ce", "K": 3, "n": 4, "d1": 4, "d2": 4, "iters": 50}'))
    assert main(["ufm", "--config", "-", "--out", str(runs / "relu_ce.zarr")]) == 0
    capsys.readouterr()
    table = tmp_path / "theory" / "agreement.json"
    args = ["theory", "--runs", str(runs / "grid.zarr"), str(runs / "relu_ce.zarr"), "--out", str(table), "--csv", str(table.with_suffix(".csv"))]
    assert main(args) == 0
    doc = json.loads(table.read_text())
    assert doc["summary"]["problems"] == 5 and doc["summary"]["agrees"] == 4 and doc["summary"]["no closed form"] == 1
    assert doc["reasons"]["agrees"] == 4 and doc["reasons"]["no closed form"] == 1
    assert doc["runs"]["grid"]["problems"] == 4 and doc["runs"]["grid"]["reasons"] == {"agrees": 4}
    import csv

    rows = {(r["run"], r["point"]): r for r in csv.DictReader(table.with_suffix(".csv").open())}
    assert len(rows) == 5
    row = rows[("grid", "seed=1, lambda=0.3")]  # c = 3·2·0.3 = 1.8 ≥ 1: the zero solution with b = 1/K
    assert row["theory_zero"] == "True" and row["reason"] == "agrees" and float(row["objective_theory"]) == pytest.approx(1 / 3)
    assert float(row["structure:b"]) <= 1e-6 and "NC3_OF_H" in row
    assert "agrees" in capsys.readouterr().out


@pytest.mark.parametrize(
    "config, fragment",
    [
        ("{K: 1}", "K must be an integer >= 2, got 1"),
        ("{lambda_H: -1}", "lambda_H must be a non-negative number"),
        ("{colour: red}", "unknown key 'colour'"),
        ("{bias: regularized, lambda_b: 0.5, lr: 1.5}", "lr*(1+lambda_b) < 2"),
        ("{sweep: {n: [1, 2]}}", "cannot sweep 'n'"),
        ("{model: extended, K: 4, n: 50, d1: 20, d2: 20, init_scale: 1.0, iters: 3000}", "non-finite parameters at iteration"),
        ("[1, 2]", "expected a mapping"),
        ("{iters: 0}", "iters must be a positive integer, got 0"),
        ("{lr: .nan}", "lr must be a positive number, got nan"),
        ("{model: deep, depth: 3, d: [4, 4]}", "d must be a positive integer, or a list of one per layer (depth 3)"),
        ("{model: deep, depth: 4, K: 4, n: 50, d: 20, init_scale: 2.0, iters: 500}", "gradient descent diverged"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(tmp_path, capsys, config, fragment):
    path = tmp_path / "bad.yaml"
    path.write_text(config)
    out = tmp_path / "never.zarr"
    assert main(["ufm", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err
    assert list(tmp_path.iterdir()) == [path]  # no store, no temporary left behind


def test_theory_refuses_what_is_not_a_ufm_result(tmp_path, capsys):
    assert main(["theory", "--runs", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "t.json")]) == 2
    assert "no such Zarr store" in capsys.readouterr().err and not (tmp_path / "t.json").exists()


def test_every_params_yaml_entry_is_a_valid_config():
    """params.yaml's ufm section: each experiment and sweep builds (what the pipeline pipes to the CLI)."""
    section = load_yaml(ROOT / "params.yaml", key="ufm")
    assert {"fig2a", "fig2b", "fig5a", "fig5b", "fig9a", "fig9b", "fig9c", "fig9d"} <= set(section["experiments"])
    lambda_bs = set()
    for name, mapping in {**section["experiments"], **section["sweeps"]}.items():
        config, sweep = batched.from_mapping(mapping, source=name)
        configs = [config] if sweep is None else batched.configs_of(config, sweep)
        lambda_bs |= {c.lambda_b for c in configs if c.bias == "regularized" and c.loss == "mse"}
        if config.activation == "relu" and config.loss == "mse":
            assert config.iters >= 2_000_000, name  # docs/math.md#gd-protocol: the ReLU model needs >= 2e6 iterations
        if config.model == "extended" and sweep is None:
            assert config.weight_scale <= 0.3, name  # docs/math.md#gd-protocol: N(0,1) init diverges
    assert {0.005, 0.5, 1.0} <= lambda_bs
    phase = batched.from_mapping(section["sweeps"]["phase_plain"])
    controls = [theory.minimizer(c)["control"] for c in batched.configs_of(*phase)]
    assert min(controls) < 1 < max(controls)  # the phase diagram straddles c = 1
