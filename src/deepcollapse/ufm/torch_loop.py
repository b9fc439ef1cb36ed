"""Gradient descent in torch (CPU or GPU, float64 or float32): the loop of `solver.run` where the
compiled kernel does not apply (a GPU, float32, re-drawn dead samples) or is not asked for.

The same protocol as the compiled loop (`kernel_loop`), shared through `trajectory`: plain GD with
simultaneous updates from the §6 initialization, logging at the schedule the objective, the
gradient norm, parameter/feature norms and every NC metric at every feature level.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .. import devices
from .. import metrics as nc_metrics
from . import batched_metrics, models, problems, trajectory
from .config import Config
from .trajectory import MetricsMode, Trajectory

#: Below this many multiply-adds per iteration, torch's intra-op threads cost more than they give
#: (small UFMs on a shared CPU run several times faster on one thread).
SINGLE_THREAD_WORK = 4_000_000


def resolve_device(config: Config) -> torch.device:
    return devices.resolve(config.device)


def _threads_for(device: torch.device, work: int):
    """One CPU thread for small problems (thread synchronisation would dominate), else torch's default."""
    return devices.cpu_threads(1 if work <= SINGLE_THREAD_WORK else None, device=device)


def _work_per_iteration(config: Config, B: int) -> int:
    return B * models.of(config).work(config)


