"""One tiny set of real artifacts (a trained run, its features and metrics stores, a UFM store, a
dataset store, a theory table), built once per test process and shared read-only by the bad-input
and fault tests: they copy what they damage."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from . import ROOT

# ~1 s of CPU: 100 digits, one epoch, checkpoints 0 and 1, ResNet18 at 1/16 width
TRAIN = {
    "dataset": "digits", "train_per_class": 10, "test_per_class": 4, "width": 0.0625, "batch_size": 32,
    "epochs": 1, "checkpoints": [0, 1], "loss": "ce", "bias": True, "device": "cpu", "threads": 1, "seed": 1,
}
UFM = {"model": "plain", "K": 3, "n": 2, "d": 4, "iters": 20, "log_every": 10}
ASYMPTOTIC = {"n": [10, 20], "sigma": [0.0, 0.3], "seeds": 1, "rate_fit_n_min": 10, "extended": {"iters": 20}}

_BUILT: dict[str, Path] = {}


def cli(argv: list[str]) -> int:
    from deepcollapse.cli import main

    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


def build(root: Path) -> dict[str, Path]:
    """The shared artifacts under `root` (built on the first call of the process)."""
    if _BUILT:
        return _BUILT
    root.mkdir(parents=True, exist_ok=True)
    paths = {name: root / name for name in ("run", "features.zarr", "metrics.zarr", "ufm.zarr", "data.zarr", "theory.json")}
    for name, config in (("train.yaml", TRAIN), ("ufm.yaml", UFM), ("asymptotic.yaml", ASYMPTOTIC)):
        (root / name).write_text(yaml.safe_dump(config))
        paths[name] = root / name
    assert cli(["train", "--config", root / "train.yaml", "--out", paths["run"], "--no-progress"]) == 0
    assert cli(["features", "--run", paths["run"], "--out", paths["features.zarr"], "--no-progress"]) == 0
    assert cli(["metrics", "--features", paths["features.zarr"], "--out", paths["metrics.zarr"], "--no-progress"]) == 0
    assert cli(["ufm", "--config", root / "ufm.yaml", "--out", paths["ufm.zarr"]]) == 0
    assert cli(["theory", "--runs", paths["ufm.zarr"], "--out", paths["theory.json"]]) == 0
    assert cli(["data", "--dataset", "digits", "--train-per-class", "5", "--test-per-class", "2", "--out", paths["data.zarr"]]) == 0
    _BUILT.update(paths)
    return _BUILT


def tree_hashes(*roots: Path) -> dict[str, str]:
    """{path: sha256 of its content (or 'dir')} of everything under `roots`."""
    out = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            out[dirpath] = "dir"
            for name in filenames:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as fh:
                    out[path] = hashlib.sha256(fh.read()).hexdigest()
    return out


def copy(src: Path, dst: Path) -> Path:
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)
    return dst


def chunk_files(store: Path, array: str) -> list[Path]:
    return sorted(p for p in (store / array).rglob("*") if p.is_file() and p.name != "zarr.json")


@contextlib.contextmanager
def tmpfs(path: Path, *, size: str = "1m", read_only: bool = False):
    """A small tmpfs at `path` (root only: tests run as root in CI's container and here)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    """`deepcollapse ARGV` in a child process (this worktree's sources first on the path)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    return subprocess.Popen(
        [sys.executable, "-m", "deepcollapse", *map(str, argv)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kwargs,
    )


def json_file(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path
