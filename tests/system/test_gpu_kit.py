"""The GPU kit end to end on CPU (DEVICE=cpu, small sizes): built (the data store only: this
machine has the packages; the wheels are covered by tests/unit/workflow/test_gpu_kit.py), then
every step of workflow/scripts/gpu-reference.sh, then all of them again (nothing redone), so that a
GPU session spends its minutes measuring, not debugging the script."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.support import ROOT

SMALL = {
    "DEVICE": "cpu", "WIDTH": "0.125", "SMOKE_PER_CLASS": "10", "GRAPHS_PER_CLASS": "60", "GRAPHS_BATCH": "16",
    "GRAPHS_EPOCHS": "3", "BENCH_PER_CLASS": "10", "BENCH_EPOCHS": "1", "REF_PER_CLASS": "10", "REF_EPOCHS": "2",
    "OMP_NUM_THREADS": "1", "STEP_SECONDS": "1800",  # per step; the GPU's default is 480, this machine is shared
}


@pytest.mark.system_package("dataset-fashion-mnist", path="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
def test_the_kit_runs_every_step_on_cpu_and_resumes(tmp_path):
    kit, work, out = tmp_path / "kit", tmp_path / "work", tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), PYTHON=sys.executable, KIT=str(kit), WORK=str(work), OUT=str(out), **SMALL)
    build = subprocess.run([sys.executable, "workflow/scripts/gpu_kit.py", "build", str(kit), "--no-wheels", "--per-class", "60"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    manifest = json.loads((kit / "manifest.json").read_text())
    assert manifest["dataset"] == "fashion-mnist" and manifest["total_bytes"] < 64 << 20

    script = ["bash", "workflow/scripts/gpu-reference.sh", "all"]
    run = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for step in ("env", "smoke", "graphs", "bench", "reference"):
        assert f"step {step} done in" in run.stdout and (out / f"{step}.seconds").is_file()

    assert "nothing installed" in (out / "env.txt").read_text()
    smoke = json.loads((out / "smoke.json").read_text())
    assert set(smoke) == {"fp32", "bf16", "channels_last", "bf16+channels_last"}
    assert all(row["done"] and len(row["epoch_seconds"]) == 2 for row in smoke.values())
    graphs = json.loads((out / "graphs.json").read_text())
    assert graphs["interrupted_status"] == 75 and graphs["stopped_at"][0] >= 1, graphs  # SIGTERMed after epoch 1, resumed
    assert graphs["bitwise"], graphs  # on CPU a resumed run is bitwise the uninterrupted one
    bench = (out / "bench.txt").read_text()
    assert "| ours, fp32" in bench and re.search(r"baseline, \d+ workers", bench), bench
    reference = json.loads((out / "reference.json").read_text())
    assert {"fp32", "bf16", "relative_difference"} == set(reference["penultimate/NC1"])
    assert (out / "reference" / "bf16-run.json").is_file()
    segments = json.loads((out / "reference" / "bf16-run.json").read_text())["provenance"]["segments"]
    assert segments[0]["execution"]["precision"] == "bf16" and segments[0]["math"]["autocast"] == "bfloat16"

    again = subprocess.run(script, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("done before") == 5, again.stdout + again.stderr
