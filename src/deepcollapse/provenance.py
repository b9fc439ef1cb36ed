"""What produced a result: parameters, seed, package versions, git revision, device, time.

Every artifact the package writes carries `collect(...)` in its attributes, so that a number in a
paper can be traced back to the code and the machine that computed it.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

# Packages whose versions can change a number we report.
_TRACKED_PACKAGES = ("deepcollapse", "numpy", "scipy", "torch", "torchvision", "xarray", "zarr", "scikit-learn", "numba", "llvmlite")

# The batch job that computed a result, when a scheduler ran it: which SLURM job (and restart), and
# which GPUs it was given.  Recorded only when set.
_JOB_VARIABLES = ("SLURM_CLUSTER_NAME", "SLURM_JOB_ID", "SLURM_RESTART_COUNT", "SLURM_JOB_PARTITION", "CUDA_VISIBLE_DEVICES")


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
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {os.cpu_count()} logical cores)"


def collect(*, params: dict[str, Any] | None = None, seed: int | None = None, device: Any = None) -> dict[str, Any]:
    """The provenance record stored in every artifact's attributes (JSON-serialisable)."""
    record: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "device": device_description(device),
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
