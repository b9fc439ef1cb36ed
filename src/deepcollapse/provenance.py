"""What produced a result: parameters, seed, package versions, git revision, device, time.

Every artifact the package writes carries `collect(...)` in its attributes, so that a number in a
paper can be traced back to the code and the machine that computed it.  The machine is recorded
down to what changes floating-point results between machines of one architecture: the CPU model,
the BLAS/LAPACK libraries numpy (and torch) were built with and loaded, and the thread counts
(a reduction split over another number of threads rounds differently; docs/outputs.md).
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import os
import platform
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

# Packages whose versions can change a number we report.
_TRACKED_PACKAGES = ("deepcollapse", "numpy", "scipy", "torch", "torchvision", "xarray", "zarr", "scikit-learn", "numba", "llvmlite")

# The batch job that computed a result, when a scheduler ran it: which SLURM job (and restart), and
# which GPUs it was given.  Recorded only when set.
_JOB_VARIABLES = ("SLURM_CLUSTER_NAME", "SLURM_JOB_ID", "SLURM_RESTART_COUNT", "SLURM_JOB_PARTITION", "CUDA_VISIBLE_DEVICES")
# Environment variables that set the thread pools of the numerical libraries.
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what the platform says)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _numpy_build() -> dict[str, str]:
    """{"blas": "scipy-openblas 0.3.29", "lapack": ...}: the libraries numpy was built against."""
    import numpy

    try:
        deps = numpy.show_config(mode="dicts").get("Build Dependencies", {})
    except Exception:  # numpy < 1.25 has no dict mode; its build is then not recorded
        return {}
    return {kind: " ".join(str(deps[kind].get(k, "")) for k in ("name", "version")).strip()
            for kind in ("blas", "lapack") if isinstance(deps.get(kind), dict)}


def blas_libraries() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process, with their thread pools (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return [{"api": info.get("internal_api", info.get("user_api", "?")), "version": info.get("version"),
             "threads": info.get("num_threads"), "library": Path(str(info.get("filepath", ""))).name,
             **({"architecture": info["architecture"]} if info.get("architecture") else {})}
            for info in threadpool_info()]


def thread_counts() -> dict[str, Any]:
    """Cores visible, torch's thread pools (when torch is loaded) and the thread variables that are set."""
    counts: dict[str, Any] = {"logical_cores": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        counts["cores_allowed"] = len(os.sched_getaffinity(0))
    torch = sys.modules.get("torch")  # not imported for this: a record of a torch-free job says nothing of torch
    if torch is not None:
        counts["torch_intra_op"] = torch.get_num_threads()
        counts["torch_inter_op"] = torch.get_num_interop_threads()
    counts.update({name: os.environ[name] for name in _THREAD_VARIABLES if name in os.environ})
    return counts


def machine() -> dict[str, Any]:
    """What computed, beyond the device: CPU model, BLAS/LAPACK build and loaded libraries, threads."""
    record: dict[str, Any] = {"cpu": cpu_model(), "numpy_build": _numpy_build(), "blas": blas_libraries(),
                              "threads": thread_counts()}
    torch = sys.modules.get("torch")
    if torch is not None:
        config = getattr(torch.__config__, "show", lambda: "")()
        record["torch_build"] = {key.lower(): value for key, value in re.findall(r"\b(BLAS_INFO|LAPACK_INFO)=([^,\s]+)", config)}
    return record


def package_versions() -> dict[str, str]:
    versions = {}
    for name in _TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    versions["python"] = platform.python_version()
    return versions


@functools.lru_cache(maxsize=1)
def git_revision() -> dict[str, Any]:
    """Revision of the source tree the package was imported from ('unknown' outside a checkout)."""
    here = Path(__file__).resolve().parent
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=here, env=env, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def device_description(device: Any = None) -> str:
    """Human-readable description of the device that computed (CPU model or GPU name)."""
    dev = str(device) if device is not None else "cpu"
    if dev == "auto" or dev.startswith("cuda"):
        import torch

        # the device that computes, not the name asked for: "auto" is CUDA when there is one
        # (it was once recorded as the CPU on a GPU), "cuda" is the current CUDA device
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        if dev.startswith("cuda"):
            index = torch.device(dev).index
            index = torch.cuda.current_device() if index is None else index
            return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({cpu_model()}, {os.cpu_count()} logical cores)"


def collect(*, params: dict[str, Any] | None = None, seed: int | None = None, device: Any = None) -> dict[str, Any]:
    """The provenance record stored in every artifact's attributes (JSON-serialisable)."""
    record: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "device": device_description(device),
        "machine": machine(),
        "git": git_revision(),
        "versions": package_versions(),
    }
    job = {name: os.environ[name] for name in _JOB_VARIABLES if name in os.environ}
    if job:
        record["job"] = job
    if params is not None:
        record["params"] = params
    if seed is not None:
        record["seed"] = int(seed)
    return record
