"""Benchmark: the default Theorem 5.1 grid (params.yaml `asymptotic:`) against a naive baseline.

    python tests/benchmarks/bench_asymptotic.py [--reps 2] [--device cpu]

Target (issue 4): the default grid in under a minute on 2 CPU cores.  Rows:
  * study, default grid            — `asymptotic.run(Config())`: plain study + exploratory GD
  * study, plain part only          — the same with `extended.enabled: false`
  * study, default torch threads    — the full study without the one-thread setting of `run`
  * baseline: per-cell loop         — for every (σ, n, seed): materialise H = H* + σZ (the same
    draws), then numpy's Y Hᵀ(HHᵀ + NλI)⁻¹ with an explicit inverse.  Plain part only.
The baseline's W is compared with the study's (max relative difference), so both compute the
same numbers.  Timings on a shared machine are noisy: take the minimum over --reps.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch

from deepcollapse.asymptotic import Config, ExtendedConfig, noisy_features, run
from deepcollapse.asymptotic.ridge import classifier_explicit_inverse


def best_of(reps: int, fn):
    times, result = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def baseline(cfg: Config, means: np.ndarray) -> np.ndarray:
    W = np.empty((len(cfg.sigma), len(cfg.n), cfg.seeds, cfg.K, cfg.d))
    for i, sigma in enumerate(cfg.sigma):
        for j, n in enumerate(cfg.n):
            for r in range(cfg.seeds):
                H, y = noisy_features(means, n=n, sigma=sigma, seed=cfg.seed + r, distribution=cfg.noise)
                Y = np.eye(cfg.K)[y.numpy()]
                W[i, j, r] = classifier_explicit_inverse(H.numpy(), Y, lambda_W=cfg.lambda_W)
    return W


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    cfg = dataclasses.replace(Config(), device=args.device)
    plain_cfg = dataclasses.replace(cfg, extended=ExtendedConfig(enabled=False))
    cells = len(cfg.sigma) * len(cfg.n) * cfg.seeds
    print(f"default grid: {len(cfg.sigma)} sigma x {len(cfg.n)} n (10..1e4) x {cfg.seeds} seeds = {cells} cells, "
          f"K={cfg.K}, d={cfg.d}; exploratory GD {cfg.extended.iters} iterations; device {args.device}; "
          f"{os.cpu_count()} logical cores, load average {os.getloadavg()[0]:.1f}; best of {args.reps}")
    rows = []
    t_full, ds = best_of(args.reps, lambda: run(cfg))
    rows.append(("study, default grid (plain + exploratory)", t_full))
    t_plain, ds_plain = best_of(args.reps, lambda: run(plain_cfg))
    rows.append(("study, plain part only", t_plain))
    t_threads, _ = best_of(args.reps, lambda: run(cfg, cpu_threads=None))
    rows.append((f"study, default torch threads ({torch.get_num_threads()})", t_threads))
    t_base, W_base = best_of(args.reps, lambda: baseline(plain_cfg, ds_plain.class_means_star.values))
    rows.append(("baseline: per-cell H + explicit inverse (plain only)", t_base))

    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  seconds  vs plain study")
    for name, seconds in rows:
        print(f"{name:{width}}  {seconds:7.2f}  {seconds / t_plain:6.2f}x")
    W = ds_plain.W.values
    diff = np.abs(W - W_base).max() / np.abs(W).max()
    print(f"max |W_study - W_baseline| / max |W| = {diff:.1e}")
    print(f"target: default grid < 60 s -> {'met' if t_full < 60 else 'NOT met'} ({t_full:.1f} s)")


if __name__ == "__main__":
    main()
