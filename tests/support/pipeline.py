"""Shared by the pipeline tests: a scratch copy of the workflow and a way to run Snakemake on it.

Each test runs Snakemake in its own copy so that parallel tests never share `.snakemake/` state
and a test never touches the checkout's results/ or reports/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import ROOT

WORKFLOW_FILES = ("params.yaml", "dvc.yaml", "workflow", "docs")  # the Snakefile is workflow/Snakefile; docs/math.md is a page


def copy_workflow(dest: Path, *, extra: tuple[str, ...] = ()) -> Path:
    """A scratch copy of the workflow (plus `extra` top-level paths, e.g. "src") to run tests in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES + extra:
        src = ROOT / name
        if src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info")
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def environment() -> dict[str, str]:
    """The test's interpreter and package source for every job (as `make` would have installed them)."""
    env = dict(os.environ, DVC_NO_ANALYTICS="1", PYTHONPATH=str(ROOT / "src"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SNAKEMAKE_PROFILE", None)
    return env


def snakemake(workdir: Path, *targets: str, configfiles=(), options=(), timeout: float = 120) -> subprocess.CompletedProcess:
    """Run Snakemake with the local profile.  Targets come first: --configfile takes several values
    and would swallow a target written after it."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "--profile", "workflow/profiles/local", *options]
    if configfiles:
        cmd += ["--configfile", *map(str, configfiles)]
    return subprocess.run(cmd, cwd=workdir, env=environment(), capture_output=True, text=True, timeout=timeout)
