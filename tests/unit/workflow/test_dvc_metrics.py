"""What `dvc metrics show` prints is a screen of numbers selected from the full summaries: a row per
network run and one for the closed-form agreement, at most 160 characters wide, measured on the
real `dvc metrics show` over the project's generated dvc.yaml files with both the paper run's and
the demo's metric files present (before: one row of ~270 characters for the demo alone)."""

import json
import shutil
import subprocess
import sys

import yaml

from deepcollapse import stages

from tests.support.dvc import ENV, init_repo, sh
from tests.support.pipeline import ROOT

SCRIPT = ROOT / "workflow/scripts/dvc_metrics.py"
MAX_WIDTH = 160
NETWORK_KEYS = {"NC1", "NC2_ETF", "NC2_W_ETF", "NC3_ETF", "NC4", "test_acc"}


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def network_summary(runs, value=12.345678901):
    """The shape of results/summary/networks.json (`deepcollapse report summary`); two-digit values,
    wider in the table than the usual final ones."""
    layers = {"stage1": 50.5, "penultimate": value}
    return {run: {"NC1": layers, "NC2_ETF": layers, "NC2_OF": layers, "NC2_W_ETF": layers, "NC3_ETF": layers,
                  "NC4": layers, "test_accuracy": 0.987654321, "accuracy": 1.0, "loss": 0.5, "epoch": 10}
            for run in runs}  # fmt: skip


AGREEMENT = {"tolerance": 1e-6, "reasons": {}, "runs": {},
             "summary": {"problems": 187, "agrees": 176, "GD above closed form": 10, "GD BELOW closed form": 0,
                         "no closed form": 1, "undefined": 0, "max_abs_objective_rel_gap": 0.0871531914854089}}  # fmt: skip


def runs_of(params_file):
    """Every network run of a parameter file (the grid and networks.variants), named by the stage table."""
    return list(stages.network_runs(yaml.safe_load(params_file.read_text())))


def test_networks_one_file_per_run_with_the_penultimate_layers_final_values(tmp_path):
    (tmp_path / "in.json").write_text(json.dumps(network_summary(["digits-mse", "digits-ce"], value=0.25)))
    stale = tmp_path / "out" / "gone-mse.json"  # a run no longer in the parameters
    stale.parent.mkdir()
    stale.write_text("{}")
    assert run("networks", tmp_path / "in.json", tmp_path / "out").returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["digits-ce.json", "digits-mse.json"]
    out = json.loads((tmp_path / "out" / "digits-mse.json").read_text())
    assert out == {"NC1": 0.25, "NC2_ETF": 0.25, "NC2_W_ETF": 0.25, "NC3_ETF": 0.25, "NC4": 0.25, "test_acc": 0.987654321}


def test_networks_without_test_split_features_leave_the_test_accuracy_out(tmp_path):
    # networks.features.test: false writes no test_accuracy; the stage must not fail on it
    summary = network_summary(["digits-mse"], value=0.25)
    del summary["digits-mse"]["test_accuracy"]
    (tmp_path / "in.json").write_text(json.dumps(summary))
    assert run("networks", tmp_path / "in.json", tmp_path / "out").returncode == 0
    assert "test_acc" not in json.loads((tmp_path / "out" / "digits-mse.json").read_text())


def test_theory_keeps_four_numbers_of_the_summary_not_the_rows(tmp_path):
    (tmp_path / "in.json").write_text(json.dumps(AGREEMENT))
    assert run("theory", tmp_path / "in.json", tmp_path / "out.json").returncode == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out == {"agrees": 176, "problems": 187, "GD_below": 0, "max_gap": 0.0871531914854089}


def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path):
    for content in ("{not json", json.dumps({"summary": {"agrees": 1}})):  # unreadable; a key missing
        (tmp_path / "in.json").write_text(content)
        proc = run("theory", tmp_path / "in.json", tmp_path / "out.json")
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and str(tmp_path / "in.json") in proc.stderr
        assert not (tmp_path / "out.json").exists()


def test_dvc_metrics_show_fits_160_columns_with_the_paper_and_the_demo_metrics(tmp_path):
    repo = init_repo(tmp_path / "repo")
    for folder in (".", "demo"):  # the generated pipelines, as committed
        (repo / folder).mkdir(exist_ok=True)
        shutil.copy2(ROOT / folder / "dvc.yaml", repo / folder / "dvc.yaml")
        params = ROOT / folder / "params.yaml"
        (repo / folder / "in.json").write_text(json.dumps(network_summary(runs_of(params))))
        (repo / folder / "agreement.json").write_text(json.dumps(AGREEMENT))
        pipeline = yaml.safe_load((repo / folder / "dvc.yaml").read_text())
        declared = [path for stage in pipeline["stages"].values() for m in stage.get("metrics", []) for path in m]
        assert sorted(declared) == ["results/dvc-metrics/nets", "results/dvc-metrics/theory.json"]
        assert run("networks", repo / folder / "in.json", repo / folder / "results/dvc-metrics/nets").returncode == 0
        assert run("theory", repo / folder / "agreement.json", repo / folder / "results/dvc-metrics/theory.json").returncode == 0
    shown = sh("dvc", "metrics", "show", cwd=repo, env=ENV)
    lines = shown.splitlines()
    runs = runs_of(ROOT / "params.yaml") + runs_of(ROOT / "demo/params.yaml")
    assert len(lines) == 1 + len(runs) + 2, shown  # the header, a row per run and per theory file
    header = lines[0].split()
    assert header[0] == "Path" and set(header[1:]) == NETWORK_KEYS | {"agrees", "problems", "GD_below", "max_gap"}, header
    rows = {line.split()[0]: dict(zip(header[1:], line.split()[1:])) for line in lines[1:]}
    for folder, params in ((".", ROOT / "params.yaml"), ("demo", ROOT / "demo/params.yaml")):
        prefix = "" if folder == "." else f"{folder}/"
        for name in runs_of(params):
            row = rows[f"{prefix}results/dvc-metrics/nets/{name}.json"]
            assert row == {**dict.fromkeys(header[1:], "-"), **dict.fromkeys(NETWORK_KEYS, "12.34568"), "test_acc": "0.98765"}
        theory = rows[f"{prefix}results/dvc-metrics/theory.json"]
        assert (theory["agrees"], theory["problems"], theory["GD_below"], theory["max_gap"]) == ("176", "187", "0", "0.08715")
    width = max(map(len, lines))
    assert width <= MAX_WIDTH, f"dvc metrics show is {width} characters wide:\n{shown}"