# ----------------------------------------------------------------------------------- measurement
def _reference_nc(X: torch.Tensor, *, K: int, W, b) -> dict[str, torch.Tensor]:
    """`metrics.nc` problem by problem (the project's reference implementation)."""
    y = problems.labels(K, X.shape[-1] // K)
    rows = []
    for i in range(X.shape[0]):
        m = nc_metrics.nc(X[i].mT, y, W=None if W is None else W[i], b=None if b is None else b[i], K=K)
        rows.append([m.get(key, math.nan) for key in nc_metrics.KEYS])
    values = torch.tensor(rows, dtype=torch.float64)
    return {key: values[:, j] for j, key in enumerate(nc_metrics.KEYS)}


def measure(problem: problems.Problem, params: problems.Params, *, mode: MetricsMode) -> dict[str, np.ndarray]:
    """Everything logged at one iteration, per problem (arrays of shape (B,), float64)."""
    out = {"objective": problem.objective(params)}
    grads = problem.gradients(params)
    out["grad_norm"] = torch.sqrt(sum(g.square().sum(dim=(-2, -1)) for g in grads.values()))
    for name in problem.names:
        out[f"norm_{name}"] = torch.linalg.matrix_norm(params[name])
    compute = batched_metrics.nc if mode == "batched" else _reference_nc
    for level, X, W, b in problem.levels(params):
        if f"norm_{level}" not in out:
            out[f"norm_{level}"] = torch.linalg.matrix_norm(X)
        for key, value in compute(X, K=problem.K, W=W, b=b).items():
            out[f"{key}_{level}"] = value
    return {name: value.detach().to("cpu", torch.float64).numpy() for name, value in out.items()}


class GradientDescent:
    """θ ↦ θ − lr ∇L(θ) for every problem at once (lr of shape (B,)), simultaneous updates.

    The regularizer is folded into a decay, θ − lr(g + λθ) = (1 − lr λ)θ − lr g.

    Speed (tests/benchmarks/bench_ufm.py): on a small problem each tensor operation costs a few
    µs of dispatch whatever its size, so the step keeps the count low.  All parameters live in
    one flat buffer (each parameter a contiguous block), two such buffers taking turns, and the
    gradients in a third; backpropagation writes its products into the gradient buffer, and the
    update is two operations over every parameter at once, whatever the depth.  Elementwise it
    is the same arithmetic as parameter by parameter ((1 − lr λ) and −lr repeated per entry),
    so the same bits.

    The tensors a step returns are views of a buffer that the step after next overwrites: a
    caller that keeps an iterate longer than that clones it.  Any other parameters (a first
    iterate, a re-drawn one) are copied in first.
    """

    def __init__(self, problem: problems.Problem, lr: torch.Tensor):
        self.problem = problem
        B = lr.numel()
        dtype, device = problem.dtype, problem.device  # the buffers hold the problem's parameters
        lr = lr.to(dtype=dtype, device=device).view(-1, 1, 1)
        per_problem = problem.shapes()
        shapes = {name: (B,) + tuple(per_problem[name]) for name in problem.names}
        decay, neg_lr = [], []
        for name in problem.names:
            factor = 1.0 - lr * problem.lambdas[name] if name in problem.regularized else torch.ones_like(lr)
            decay.append(factor.expand(shapes[name]).flatten())
            neg_lr.append((-lr).expand(shapes[name]).flatten())
        self.decay, self.neg_lr = torch.cat(decay), torch.cat(neg_lr)
        size = self.decay.numel()
        buffers = [torch.empty(size, dtype=dtype, device=device) for _ in range(2)]
        # (views, buffer) of θ_t and of θ_{t+1}, swapped after every step
        self.slots = tuple((self._split(buffer, shapes), buffer) for buffer in buffers)
        self.gradient = torch.empty(size, dtype=dtype, device=device)
        self.gradient_views = self._split(self.gradient, shapes)

    @staticmethod
    def _split(buffer: torch.Tensor, shapes: dict[str, tuple[int, ...]]) -> problems.Params:
        views, offset = {}, 0
        for name, shape in shapes.items():
            count = math.prod(shape)
            views[name] = buffer[offset : offset + count].view(shape)
            offset += count
        return views

    def __call__(self, params: problems.Params) -> problems.Params:
        here, there = self.slots
        if params is not here[0]:
            for name, view in here[0].items():
                view.copy_(params[name])
        self.problem.data_gradients(here[0], out=self.gradient_views)  # every gradient at θ_t before any update
        torch.mul(here[1], self.decay, out=there[1]).addcmul_(self.neg_lr, self.gradient)
        self.slots = there, here
        return there[0]


def gd_step(problem: problems.Problem, lr: torch.Tensor) -> GradientDescent:
    """The GD step of `problem` with step sizes `lr` (B,): a callable θ_t ↦ θ_{t+1} (see `GradientDescent`)."""
    return GradientDescent(problem, lr)


def _all_finite(params: problems.Params) -> torch.Tensor:
    """Per problem: whether every entry of every parameter is finite, shape (B,)."""
    return torch.stack([torch.isfinite(p).flatten(1).all(dim=1) for p in params.values()]).all(dim=0)


class DeadSamples:
    """Per problem and ReLU level: samples whose pre-activations are all <= 0 (docs/math.md#extended-relu).

    Checked at every finite check (every FINITE_CHECK_EVERY iterations, every log point and the
    final iterate): `count` at the last check, `first` the first checked iteration with a dead
    sample (-1: never).  With `reinit_dead`, the free-feature columns of dead samples are
    re-drawn as at initialisation (N(0,1) times the feature scale, from a generator seeded by
    (seed, iteration)), counted in `reinitialized`.
    """

    def __init__(self, problem, configs: Sequence[Config], *, device):
        self.problem = problem
        self.configs = configs
        self.levels = models.of(configs[0]).relu_levels(configs[0])
        self.reinit = configs[0].reinit_dead
        B = len(configs)
        self.count = {level: torch.zeros(B, dtype=torch.int64, device=device) for level in self.levels}
        self.first = {level: torch.full((B,), -1, dtype=torch.int64, device=device) for level in self.levels}
        self.reinitialized = torch.zeros(B, dtype=torch.int64, device=device)
        self.feature = problem.layers.features if self.levels else None
        self.index: torch.Tensor | None = None  # the problems still iterating (None: all of them)

    def narrow(self, problem, keep: torch.Tensor) -> None:
        """Only the problems at positions `keep` of the current batch iterate on (`run` retires the rest)."""
        self.problem = problem
        if self.index is None:
            self.index = keep
        else:
            self.index = self.index[keep]

    def check(self, params: problems.Params, t: int) -> problems.Params:
        if not self.levels:
            return params
        masks = self.problem.dead_samples(params)
        for level, mask in masks.items():
            count = mask.sum(dim=-1)
            if self.index is None:
                self.count[level] = count
                self.first[level] = torch.where((self.first[level] < 0) & (count > 0), t, self.first[level])
            else:
                first = self.first[level][self.index]
                self.count[level][self.index] = count
                self.first[level][self.index] = torch.where((first < 0) & (count > 0), t, first)
        if not self.reinit:
            return params
        dead = torch.stack(list(masks.values())).any(dim=0)  # (B, N)
        if not bool(dead.any()):
            return params
        H = params[self.feature].clone()
        for i, config in enumerate(self.configs):
            columns = torch.nonzero(dead[i]).flatten()
            if columns.numel() == 0:
                continue
            gen = torch.Generator().manual_seed((int(config.seed) << 32) + int(t))
            draw = torch.randn((H.shape[1], columns.numel()), generator=gen, dtype=torch.float64) * config.feature_scale
            H[i][:, columns] = draw.to(dtype=H.dtype, device=H.device)
            self.reinitialized[i] += columns.numel()
        return {**params, self.feature: H}

    def results(self) -> dict[str, np.ndarray]:
        out = {}
        for level in self.levels:
            out[f"dead_samples_{level}"] = self.count[level].cpu().numpy()
            out[f"dead_first_iteration_{level}"] = self.first[level].cpu().numpy()
        if self.levels and self.reinit:
            out["dead_reinitialized"] = self.reinitialized.cpu().numpy()
        return out


def run(
    configs: Sequence[Config],
    *,
    metrics: MetricsMode = "batched",
    on_nonfinite: Callable[[int], str] = lambda i: f"problem {i}",
    progress: Callable[[int], None] | None = None,
    backend: str = "torch (asked for)",
) -> Trajectory:
    """`solver.run` in torch (`backend`: the reason this loop runs, recorded with the result).

    A problem that reaches an exact fixed point (θ_{t+1} = θ_t bit for bit, checked every
    FIXED_POINT_CHECK_EVERY iterations) is retired from the batch: GD is deterministic and the
    problems of a batch do not interact, so its every later iterate and measurement is the one at
    t; the others go on as a smaller batch, and the run stops when none is left.
    """
    base = configs[0]
    device = resolve_device(base)
    dtype = torch.float64 if base.dtype == "float64" else torch.float32
    lam = problems.lambda_tensors(configs, dtype=dtype, device=device)
    problem = problems.build(base, lam, dtype=dtype, device=device)
    # measurements are always float64 (a twin of the problem when GD runs in float32)
    lam64 = problems.lambda_tensors(configs, dtype=torch.float64, device=device)
    probe = problem if dtype == torch.float64 else problems.build(base, lam64, dtype=torch.float64, device=device)
    as64 = (lambda p: p) if dtype == torch.float64 else (lambda p: {k: v.to(torch.float64) for k, v in p.items()})

    def narrowed(active: list[int]):
        """(problem, float64 probe, step) of the problems `active` alone."""
        sub = [configs[i] for i in active]
        lam_sub = problems.lambda_tensors(sub, dtype=dtype, device=device)
        problem_sub = problems.build(base, lam_sub, dtype=dtype, device=device)
        probe_sub = problem_sub
        if dtype != torch.float64:
            probe_sub = problems.build(base, problems.lambda_tensors(sub, dtype=torch.float64, device=device), dtype=torch.float64, device=device)
        return problem_sub, probe_sub, gd_step(problem_sub, torch.tensor([c.lr for c in sub], dtype=dtype, device=device))

    B = len(configs)
    active = list(range(B))  # the problems still iterating, in batch order
    retired_params: dict[int, problems.Params] = {}  # problem -> its fixed point
    retired_measure: dict[int, dict[str, Any]] = {}  # problem -> its measurement there

    def name_active(j: int) -> str:
        return on_nonfinite(active[j])

    def record(measured: dict[str, np.ndarray]) -> None:
        if retired_measure:  # every problem's row: the active batch's values, the retired ones' fixed values
            full = {}
            for name, value in measured.items():
                column = np.empty((B,) + value.shape[1:], dtype=value.dtype)
                column[active] = value
                for i, values in retired_measure.items():
                    column[i] = values[name]
                full[name] = column
            measured = full
        for name, value in measured.items():
            records.setdefault(name, []).append(value)

    step = gd_step(problem, torch.tensor([c.lr for c in configs], dtype=dtype, device=device))
    schedule = trajectory.log_iterations(iters=base.iters, log_every=base.log_every, log_spaced=base.log_spaced)
    records: dict[str, list[np.ndarray]] = {}
    dead = DeadSamples(problem, configs, device=device)
    started = time.perf_counter()
    with _threads_for(device, _work_per_iteration(base, len(configs))), torch.inference_mode():
        params = problem.init([c.seed for c in configs], trajectory.init_scales(configs))
        checked_at, checked = 0, params  # the last iterate known to be finite (a copy: the step reuses its buffers)
        position = 0
        fixed_at = torch.full((len(configs),), -1, dtype=torch.int64, device=device)
        # the shortcut needs every later check to leave θ alone: a re-draw of dead columns would not
        shortcut = not base.reinit_dead
        t = 0
        marks = schedule.tolist()  # Python ints: a numpy scalar comparison per iteration costs ~1 µs
        while True:
            logging = t == marks[position]
            if t % trajectory.FINITE_CHECK_EVERY == 0 or logging or t == base.iters:
                if not bool(_all_finite(params).all()):
                    _raise_nonfinite(step, checked, checked_at, t, name_active, active)
                params = dead.check(params, t)
                checked_at, checked = t, {name: value.clone() for name, value in params.items()}  # the step reuses its buffers
                if progress is not None:
                    progress(t)
            if logging:
                measured = measure(probe, as64(params), mode=metrics)
                trajectory.check_objective(measured["objective"], t, name_active, active)
                record(measured)
                position += 1
            if t == base.iters:
                break
            new = step(params)
            if shortcut and t % trajectory.FIXED_POINT_CHECK_EVERY == 0:
                same = _unchanged(params, new)
                where = torch.tensor(active, device=device)
                fixed_at[where] = torch.where((fixed_at[where] < 0) & same, t, fixed_at[where])
                if bool(same.all()):
                    # θ_{t+1} = θ_t bit for bit: GD is deterministic, so every later iterate is θ_t
                    # and every later measurement is this one (computed once, repeated)
                    if position < len(schedule):
                        measured = measure(probe, as64(params), mode=metrics)
                        for _ in range(position, len(schedule)):
                            record(measured)
                    break
                if bool(same.any()):  # retire the fixed problems; the others go on as a smaller batch
                    measured = measure(probe, as64(params), mode=metrics)
                    keep = torch.nonzero(~same).flatten()
                    for j in torch.nonzero(same).flatten().tolist():
                        retired_params[active[j]] = {name: value[j].clone() for name, value in params.items()}
                        retired_measure[active[j]] = {name: value[j] for name, value in measured.items()}
                    active = [active[j] for j in keep.tolist()]
                    problem, probe, step = narrowed(active)
                    dead.narrow(problem, keep)
                    new = {name: value[keep] for name, value in new.items()}
                    checked = {name: value[keep] for name, value in checked.items()}
            params = new
            t += 1
    if retired_params:  # every problem's final iterate, in the order of `configs`
        params = {
            name: torch.stack([retired_params[i][name] if i in retired_params else value[active.index(i)] for i in range(B)])
            for name, value in params.items()
        }
    seconds = time.perf_counter() - started
    stacked = {name: np.stack(values, axis=-1) for name, values in records.items()}
    per_problem = {**dead.results(), "fixed_point_iteration": fixed_at.cpu().numpy()}
    return Trajectory(iterations=schedule, records=stacked, params=params, seconds=seconds, per_problem=per_problem, backend=backend)


def _unchanged(before: problems.Params, after: problems.Params) -> torch.Tensor:
    """Per problem: whether a step left every parameter bit for bit the same, shape (B,)."""
    return torch.stack([(a == b).flatten(1).all(dim=1) for a, b in zip(before.values(), after.values())]).all(dim=0)


def _raise_nonfinite(step, params, start: int, stop: int, name_problem, active: Sequence[int]) -> None:
    """Replay from the last finite iterate to name the first iteration with a non-finite value
    (positions j of the active batch are the problems `active[j]`)."""
    t = start
    while t < stop:
        params = step(params)
        t += 1
        bad = torch.nonzero(~_all_finite(params)).flatten().tolist()
        if bad:
            break
    raise trajectory.diverged(t, bad, name_problem, [active[j] for j in bad])


def from_public(params: dict[str, Any], *, dtype=torch.float64, device=None) -> problems.Params:
    """Inverse of `solver.to_public` for one problem or a batch (adds the batch dim when missing)."""
    out = {}
    for name, value in params.items():
        t = torch.as_tensor(np.asarray(value), dtype=dtype, device=device)
        expected = 1 if name == "b" else 2
        if t.ndim == expected:
            t = t[None]
        if trajectory.is_features(name):
            t = t.mT
        elif name == "b":
            t = t[..., None]
        out[name] = t.contiguous()
    return out


