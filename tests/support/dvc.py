"""Shared helpers of the DVC tests and benchmark: scratch git+DVC repositories, remotes (a local
directory, or S3 served by moto on loopback), and feature stores laid out like `deepcollapse
features` writes them.  Everything is the real tool: git, dvc, zarr, a real S3 HTTP server."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
BUCKET = "deepcollapse-cache"

# git and DVC behave the same on every machine: no user configuration, no analytics, no prompts
ENV = {
    **os.environ,
    "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "deepcollapse tests",
    "GIT_AUTHOR_EMAIL": "tests@deepcollapse.invalid",
    "GIT_COMMITTER_NAME": "deepcollapse tests",
    "GIT_COMMITTER_EMAIL": "tests@deepcollapse.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def sh(*cmd: str | os.PathLike, cwd: Path, timeout: float = 300, env: dict | None = None) -> str:
    """Run a command, fail with its output if it fails; return stdout."""
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env or ENV,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}) in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def init_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sh("git", "init", "-q", "-b", "main", cwd=path)
    sh("dvc", "init", "-q", cwd=path)
    return path


def add_remote(repo: Path, url: str, *, endpoint: str | None = None, name: str = "cache") -> None:
    sh("dvc", "remote", "add", "-d", name, url, cwd=repo)
    if endpoint:
        sh("dvc", "remote", "modify", name, "endpointurl", endpoint, cwd=repo)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in files_under(path)) / 1e6


# --------------------------------------------------------------------------- feature-like stores
def feature_dataset(*, samples: int, epochs: int, dims: dict[str, int], classes: int = 10, seed: int = 0):
    """A Dataset with the variables and dims of a `deepcollapse features` store, random float32."""
    import xarray as xr

    rng = np.random.default_rng(seed)
    data = {
        name: (("epoch", "sample", f"{name}_dim"), rng.standard_normal((epochs, samples, d), dtype=np.float32))
        for name, d in dims.items()
    }
    data["label"] = (("sample",), np.arange(samples, dtype=np.int64) % classes)
    return xr.Dataset(data, coords={"epoch": np.arange(epochs, dtype=np.int64)}, attrs={"num_classes": classes})


def encoding(ds, *, chunk_bytes: int, sharded: bool) -> dict[str, dict]:
    """Chunks of about `chunk_bytes` along samples; sharded: one shard per epoch and variable
    (the layout `deepcollapse features` uses), else every chunk is its own file."""
    enc = {}
    for name, var in ds.data_vars.items():
        if var.dims[:1] != ("epoch",) or var.ndim < 3:
            continue
        n, row_bytes = var.shape[1], int(np.prod(var.shape[2:])) * var.dtype.itemsize
        rows = max(1, min(n, chunk_bytes // row_bytes))
        enc[name] = {"chunks": (1, rows, *var.shape[2:])}
        if sharded:
            enc[name]["shards"] = (1, -(-n // rows) * rows, *var.shape[2:])
    return enc


# --------------------------------------------------------------------------- S3 on loopback
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_s3(log: Path) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with an empty bucket BUCKET; yields its endpoint URL."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=ENV,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start:\n{log.read_text()}") from None
                time.sleep(0.2)
        import boto3

        boto3.client(
            "s3", endpoint_url=endpoint, region_name=ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"], aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=BUCKET)  # fmt: skip
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
