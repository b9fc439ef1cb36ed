"""UFM gradient descent against this core's arithmetic floor: the torch step and the compiled kernel.

    PYTHONPATH=src python tests/benchmarks/bench_ufm.py [--quick] [--agreement]

1. The floor.  This core's DGEMM rate (numpy, one BLAS thread, 1000×1000, CPU time), the FLOPs of
   one GD iteration of each problem (2 × `Model.work`: every forward and backward product), and
   so the least time an iteration can take here.  Against it, per iteration and one problem, CPU
   time on one thread: the torch step (`torch_loop.gd_step`, the loop's body) and the compiled
   kernel (`ufm.kernel.advance`, whole loop, checks on).  Goal: kernel ≤ 3× the floor for P
   (plain, K=4, n=50, d=20) and R (extended ReLU, d1=d2=20).
2. `solver.run` end to end (metrics every 5000 iterations), each backend.
3. Batched: problem-iterations per CPU second of a 64- and a 1024-seed batch, each backend
   (goal: kernel ≥ 1.8× torch), and torch on CUDA when there is one.
4. With --agreement: every registered model variant at the paper's 1e5 iterations, kernel
   against torch: largest relative difference of the objective (all log points) and of the final
   parameters (goal ≤ 1e-12; minutes of torch).
CPU time is reported because the machine may be shared: wall time then includes waiting for a
core.  Every number of one table comes from the same run; rerun on a quiet machine before quoting.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from deepcollapse.ufm import Config, kernel, models, problems, solver, torch_loop

P = Config(model="plain", K=4, n=50, d=20)
R = Config(model="extended", activation="relu", d1=20, d2=20)
VARIANTS = {
    "plain, no bias": P,
    "plain, unregularized bias": dataclasses.replace(P, bias="unregularized"),
    "plain, regularized bias": dataclasses.replace(P, bias="regularized", lambda_b=5e-3),
    "plain CE, unregularized bias": dataclasses.replace(P, loss="ce", bias="unregularized"),
    "extended linear": Config(model="extended"),
    "extended ReLU (R)": R,
    "extended linear CE": Config(model="extended", loss="ce"),
    "extended ReLU CE": Config(model="extended", activation="relu", loss="ce"),
    "deep linear L=3": Config(model="deep", depth=3),
    "deep ReLU L=3": Config(model="deep", depth=3, activation="relu"),
}


def dgemm_flops_per_cpu_s(size: int = 1000, repeats: int = 5) -> float:
    a, b = np.random.default_rng(0).random((2, size, size))
    with threadpool_limits(1):
        a @ b
        best = float("inf")
        for _ in range(repeats):  # the best of several: the floor is the core's rate when it is not disturbed
            c0 = time.process_time()
            a @ b
            best = min(best, time.process_time() - c0)
    return 2 * size**3 / best


def flops(config: Config) -> int:
    return 2 * models.of(config).work(config)


def _start(configs):
    lam = problems.lambda_tensors(configs, dtype=torch.float64, device="cpu")
    problem = problems.build(configs[0], lam, dtype=torch.float64, device="cpu")
    return problem, problem.init([c.seed for c in configs], solver.init_scales(configs))


def torch_step_us(config: Config, iters: int) -> float:
    """CPU µs per iteration of the torch step, one thread, from the project's initialisation."""
    problem, params = _start([config])
    step = torch_loop.gd_step(problem, torch.tensor([config.lr], dtype=torch.float64))
    with torch.inference_mode():
        params = step(params)
        c0 = time.process_time()
        for _ in range(iters):
            params = step(params)
    return (time.process_time() - c0) / iters * 1e6


def kernel_us(config: Config, iters: int) -> float:
    """CPU µs per iteration of the compiled loop (finite and dead-sample checks every 100, no fixed-point stop)."""
    problem, params = _start([config])
    plan = kernel.plan(config)
    theta = np.ascontiguousarray(np.concatenate([params[n].reshape(1, -1).numpy() for n in plan.names], axis=1))
    decay = np.ones_like(theta)
    at = 0
    for name in plan.names:
        size = int(np.prod(plan.shapes[name]))
        if name in problem.regularized:
            decay[:, at : at + size] = 1.0 - config.lr * float(problem.lambdas[name])
        at += size
    levels = max(plan.depth - 1, 1)

    def go(t0, t1):
        kernel.advance(theta, decay, np.array([-config.lr]), plan.meta, t0, t1, 100, 100, False, np.full(1, -1), np.full(1, -1),
                       theta.copy(), np.zeros(1, dtype=np.int64), np.zeros((1, levels), dtype=np.int64), np.full((1, levels), -1))

    go(0, 10)  # compiled (or loaded from the cache) before the clock starts
    c0 = time.process_time()
    go(0, iters)
    return (time.process_time() - c0) / iters * 1e6


def run_cpu_us(config: Config, backend: str) -> tuple[float, float]:
    c0 = time.process_time()
    trajectory = solver.run([config], metrics="reference", backend=backend)
    return (time.process_time() - c0) / config.iters * 1e6, float(trajectory.records["objective"][0, -1])


