"""The local single-node SLURM (workflow/scripts/local-slurm.sh): comes up idempotently, runs real
sbatch jobs, schedules GPU requests on its fake GPUs and records everything in accounting."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.slurm import LOCAL_SLURM, job_env, sacct, start_cluster

pytestmark = pytest.mark.slow

DAEMONS = ("slurmctld", "slurmd", "slurmdbd")


@pytest.fixture(scope="module")
def cluster():
    return start_cluster()


def pids() -> dict[str, str]:
    return {name: Path(f"/run/slurm/{name}.pid").read_text().strip() for name in DAEMONS}


def sbatch_wait(*args: str, cwd: Path, timeout: float = 120) -> str:
    """Submit a job, wait until SLURM says it ended, check that it completed, return the job id.

    Not `sbatch --wait`: it polls at growing intervals, ~10 s for a job of a fraction of a second;
    here SLURM's controller is asked every 0.2 s (`scontrol show job`)."""
    proc = subprocess.run(["sbatch", "--parsable", "-t", "2", *args], cwd=cwd, capture_output=True, text=True, env=job_env())
    assert proc.returncode == 0, proc.stderr
    jobid = proc.stdout.strip().split(";")[0]
    deadline = time.monotonic() + timeout
    while True:
        shown = subprocess.run(["scontrol", "show", "job", "-o", jobid], capture_output=True, text=True).stdout
        state = re.search(r"\bJobState=(\S+)", shown)
        if state and state.group(1) not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING"):
            assert state.group(1) == "COMPLETED", shown  # as `sbatch --wait` failed with a failed job
            return jobid
        assert time.monotonic() < deadline, f"job {jobid} still {state and state.group(1)} after {timeout} s"
        time.sleep(0.2)


def test_start_again_is_a_no_op_and_status_reports_ready(cluster):
    before = pids()
    report = start_cluster()
    assert pids() == before, "a second start must leave the running daemons alone"
    assert "restarting" not in report
    status = subprocess.run([str(LOCAL_SLURM), "status"], capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    assert "slurmdbd: running" in status.stdout
    assert "gpu:fake:2" in status.stdout


# `stop` and `restart` are guarded the same way; they are not run here because a broken guard
# would stop the cluster the other tests use (`start` on a running cluster is harmless either way).
@pytest.mark.parametrize("command", ["configure", "start"])
def test_refuses_a_slurm_conf_it_did_not_write(cluster, tmp_path, command):
    # the guard that keeps the script off a real site's cluster
    site_conf = tmp_path / "slurm.conf"
    site_conf.write_text("ClusterName=production\n")
    before = pids()
    proc = subprocess.run(
        [str(LOCAL_SLURM), command], capture_output=True, text=True, env=job_env(LOCAL_SLURM_CONF_DIR=str(tmp_path))
    )
    assert proc.returncode == 1, proc.stderr
    assert "was not written by this script" in proc.stderr
    assert "ready" not in proc.stderr  # `start` stopped at the guard
    assert site_conf.read_text() == "ClusterName=production\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slurm.conf"]
    assert pids() == before


def test_batch_job_runs_and_is_accounted(cluster, tmp_path):
    jobid = sbatch_wait("-J", "dc-plain", "-o", "out-%j.txt", "--wrap", "echo ran as job $SLURM_JOB_ID", cwd=tmp_path)
    assert (tmp_path / f"out-{jobid}.txt").read_text().strip() == f"ran as job {jobid}"
    (record,) = sacct(jobs=[jobid])
    assert record["State"] == "COMPLETED" and record["ExitCode"] == "0:0"
    assert record["Account"] == "deepcollapse" and record["Partition"] == "debug"
    assert record["SubmitLine"].startswith("sbatch ") and "-J dc-plain" in record["SubmitLine"]
    assert "gres/gpu" not in record["AllocTRES"]


@pytest.mark.parametrize("request_flag", ["--gres=gpu:1", "--gpus=1"])
def test_gpu_request_gets_a_fake_gpu_and_cuda_visible_devices(cluster, tmp_path, request_flag):
    jobid = sbatch_wait(request_flag, "-o", "out-%j.txt", "--wrap", 'echo "CVD=${CUDA_VISIBLE_DEVICES-unset}"', cwd=tmp_path)
    assert (tmp_path / f"out-{jobid}.txt").read_text().strip() in ("CVD=0", "CVD=1")
    (record,) = sacct(jobs=[jobid])
    assert record["State"] == "COMPLETED"
    assert "gres/gpu=1" in record["AllocTRES"]
    assert request_flag in record["SubmitLine"]


def test_cpu_job_sees_no_gpu(cluster, tmp_path):
    jobid = sbatch_wait("-o", "out-%j.txt", "--wrap", 'echo "CVD=${CUDA_VISIBLE_DEVICES-unset}"', cwd=tmp_path)
    assert (tmp_path / f"out-{jobid}.txt").read_text().strip() == "CVD=unset"


def test_more_gpus_than_the_node_has_are_refused(cluster, tmp_path):
    proc = subprocess.run(
        ["sbatch", "--parsable", "--gpus=3", "--wrap", "true"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "Requested node configuration is not available" in proc.stderr


def test_provenance_of_a_job_names_the_slurm_job_and_its_gpus(cluster, tmp_path):
    code = "import json; from deepcollapse.provenance import collect; print(json.dumps(collect()['job']))"
    jobid = sbatch_wait("--gpus=1", "-o", "out-%j.txt", "--wrap", f'python -c "{code}"', cwd=tmp_path)
    job = json.loads((tmp_path / f"out-{jobid}.txt").read_text())
    assert job["SLURM_JOB_ID"] == jobid and job["SLURM_CLUSTER_NAME"] == "localcluster"
    assert job["CUDA_VISIBLE_DEVICES"] in ("0", "1")
