"""What `dvc metrics show` prints is a screen of numbers selected from the full summaries."""

import json
import subprocess
import sys

from pipeline_helpers import ROOT

SCRIPT = ROOT / "workflow/scripts/dvc_metrics.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_networks_keep_the_last_layers_final_values_only(tmp_path):
    layers = {"stage1": 5.0, "penultimate": 0.25}
    summary = {"digits-mse": {"NC1": layers, "NC2_OF": layers, "NC4": {"stage1": 0.5, "penultimate": 0.125},
                              "test_accuracy": 0.9, "epoch": 10}}  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(summary))
    assert run("networks", tmp_path / "in.json", tmp_path / "out.json").returncode == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["digits-mse"] == {"NC1": 0.25, "NC4": 0.125, "test_accuracy": 0.9, "layer": "penultimate"}
    assert out["source"] == str(tmp_path / "in.json")


def test_theory_keeps_the_summary_not_the_rows(tmp_path):
    table = {"rows": {"fig2a": {"NC1": 1e-30}}, "summary": {"agrees": 3, "problems": 4, "max_abs_objective_rel_gap": 0.5}, "tolerance": 1e-6}
    (tmp_path / "in.json").write_text(json.dumps(table))
    assert run("theory", tmp_path / "in.json", tmp_path / "out.json").returncode == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out == {"agrees": 3, "problems": 4, "max_abs_objective_rel_gap": 0.5, "tolerance": 1e-6, "source": str(tmp_path / "in.json")}


def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path):
    (tmp_path / "in.json").write_text("{not json")
    proc = run("theory", tmp_path / "in.json", tmp_path / "out.json")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and str(tmp_path / "in.json") in proc.stderr
    assert not (tmp_path / "out.json").exists()
