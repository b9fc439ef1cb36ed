"""The training rule's pre-emption signal on a real SLURM: the sbatch line carries the rule's
`slurm_extra` (--signal=B:USR1@120), SLURM signals the job 120 s before its time limit, and
`deepcollapse train` saves a resume checkpoint and exits 75 before the limit (so a retry resumes
instead of losing the attempt).

With the SLURM executor the batch shell is Snakemake's job script: B:USR1 ends it, the job step is
then torn down and training receives SIGTERM with KillWait seconds to save (measured here; without
B:, USR1 reaches training directly but also kills the Snakemake process of the step).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import datetime

import pytest

from tests.support.slurm import ROOT, job_env, sacct, snakemake, start_cluster
from tests.support.reduced_config import reduced_params

pytestmark = pytest.mark.slow

RUNTIME_MIN = 4  # the time limit; SLURM sends the signal up to 60 s early: 60-120 s after the start


def preempt_signal() -> str:
    """The training rule's sbatch option, as workflow/rules/train.smk declares it."""
    text = (ROOT / "workflow/rules/train.smk").read_text()
    assert "slurm_extra=PREEMPT_SIGNAL" in text
    return re.search(r'^PREEMPT_SIGNAL = "(.*)"$', text, flags=re.M).group(1)


SNAKEFILE = textwrap.dedent(
    """
    rule train:
        input: "data/digits.zarr"
        output: "run/done.json"
        resources: runtime={runtime}, mem_mb=1500, slurm_extra=config["slurm_extra"]
        shell: "printf '%s\\\\n' {{config[train]:q}} | {python} -m deepcollapse train --config - --out run --threads 1 --no-progress > train.log 2>&1"
    """
)


def test_slurm_signals_training_before_its_time_limit_and_it_saves_a_resume_point(tmp_path):
    start_cluster()
    assert preempt_signal() == "'--signal=B:USR1@120'"
    env = job_env()
    subprocess.run([sys.executable, "-m", "deepcollapse", "data", "--dataset", "digits", "--no-download", "--out",
                    str(tmp_path / "data/digits.zarr")], check=True, env=env, capture_output=True)  # fmt: skip
    net = reduced_params(ROOT / "params.yaml")["networks"]
    # far more epochs than the time limit allows: only the signal can end it early
    train = dict(net["train"], **net["per_loss"].get("mse", {}), dataset="digits", loss="mse", data="data/digits.zarr",
                 epochs=100000, checkpoints=[0, 1])  # fmt: skip
    (tmp_path / "Snakefile").write_text(SNAKEFILE.format(runtime=RUNTIME_MIN, python=sys.executable))
    (tmp_path / "config.json").write_text(json.dumps({"slurm_extra": preempt_signal(), "train": json.dumps(train)}))
    started = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    proc = snakemake("--configfile", "config.json", "--retries", "0", cwd=tmp_path, timeout=RUNTIME_MIN * 60 + 120, env=env)
    assert proc.returncode != 0  # the attempt ended on the signal; a retry (the workflow profile) would resume
    log = (tmp_path / "train.log").read_text()
    assert re.search(r"SIG(TERM|USR1) received: state saved to .*resume\.pt", log), log[-2000:]
    assert (tmp_path / "run/checkpoints/resume.pt").is_file()
    jobs = [r for r in sacct(since=started) if f"-D {tmp_path} " in r["SubmitLine"] + " "]
    assert jobs and "--signal=B:USR1@120" in jobs[0]["SubmitLine"]
    assert jobs[0]["State"] != "TIMEOUT", jobs[0]  # it stopped before the limit, not at it
    minutes, seconds = map(int, jobs[0]["Elapsed"].split(":")[-2:])
    assert minutes * 60 + seconds < RUNTIME_MIN * 60, jobs[0]
    print(f"[slurm signal] {jobs[0]['JobID']} {jobs[0]['State']} elapsed={jobs[0]['Elapsed']} limit={jobs[0]['Timelimit']}: {log.strip().splitlines()[-1]}")