def batched_rate(config: Config, B: int, backend: str, device: str = "cpu") -> float:
    configs = [dataclasses.replace(config, seed=s, device=device) for s in range(B)]
    c0, w0 = time.process_time(), time.perf_counter()
    solver.run(configs, metrics="batched", backend=backend)
    spent = time.perf_counter() - w0 if device != "cpu" else time.process_time() - c0
    return B * config.iters / spent


def agreement(config: Config) -> tuple[float, float, int, int]:
    a, b = solver.run([config], backend="numba"), solver.run([config], backend="torch")
    obj = float(np.abs(a.records["objective"] - b.records["objective"]).max() / np.abs(b.records["objective"]).max())
    par = max(float(np.abs(a.params[k] - b.params[k].numpy()).max() / b.params[k].abs().max()) for k in b.params)
    return obj, par, int(a.per_problem["fixed_point_iteration"][0]), int(b.per_problem["fixed_point_iteration"][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--agreement", action="store_true", help="also the 1e5-iteration agreement of every model (minutes)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    torch.set_num_threads(1)
    load = lambda: " ".join(f"{v:.2f}" for v in os.getloadavg())  # noqa: E731

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs; load average {load()} (wall time is contended when the load exceeds the cores)\n")
    rate = dgemm_flops_per_cpu_s()
    print(f"1. per GD iteration, one problem, float64, one thread, CPU µs; floor = FLOPs / {rate / 1e9:.1f} GFLOP/s (this core's DGEMM)")
    print(f"{'problem':<34}{'FLOPs':>9}{'floor':>8}{'torch step':>12}{'× floor':>9}{'kernel':>9}{'× floor':>9}{'vs torch':>10}")
    for label, config in [("P plain K=4 n=50 d=20", P), ("R extended ReLU d1=d2=20", R),
                          ("extended linear d1=d2=20", Config(model="extended")), ("deep ReLU L=3 d=20", Config(model="deep", depth=3, activation="relu"))]:
        floor = flops(config) / rate * 1e6
        t = torch_step_us(config, int(3000 * scale))
        k = kernel_us(config, int(30000 * scale))
        print(f"{label:<34}{flops(config):>9,}{floor:>8.2f}{t:>12.1f}{t / floor:>8.1f}x{k:>9.2f}{k / floor:>8.1f}x{t / k:>9.1f}x")
    print(f"(load average now {load()})\n")

    iters = int(20_000 * scale)
    print(f"2. solver.run end to end, {iters} iterations, metrics every 5000, CPU µs per iteration (compilation excluded: warm cache)")
    print(f"{'problem':<34}{'torch':>10}{'kernel':>10}{'speed-up':>10}{'final objective (torch, kernel)':>40}")
    for label, config in [("P", P), ("R", R)]:
        config = dataclasses.replace(config, iters=iters)
        t, ot = run_cpu_us(config, "torch")
        k, ok = run_cpu_us(config, "numba")
        print(f"{label:<34}{t:>10.1f}{k:>10.1f}{t / k:>9.1f}x{ot:>20.15g}{ok:>20.15g}")
    print(f"(load average now {load()})\n")

    print("3. batched seeds, float64, metrics in batch at the first and last iterate, problem-iterations per CPU second")
    print(f"{'problem':<10}{'problems':>10}{'iterations':>12}{'torch':>14}{'kernel':>14}{'speed-up':>10}")
    for label, base in [("P", P), ("R", R)]:
        for B, its in [(64, 1000), (1024, 100)]:
            its = max(10, int(its * scale))
            config = dataclasses.replace(base, iters=its, log_every=its)
            t, k = batched_rate(config, B, "torch"), batched_rate(config, B, "numba")
            print(f"{label:<10}{B:>10}{its:>12}{t:>14,.0f}{k:>14,.0f}{k / t:>9.2f}x")
    if torch.cuda.is_available():
        torch.set_num_threads(os.cpu_count() or 1)
        for B in (1024, 8192):
            config = dataclasses.replace(P, iters=2000, log_every=2000)
            print(f"cuda ({torch.cuda.get_device_name()}), P, {B} problems: {batched_rate(config, B, 'torch', 'cuda'):,.0f} problem-iterations/s (wall)")
    else:
        print("(no CUDA device here: the GPU sweep is not measured)")
    print(f"(load average now {load()})")

    if args.agreement:
        its = int(100_000 * scale)
        print(f"\n4. kernel against torch after {its} iterations: largest relative difference (goal ≤ 1e-12)")
        print(f"{'model':<34}{'objective':>12}{'parameters':>12}{'fixed point (kernel, torch)':>30}")
        for label, config in VARIANTS.items():
            obj, par, fk, ft = agreement(dataclasses.replace(config, iters=its))
            print(f"{label:<34}{obj:>12.1e}{par:>12.1e}{fk:>15}{ft:>15}")


if __name__ == "__main__":
    main()
