"""Shared by the pipeline tests: a scratch copy of the workflow and a way to run Snakemake on it.

Each test runs Snakemake in its own copy so that parallel tests never share `.snakemake/` state
and a test never touches the checkout's results/ or reports/.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import ROOT

WORKFLOW_FILES = ("params.yaml", "dvc.yaml", "workflow", "docs")  # the Snakefile is workflow/Snakefile; docs/math.md is a page


#: numba's on-disk cache of the compiled UFM kernel (`ufm.kernel` and the draws' `ufm.draws`, cache=True)
#: lives beside their sources; each source's entry point, compiled by `kernel_loop.warm()` (its callees
#: with it, but a unit test may have compiled a callee alone).
KERNEL_CACHE = Path("src/deepcollapse/ufm/__pycache__")
KERNEL_SOURCES = {Path("src/deepcollapse/ufm/kernel.py"): "advance", Path("src/deepcollapse/ufm/draws.py"): "_box_muller_blocks"}
_WARM_LOCK = Path("/tmp/deepcollapse-tests-kernel.lock")  # pytest-xdist workers compile it once


def copy_workflow(dest: Path, *, extra: tuple[str, ...] = ()) -> Path:
    """A scratch copy of the workflow (plus `extra` top-level paths, e.g. "src") to run tests in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES + extra:
        src = ROOT / name
        if name == "src":
            copy_src(dest)
        elif src.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.egg-info")
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


def copy_src(dest: Path) -> None:
    """This checkout's src/ into dest/src (no bytecode), with the UFM kernel's compiled cache.

    numba keys its cache by the source file's path, so every scratch copy of the package would
    compile the kernel again (~13 CPU-s per process that starts before the first has written it:
    two at once under `--cores 2`); the cache is valid for a copy whose kernel.py has the same
    modification time and size (copy2 keeps both), and numba recompiles whenever it is not."""
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    copy_kernel_cache(dest)


def copy_kernel_cache(dest: Path) -> None:
    """The compiled UFM kernel of this checkout (compiled first if it is not) into project `dest`."""
    warm_kernel_cache()
    (dest / KERNEL_CACHE).mkdir(parents=True, exist_ok=True)
    for source in KERNEL_SOURCES:
        for path in (ROOT / KERNEL_CACHE).glob(f"{source.stem}.*.nb[ic]"):
            shutil.copy2(path, dest / KERNEL_CACHE / path.name)


def warm_kernel_cache() -> None:
    """Compile this checkout's UFM kernel into its numba cache unless an index newer than the source is there."""
    with open(_WARM_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = [
            any(p.stat().st_mtime >= (ROOT / source).stat().st_mtime for p in (ROOT / KERNEL_CACHE).glob(f"{source.stem}.{entry}-*.nbi"))
            for source, entry in KERNEL_SOURCES.items()
        ]
        if all(fresh):
            return
        warm = "from deepcollapse.ufm import kernel_loop; kernel_loop.warm()"  # what `make` runs after installing
        subprocess.run([sys.executable, "-c", warm], check=True, env=environment(), capture_output=True, timeout=600)


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
