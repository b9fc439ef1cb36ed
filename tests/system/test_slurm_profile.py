"""workflow/profiles/slurm against a real SLURM: every job goes through sbatch, GPU rules get a GPU,
the keys a site changes (partition, account, GPU model) reach the sbatch line, and `make
slurm-profile` makes `--profile slurm` resolve. (A time limit hit by real training, retried and
resumed: tests/system/test_slurm_workflow.py.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.support.slurm import PROFILE, ROOT, job_env, rule_of, run_id, sacct, snakemake, start_cluster

pytestmark = pytest.mark.slow

SNAKEFILE = textwrap.dedent(
    """
    REPORT = 'echo "job=$SLURM_JOB_ID cvd=${{CUDA_VISIBLE_DEVICES-unset}}" > {output}'

    rule all:
        input: "cpu.txt", "gpu.txt"

    rule cpu:
        output: "cpu.txt"
        shell: REPORT

    rule gpu:
        output: "gpu.txt"
        resources: gpu=1
        shell: REPORT
    """
)


@pytest.fixture(scope="module")
def cluster():
    return start_cluster()


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def by_rule(records: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in records:
        out.setdefault(rule_of(r), []).append(r)
    return out


def test_profile_runs_every_job_through_sbatch_and_gpu_rules_get_a_gpu(cluster, workdir):
    proc = snakemake("all", cwd=workdir, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]
    jobs = by_rule(sacct(name=run_id(proc.stderr)))
    assert sorted(jobs) == ["cpu", "gpu"], jobs  # `all` is local; everything else was a SLURM job
    for rule, (record,) in jobs.items():
        assert record["State"] == "COMPLETED", record
        assert record["SubmitLine"].startswith("sbatch "), record
        assert f"--comment rule_{rule}" in record["SubmitLine"]
        assert "--requeue" in record["SubmitLine"]  # the profile's slurm-requeue
        assert (workdir / f"{rule}.txt").read_text().startswith(f"job={record['JobID']} ")
    gpu, cpu = jobs["gpu"][0], jobs["cpu"][0]
    assert "--gpus=1" in gpu["SubmitLine"] and "gres/gpu=1" in gpu["AllocTRES"]
    assert re.fullmatch(r"job=\d+ cvd=[01]", (workdir / "gpu.txt").read_text().strip())
    assert "--gpus" not in cpu["SubmitLine"] and "gres/gpu" not in cpu["AllocTRES"]
    assert (workdir / "cpu.txt").read_text().strip().endswith("cvd=unset")

    again = snakemake("all", cwd=workdir, timeout=120)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "Nothing to be done" in again.stderr


def test_site_keys_partition_account_and_gpu_model_reach_sbatch(cluster, workdir):
    # what a site does: copy the profile and fill in the keys marked SITE
    site = workdir / "site-profile"
    shutil.copytree(PROFILE, site)
    config = yaml.safe_load((site / "config.yaml").read_text())
    config["default-resources"].update(slurm_partition="debug", slurm_account="deepcollapse")
    config["set-resources"] = {"gpu": {"gpu_model": "fake"}}
    (site / "config.yaml").write_text(yaml.safe_dump(config))

    proc = snakemake("gpu.txt", cwd=workdir, timeout=240, profile=site)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (record,) = sacct(name=run_id(proc.stderr))
    assert record["State"] == "COMPLETED"
    line = record["SubmitLine"]
    assert "-A deepcollapse" in line and "-p debug" in line and "--gpus=fake:1" in line, line
    assert record["Account"] == "deepcollapse" and "gres/gpu=1" in record["AllocTRES"]


def test_make_slurm_profile_makes_the_literal_profile_name_resolve(workdir):
    config_home = workdir / "config-home"
    env = job_env(XDG_CONFIG_HOME=str(config_home))
    subprocess.run(["make", "-s", "-C", str(ROOT), "slurm-profile"], check=True, env=env, capture_output=True)
    assert (config_home / "snakemake" / "slurm").resolve() == PROFILE.resolve()
    # a dry run from anywhere: `--profile slurm` is found by name and its defaults apply
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "--dry-run", "all"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Using profile slurm for setting default command line arguments" in proc.stdout + proc.stderr
    assert "mem_mb=2000" in proc.stdout + proc.stderr  # the profile's default-resources


def test_make_slurm_profile_leaves_a_users_own_profile_alone(tmp_path):
    own = tmp_path / "snakemake" / "slurm"
    own.mkdir(parents=True)
    (own / "config.yaml").write_text("executor: slurm\n")
    env = job_env(XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.run(["make", "-s", "-C", str(ROOT), "slurm-profile"], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "is not a link: not replacing it" in proc.stderr
    assert sorted(p.name for p in own.iterdir()) == ["config.yaml"] and not own.is_symlink()
