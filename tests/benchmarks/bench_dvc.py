"""Benchmark: DVC push/pull of a realistic feature store, sharded (the layout `deepcollapse features`
writes: chunks of ~4 MB, one shard per epoch and variable) against two unsharded baselines measured
in the same run: the same 4 MB chunks each in its own file, and 64 KiB chunks (what a store gets
when nobody chooses chunks for DVC).  Remotes: a local directory and S3 (moto on loopback).

    PYTHONPATH=src python tests/benchmarks/bench_dvc.py                    # ~470 MB store
    PYTHONPATH=src python tests/benchmarks/bench_dvc.py --samples 2000 --epochs 4 --remotes local

The store has the variables of a ResNet18 features store (stage1..stage4 pooled, penultimate) over
(epoch, sample, dim), random float32 (incompressible: the worst case for size). "pull" is a fresh
`git clone` + `dvc pull` (empty cache), so it measures the transfer and the checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # a script: the repository root, for tests.support

from tests.support.dvc import BUCKET, add_remote, encoding, feature_dataset, files_under, init_repo, moto_s3, sh, size_mb  # noqa: E402

from deepcollapse.store import open_dataset, write_dataset  # noqa: E402

DIMS = {"stage1": 64, "stage2": 128, "stage3": 256, "stage4": 512, "penultimate": 512}
LAYOUTS = {  # name: (chunk bytes, sharded)
    "sharded 4MB/epoch": (4 << 20, True),
    "4MB chunks": (4 << 20, False),
    "64KiB chunks": (64 << 10, False),
}


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one(ds, *, layout: str, remote: str, root: Path, endpoint: str | None) -> dict:
    chunk_bytes, sharded = LAYOUTS[layout]
    repo = init_repo(root / "project")
    if remote == "local":
        add_remote(repo, str(root / "remote"))
    else:
        add_remote(repo, f"s3://{BUCKET}/{root.name}", endpoint=endpoint)
    store = repo / "results" / "features" / "run.zarr"
    t_write = timed(lambda: write_dataset(ds, store, encoding=encoding(ds, chunk_bytes=chunk_bytes, sharded=sharded)))
    t_add = timed(lambda: sh("dvc", "add", "results/features/run.zarr", cwd=repo, timeout=3600))
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "store", cwd=repo)
    t_push = timed(lambda: sh("dvc", "push", "-j", "4", cwd=repo, timeout=3600))
    clone = root / "clone"
    sh("git", "clone", "-q", repo, clone, cwd=root)
    t_pull = timed(lambda: sh("dvc", "pull", "-j", "4", cwd=clone, timeout=3600))
    assert open_dataset(clone / "results/features/run.zarr")["penultimate"][-1, :5].values.tolist() == ds["penultimate"][-1, :5].values.tolist()
    return dict(files=len(files_under(store)), mb=size_mb(store), write=t_write, add=t_add, push=t_push, pull=t_pull)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--remotes", nargs="+", default=["local", "s3"], choices=["local", "s3"])
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    args = parser.parse_args()

    ds = feature_dataset(samples=args.samples, epochs=args.epochs, dims=DIMS)
    print(f"store: {args.samples} samples x {args.epochs} epochs x {sum(DIMS.values())} features, float32 ({ds.nbytes / 1e6:.0f} MB)")
    print(f"{'remote':7} {'layout':18} {'files':>6} {'MB':>6} {'write s':>8} {'add s':>6} {'push s':>7} {'pull s':>7} {'push MB/s':>9}")
    with tempfile.TemporaryDirectory(prefix="bench-dvc-") as tmp:
        tmp = Path(tmp)
        for remote in args.remotes:
            server = moto_s3(tmp / f"moto-{remote}.log") if remote == "s3" else contextlib.nullcontext()
            with server as endpoint:
                for i, layout in enumerate(args.layouts):
                    r = one(ds, layout=layout, remote=remote, root=tmp / f"{remote}-{i}", endpoint=endpoint)
                    print(
                        f"{remote:7} {layout:18} {r['files']:6d} {r['mb']:6.0f} {r['write']:8.1f} {r['add']:6.1f}"
                        f" {r['push']:7.1f} {r['pull']:7.1f} {r['mb'] / r['push']:9.0f}",
                        flush=True,
                    )
    print("baselines: the unsharded layouts, measured in the same run; timings on a shared machine are noisy")


if __name__ == "__main__":
    main()
