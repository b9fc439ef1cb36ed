"""Benchmark: time and peak memory of the exact NC metrics against the d×d pseudo-inverse route.

    python tests/benchmarks/bench_metrics.py            # the issue's two cases (needs ~4 GB free)
    python tests/benchmarks/bench_metrics.py --quick    # small sizes, to check the script

A second table times `ufm.batched_metrics.nc`, the UFM solver's per-log-step measurement of B
problems at once (plain UFM shapes K=4, n=50, d=20, classifier and bias given, one thread).
CPU seconds are reported beside wall seconds: on a shared machine the wall time includes waiting.

Each (case, method) runs in a fresh subprocess so that peak memory is the method's own: the
reported "peak beyond input" is the increase of the process's maximum resident set size after
the float32 input has been created.  The baseline ("d×d pinv") forms Σ_W and Σ_B in float64 and
takes a pseudo-inverse, which is what earlier NC code does (in float32); it is only run where
its d×d matrices fit comfortably in memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

CASES = {"full": [(60_000, 512), (6_000, 50_000)], "quick": [(6_000, 256), (600, 20_000)]}
UFM_BATCHES = {"full": (1, 64, 1024), "quick": (1, 64)}
UFM_SHAPE = (4, 50, 20)  # K, n, d of the plain UFM figures
METHODS = ("nc", "nc+W", "Accumulator", "dxd-pinv")
K = 10
DXD_MAX_D = 8192


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_input(N: int, d: int):
    import numpy as np

    rng = np.random.default_rng(0)
    y = np.arange(N) % K
    H = rng.standard_normal((N, d), dtype=np.float32)
    centers = rng.standard_normal((K, d), dtype=np.float32)
    for s in range(0, N, 256):  # class structure, in place and in chunks: no temporary copy of H
        H[s : s + 256] += centers[y[s : s + 256]]
    W = rng.standard_normal((K, d))
    return H, y, W


def dxd_route(H, y):
    """NC1 through d×d float64 covariances and an eigen-decomposition pseudo-inverse."""
    import numpy as np

    N, d = H.shape
    means = np.stack([H[y == k].mean(axis=0, dtype=np.float64) for k in range(K)])
    Sigma_W = np.zeros((d, d))
    for start in range(0, N, 4096):  # chunked so the input is not copied to float64 at once
        R = H[start : start + 4096].astype(np.float64) - means[y[start : start + 4096]]
        Sigma_W += R.T @ R
    Sigma_W /= N
    M = means - H.mean(axis=0, dtype=np.float64)
    Sigma_B = M.T @ M / K
    evals, evecs = np.linalg.eigh(Sigma_B)
    keep = evals > 1e-10 * evals.max()
    pinv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    return {"NC1": float(np.trace(Sigma_W @ pinv) / K)}


def run_one(method: str, N: int, d: int) -> dict:
    import torch

    from deepcollapse import metrics

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", os.cpu_count() or 1)))
    # warm up (first-call costs of torch's linear algebra and thread pool are not the method's)
    Hw, yw, Ww = make_input(200, 64)
    metrics.nc(Hw, yw, W=Ww)
    dxd_route(Hw, yw)
    del Hw, yw, Ww
    H, y, W = make_input(N, d)
    base = peak_rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "nc":
        out = metrics.nc(H, y)
    elif method == "nc+W":
        out = metrics.nc(H, y, W=W)
    elif method == "Accumulator":  # batches of 1,000 rows, as a Zarr reader would deliver them
        acc = metrics.Accumulator(K, d)
        for s in range(0, N, 1000):
            acc.update(H[s : s + 1000], y[s : s + 1000])
        if acc.needs_second_pass():
            acc.begin_second_pass()
            for s in range(0, N, 1000):
                acc.update(H[s : s + 1000], y[s : s + 1000])
        out = acc.result()
    else:
        out = dxd_route(H, y)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"seconds": seconds, "cpu_seconds": cpu, "extra_mb": peak_rss_mb() - base, "input_mb": H.nbytes / 2**20, "NC1": out["NC1"]}


def ufm_batched_us(B: int) -> tuple[float, float]:
    """Best-of-5 wall and CPU µs per `batched_metrics.nc` call on B plain-UFM problems (one thread)."""
    import torch

    from deepcollapse.ufm import batched_metrics

    torch.set_num_threads(1)
    K, n, d = UFM_SHAPE
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(B, d, K * n, generator=gen, dtype=torch.float64)
    W = torch.randn(B, K, d, generator=gen, dtype=torch.float64)
    b = torch.randn(B, K, generator=gen, dtype=torch.float64)
    calls = max(3, 2000 // B)
    batched_metrics.nc(X, K=K, W=W, b=b)  # warm-up
    best_wall = best_cpu = float("inf")
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(calls):
            batched_metrics.nc(X, K=K, W=W, b=b)
        best_wall = min(best_wall, (time.perf_counter() - t0) / calls * 1e6)
        best_cpu = min(best_cpu, (time.process_time() - c0) / calls * 1e6)
    return best_wall, best_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "N", "D"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, N, d = args.one
        print(json.dumps(run_one(method, int(N), int(d))))
        return

    from deepcollapse.provenance import collect

    prov = collect()
    print(f"# NC metrics benchmark — {prov['device']}, torch threads = {os.environ.get('BENCH_THREADS', os.cpu_count())}")
    print(f"# git {prov['git']['commit'][:10]}, torch {prov['versions']['torch']}, numpy {prov['versions']['numpy']}")
    print(f"# load average before: {os.getloadavg()[0]:.2f}")
    print("| N | d | method | seconds | CPU seconds | peak MB beyond input | input MB | NC1 |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for N, d in CASES["quick" if args.quick else "full"]:
        nc1_ref = None
        for method in METHODS:
            if method == "dxd-pinv" and d > DXD_MAX_D:
                print(f"| {N} | {d} | {method} | — | — | would need {3 * d * d * 8 / 2**30:.0f} GB (not run) | | |")
                continue
            proc = subprocess.run(
                [sys.executable, __file__, "--one", method, str(N), str(d)], capture_output=True, text=True
            )
            if proc.returncode != 0:
                print(f"| {N} | {d} | {method} | failed: {proc.stderr.strip().splitlines()[-1]} | | | | |")
                continue
            r = json.loads(proc.stdout)
            nc1_ref = nc1_ref if nc1_ref is not None else r["NC1"]
            agree = f"{r['NC1']:.12g}" + ("" if method == "nc" else f" (Δrel {abs(r['NC1'] - nc1_ref) / nc1_ref:.1e})")
            print(f"| {N} | {d} | {method} | {r['seconds']:.2f} | {r['cpu_seconds']:.2f} | {r['extra_mb']:.0f} | {r['input_mb']:.0f} | {agree} |")
    K, n, d = UFM_SHAPE
    print(f"\n# ufm.batched_metrics.nc, K={K} n={n} d={d}, classifier and bias, 1 thread (best of 5)")
    print("| problems B | µs per call | CPU µs per call | µs per problem |")
    print("|---:|---:|---:|---:|")
    for B in UFM_BATCHES["quick" if args.quick else "full"]:
        wall, cpu = ufm_batched_us(B)
        print(f"| {B} | {wall:.0f} | {cpu:.0f} | {wall / B:.1f} |")
    print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
