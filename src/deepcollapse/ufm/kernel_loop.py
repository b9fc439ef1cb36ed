"""Gradient descent on the compiled CPU kernel (`ufm.kernel`), measured in numpy: no torch in the process.

The same protocol as the torch loop (`torch_loop.run`): the §6 initial draw (`draws`, torch's
generator bit for bit), the log schedule, the finite and dead-sample checks, the exact-fixed-point
stop and the divergence report.  At each log point the kernel's forward pass gives the levels, its
`data_loss` and `data_gradient` the objective and the gradient, and the metric table
(`batched_metrics`, the formulas of `metrics.table`) the NC metrics, in numpy: the values agree
with the torch loop's to rounding (tests/unit/ufm/test_kernel.py).  A `deepcollapse ufm` job on
this loop does not import torch (~2.5 CPU-s of every job; tests/unit/ufm/test_import_graph.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from . import batched_metrics, draws, kernel, models, trajectory
from .config import Config
from .trajectory import Trajectory


class Layout:
    """Where each parameter and level of a configured model sits in the kernel's flat vectors."""

    def __init__(self, config: Config, configs: Sequence[Config]):
        self.plan = plan = kernel.plan(config)
        self.layers = models.of(config).layers(config)
        self.K, self.N = config.K, config.N
        self.slices, at = {}, 0
        for name in plan.names:
            size = math.prod(plan.shapes[name])
            self.slices[name] = slice(at, at + size)
            at += size
        lambdas = [models.of(c).regularization(c) for c in configs]
        # λ per entry (0 for an unpenalised parameter): the gradient's λθ and the objective's ½λ‖θ‖²
        self.lam = {name: np.array([lam[name] for lam in lambdas], dtype=np.float64) for name in lambdas[0]}

    def params(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Views of θ (B, P) as the parameters (B, *shape)."""
        B = theta.shape[0]
        return {name: theta[:, where].reshape((B,) + self.plan.shapes[name]) for name, where in self.slices.items()}

    def forward_levels(self, scratch: np.ndarray, params: dict[str, np.ndarray]) -> tuple[list, list]:
        """X_1..X_L and Z_2..Z_L (B, d, N) from the scratch of `kernel.measure_pass`."""
        meta, L, B, N = self.plan.meta, self.plan.depth, scratch.shape[0], self.N
        xs, zs = [params[self.layers.features]], []
        for l in range(L - 1):
            d, at = int(meta[kernel.M_HEAD + l + 1]), int(meta[kernel.M_HEAD + 2 * L + l])
            zs.append(scratch[:, at : at + d * N].reshape(B, d, N))
            if self.layers.relu:
                at += d * N
            xs.append(scratch[:, at : at + d * N].reshape(B, d, N))
        return xs, zs


def measure(layout: Layout, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Everything logged at one iteration, per problem (arrays of shape (B,), float64): what
    `torch_loop.measure` logs, from the kernel and the metric table in numpy.

    As in torch, 0/0 and overflow give NaN and inf without a warning: an undefined metric is NaN
    by the metric table's rule (features at the origin), and a non-finite objective is the
    solver's to report (`SolverDiverged`), not numpy's."""
    with np.errstate(all="ignore"):
        return _measure(layout, theta)


def _measure(layout: Layout, theta: np.ndarray) -> dict[str, np.ndarray]:
    B = theta.shape[0]
    loss, grad = np.empty(B), np.empty_like(theta)
    scratch = np.empty((B, layout.plan.scratch))
    kernel.measure_pass(theta, layout.plan.meta, scratch, loss, grad)
    params = layout.params(theta)
    squares = {name: np.sum(value * value, axis=(-2, -1)) for name, value in params.items()}
    objective = loss
    for name, lam in layout.lam.items():  # the objective's penalties, in their order
        objective = objective + 0.5 * lam * squares[name]
    gradient = layout.params(grad)
    grad_squares = 0.0
    for name, g in gradient.items():
        if name in layout.lam:
            g = g + layout.lam[name][:, None, None] * params[name]
        grad_squares = grad_squares + np.sum(g * g, axis=(-2, -1))
    out = {"objective": objective, "grad_norm": np.sqrt(grad_squares)}
    for name in params:
        out[f"norm_{name}"] = np.sqrt(squares[name])
    xs, zs = layout.forward_levels(scratch, params)
    for level, X, W, b in layout.layers.measured_levels(xs, zs, params):
        if f"norm_{level}" not in out:
            out[f"norm_{level}"] = np.sqrt(np.sum(X * X, axis=(-2, -1)))
        for key, value in batched_metrics.nc(X, K=layout.K, W=W, b=b).items():
            out[f"{key}_{level}"] = value
    return out


def run(configs: Sequence[Config], *, on_nonfinite, progress) -> Trajectory:
    """`solver.run` on the compiled loop (`kernel.advance`) between log points: the same schedule,
    checks, fixed-point stop and dead-sample counts; the measurements are `measure`'s."""
    base, B = configs[0], len(configs)
    layout = Layout(base, configs)
    plan = layout.plan
    start = draws.initial([c.seed for c in configs], dict(plan.shapes), trajectory.init_scales(configs))
    theta = np.ascontiguousarray(np.concatenate([start[name].reshape(B, -1) for name in plan.names], axis=1))
    lr = np.array([c.lr for c in configs], dtype=np.float64)
    decay = np.ones_like(theta)
    for name, lam in layout.lam.items():  # the factors of the torch loop's `GradientDescent`, (1 − lr λ) per entry
        decay[:, layout.slices[name]] = (1.0 - lr * lam)[:, None]
    levels = max(plan.depth - 1, 1)
    fixed_at = np.full(B, -1, dtype=np.int64)
    bad_at = np.full(B, -1, dtype=np.int64)
    checked, checked_at = theta.copy(), np.zeros(B, dtype=np.int64)
    dead_count = np.zeros((B, levels), dtype=np.int64)
    dead_first = np.full((B, levels), -1, dtype=np.int64)
    shortcut = not base.reinit_dead
    schedule = trajectory.log_iterations(iters=base.iters, log_every=base.log_every, log_spaced=base.log_spaced)
    records: dict[str, list[np.ndarray]] = {}
    last = None  # the measurement once every problem is at its fixed point (it repeats)
    started = time.perf_counter()
    t = 0
    for mark in schedule.tolist():
        kernel.advance(theta, decay, -lr, plan.meta, t, mark, trajectory.FINITE_CHECK_EVERY, trajectory.FIXED_POINT_CHECK_EVERY,
                       shortcut, fixed_at, bad_at, checked, checked_at, dead_count, dead_first)  # fmt: skip
        if (bad_at >= 0).any():
            _raise_nonfinite(plan, decay, lr, checked, checked_at, bad_at, on_nonfinite)
        t = mark
        if progress is not None:
            progress(t)
        if last is not None:
            measured = last
        else:
            measured = measure(layout, theta)
            trajectory.check_objective(measured["objective"], t, on_nonfinite, range(B))
            if (fixed_at >= 0).all():
                last = measured
        for name, value in measured.items():
            records.setdefault(name, []).append(value)
    seconds = time.perf_counter() - started
    per_problem = {}
    for l, level in enumerate(plan.relu_levels):
        per_problem[f"dead_samples_{level}"] = dead_count[:, l].copy()
        per_problem[f"dead_first_iteration_{level}"] = dead_first[:, l].copy()
    per_problem["fixed_point_iteration"] = fixed_at
    stacked = {name: np.stack(values, axis=-1) for name, values in records.items()}
    params = {name: value.copy() for name, value in layout.params(theta).items()}
    return Trajectory(iterations=schedule, records=stacked, params=params, seconds=seconds, per_problem=per_problem, backend="numba")


def _raise_nonfinite(plan, decay, lr, checked, checked_at, bad_at, name_problem) -> None:
    """Replay each diverged problem from its last finite check, checking every iteration, and name the
    first iteration with a non-finite value (as the torch loop does)."""
    first = {}
    for b in np.flatnonzero(bad_at >= 0).tolist():
        one = checked[b : b + 1].copy()
        hit = np.full(1, -1, dtype=np.int64)
        scratch = np.zeros((1, max(plan.depth - 1, 1)), dtype=np.int64)
        kernel.advance(one, decay[b : b + 1], -lr[b : b + 1], plan.meta, int(checked_at[b]), int(bad_at[b]), 1, 1, False,
                       np.full(1, -1, dtype=np.int64), hit, one.copy(), np.zeros(1, dtype=np.int64), scratch, scratch.copy() - 1)  # fmt: skip
        first[b] = int(hit[0])
    t = min(first.values())
    bad = [b for b, at in first.items() if at == t]
    raise trajectory.diverged(t, bad, name_problem, bad)


def warm() -> None:
    """Compile every function of the kernel into numba's on-disk cache, by a one-iteration run: `make`
    does it once when it installs the package, so that no pipeline job pays it (~17 CPU-s, and twice
    when the first two jobs start side by side on a fresh install)."""
    run([Config(model="plain", K=2, n=8, d=2, iters=1, log_every=1)], on_nonfinite=str, progress=None)  # H: 32 entries, the draws' 16-wide path
