"""UFM solver speed: µs per GD iteration against a naive autograd loop, and batched throughput.

    PYTHONPATH=src python tests/benchmarks/bench_ufm.py [--quick]

1. One problem (plain UFM, K=4, d=20, n=50, float64, CPU) with metric logging on at the paper's
   cadence (every 5000 iterations), against a naive torch-autograd loop of the same problem from
   the same start measured in the same run (goal: >= 8x faster).  Both run on one CPU thread,
   the naive loop's best case.
2. Batched: problem-iterations per second for 1, 64 and 1024 problems (a seed sweep) on the
   CPU, and on CUDA when available (goal there: >= 1M problem-iterations/s).
Timings on a shared machine are noisy; rerun on a quiet one before quoting them.  Table 1 gives
CPU time per iteration beside wall time (and the speed-up in both): on a loaded machine the
wall time includes waiting for a core, the CPU time much less so.
"""

from __future__ import annotations

import argparse
import os
import dataclasses
import time

import torch

from deepcollapse.ufm import Config, problems, solver

PLAIN = Config(model="plain", K=4, n=50, d=20)


def naive_autograd_us(config: Config, iters: int) -> tuple[float, float, float]:
    """(wall µs/iteration, CPU µs/iteration, objective) of the textbook loop: build the loss,
    autograd, update under no_grad.

    The objective it returns is the loss before its last update (the solver reports the final iterate).
    """
    lam = problems.lambda_tensors([config], dtype=torch.float64, device="cpu")
    start = problems.build(config, lam, dtype=torch.float64, device="cpu").init([config.seed], solver.init_scales([config]))
    W, H = (start[k][0].clone().requires_grad_(True) for k in ("W", "H"))
    Y = problems.one_hot(config.K, config.n, dtype=torch.float64, device="cpu")[0]
    N = config.N
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(iters):
        loss = ((W @ H - Y) ** 2).sum() / (2 * N) + config.lambda_W / 2 * (W**2).sum() + config.lambda_H / 2 * (H**2).sum()
        gW, gH = torch.autograd.grad(loss, (W, H))
        with torch.no_grad():
            W -= config.lr * gW
            H -= config.lr * gH
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds / iters * 1e6, cpu / iters * 1e6, float(loss.detach())


def solver_us(config: Config) -> tuple[float, float, float]:
    c0 = time.process_time()
    trajectory = solver.run([config], metrics="reference")
    cpu = time.process_time() - c0  # includes building the problem (as the wall time does not): an upper bound
    return trajectory.seconds / config.iters * 1e6, cpu / config.iters * 1e6, float(trajectory.records["objective"][0, -1])


def batched_rate(config: Config, B: int, device: str) -> float:
    configs = [dataclasses.replace(config, seed=s, device=device) for s in range(B)]
    trajectory = solver.run(configs, metrics="batched")
    return B * config.iters / trajectory.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    iters = int(20_000 * scale)

    print(f"torch {torch.__version__}, CPU threads available {torch.get_num_threads()}; noisy if the machine is shared")
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; wall time is contended when the load exceeds the cores, CPU time much less\n")
    print("1. one problem, K=4 d=20 n=50, float64 CPU, metrics every 5000 iterations")
    print(f"{'implementation':<46}{'µs/iter':>10}{'speed-up':>10}{'CPU µs/iter':>13}{'speed-up':>10}{'final objective':>20}")
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    naive, naive_cpu, naive_obj = naive_autograd_us(dataclasses.replace(PLAIN, iters=iters), iters)
    torch.set_num_threads(previous)
    rows = [("naive torch autograd loop (baseline)", naive, 1.0, naive_cpu, 1.0, naive_obj)]
    for label, config in [
        ("deepcollapse.ufm, plain, metrics every 5000", dataclasses.replace(PLAIN, iters=iters)),
        ("deepcollapse.ufm, plain, metrics every 500", dataclasses.replace(PLAIN, iters=iters, log_every=500)),
        ("(other model) extended ReLU, d1=d2=20", Config(model="extended", activation="relu", iters=iters)),
        ("(other model) deep linear L=3, d=20", Config(model="deep", depth=3, iters=iters)),
    ]:
        us, cpu, obj = solver_us(config)
        plain = config.model == "plain"
        rows.append((label, us, naive / us if plain else None, cpu, naive_cpu / cpu if plain else None, obj))
    for label, us, speedup, cpu, cpu_speedup, obj in rows:
        ratio = f"{speedup:>9.1f}x" if speedup is not None else f"{'-':>10}"
        cpu_ratio = f"{cpu_speedup:>9.1f}x" if cpu_speedup is not None else f"{'-':>10}"
        print(f"{label:<46}{us:>10.1f}{ratio}{cpu:>13.1f}{cpu_ratio}{obj:>20.12g}")

    print("\n2. batched seeds, plain K=4 d=20 n=50, float64, metrics in batch (first and last iterate)")
    print(f"{'device':<10}{'problems':>10}{'iterations':>12}{'problem-iterations/s':>24}")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for B, its in [(1, 5000), (64, 1000), (1024, 100 if device == "cpu" else 2000)]:
            its = max(10, int(its * scale))
            config = dataclasses.replace(PLAIN, iters=its, log_every=its)
            print(f"{device:<10}{B:>10}{its:>12}{batched_rate(config, B, device):>24,.0f}")
    if not torch.cuda.is_available():
        print("(no CUDA device here: GPU throughput not measured)")


if __name__ == "__main__":
    main()
