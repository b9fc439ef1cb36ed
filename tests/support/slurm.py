"""Shared helpers of the SLURM tests: start the local cluster, run Snakemake through it, read sacct.

The cluster is the real thing (Debian's slurm-wlm 22.05 with munge, slurmdbd and MariaDB) started
by workflow/scripts/local-slurm.sh; nothing here imitates SLURM.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from . import ROOT

LOCAL_SLURM = ROOT / "workflow" / "scripts" / "local-slurm.sh"
PROFILE = ROOT / "workflow" / "profiles" / "slurm"

# sacct fields used as evidence: the sbatch line as SLURM received it and what was allocated
# (SubmitLine last: it may contain the field separator)
SACCT_FIELDS = (
    "JobID", "JobName", "State", "ExitCode", "Account", "Partition", "Start", "Elapsed", "Timelimit", "AllocTRES",
    "Comment", "SubmitLine",
)  # fmt: skip


def start_cluster() -> str:
    """Start (or find running) the local cluster; return the script's report. Idempotent, locked."""
    proc = subprocess.run(
        [str(LOCAL_SLURM), "start"], capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        raise RuntimeError(f"local-slurm.sh start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stderr


def job_env(**extra: str) -> dict[str, str]:
    """Environment for submitting jobs: this interpreter's venv first on PATH, the package importable.

    Jobs inherit it (the profile's sbatch uses --export=ALL), as on a cluster where the user
    activated the project's environment before running Snakemake.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    env.pop("CUDA_VISIBLE_DEVICES", None)  # only SLURM's gres allocation may set it
    env["DVC_NO_ANALYTICS"] = "1"
    env.update(extra)
    return env


def snakemake(
    *args: str, cwd: Path, timeout: float, profile: Path | str = PROFILE, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `snakemake --profile PROFILE ARGS` under `timeout -k 10`, so that a hang fails the test.

    The status poll starts after 2 s instead of 40 s (the profile's value suits a real cluster).
    """
    cmd = [
        "timeout", "-k", "10", str(int(timeout)),
        sys.executable, "-m", "snakemake", "--profile", str(profile),
        "--slurm-init-seconds-before-status-checks", "2",
        *args,
    ]  # fmt: skip
    return subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, env=env or job_env(), stdin=subprocess.DEVNULL
    )


def run_id(log: str) -> str:
    """The SLURM run ID Snakemake printed; every job of that run carries it as its job name."""
    m = re.search(r"SLURM run ID: (\S+)", log)
    if not m:
        raise AssertionError(f"no 'SLURM run ID' in the Snakemake log:\n{log}")
    return m.group(1)


def sacct(
    *, name: str | None = None, jobs: list[str] | None = None, since: str = "now-1days", settle: float = 20.0
) -> list[dict]:
    """Allocation records (-X) from the accounting database, as dicts of SACCT_FIELDS.

    slurmdbd receives records asynchronously (a short job's end may arrive before its start, which
    carries the submit line), so wait up to `settle` seconds until every record has its final state
    and its SubmitLine.
    """
    cmd = ["sacct", "-X", "-n", "-P", "-S", since, "-o", ",".join(SACCT_FIELDS)]
    if name:
        cmd += ["--name", name]
    if jobs:
        cmd += ["-j", ",".join(jobs)]
    deadline = time.monotonic() + settle
    while True:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rows = [dict(zip(SACCT_FIELDS, line.split("|", len(SACCT_FIELDS) - 1))) for line in out.splitlines() if line]
        unsettled = [
            r for r in rows if r["State"] in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED") or not r["SubmitLine"]
        ]
        if (rows and not unsettled) or time.monotonic() > deadline:
            return rows
        time.sleep(1)


def rule_of(record: dict) -> str:
    """The Snakemake rule of a job record: the executor submits with --comment rule_<name>[_wildcards_...]."""
    m = re.fullmatch(r"rule_(.+?)(?:_wildcards_.*)?", record["Comment"])
    if not m:
        raise AssertionError(f"job {record['JobID']} has no Snakemake rule comment: {record}")
    return m.group(1)
