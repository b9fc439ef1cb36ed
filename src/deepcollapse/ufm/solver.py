"""Full-batch gradient descent on UFMs (docs/math.md#gd-protocol): what GD produces, and nothing else.

`solve(config)` runs one experiment; `ufm.batched.solve_sweep` runs many configs of equal shapes
as one batched computation.  Both go through `run`: plain GD with simultaneous updates,
θ_{t+1} = θ_t − lr ∇L(θ_t), from the §6 initialization, logging at the config's schedule the
objective, the gradient norm, parameter/feature norms and every NC metric at every feature level.
The result holds no closed-form value: `ufm.joined.with_theory` joins those on the theory side, so
that a fix to a closed form never reruns gradient descent.

Two loops compute it (`choose_backend`): the compiled CPU kernel measured in numpy (`kernel_loop`,
float64 on the CPU: every job of the pipeline, with no torch in the process) and torch
(`torch_loop`: a GPU, float32, re-drawn dead samples, or when asked).  They agree to rounding, not
bit for bit (tests/unit/ufm/test_kernel.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..constraints import DEVICE
from ..errors import InputError
from ..metrics import table as metrics_table
from ..provenance import collect
from . import kernel_loop, models
from .config import BATCHABLE, Config
from .trajectory import (  # noqa: F401  (the solver's public names, defined with the protocol they belong to)
    FINITE_CHECK_EVERY,
    FIXED_POINT_CHECK_EVERY,
    Backend,
    MetricsMode,
    NonFiniteError,
    SolverDiverged,
    Trajectory,
    every_iteration_from,
    init_scales,
    is_features,
    labels,
    log_iterations,
)

# lazy imports: the torch loop (`torch_loop`, and `devices` to resolve a device other than "cpu")
# loads only when a run needs it: a CPU job on the compiled kernel never imports torch (~2.5 CPU-s
# of every `deepcollapse ufm` job of the pipeline).


def run(
    configs: Sequence[Config],
    *,
    metrics: MetricsMode = "batched",
    on_nonfinite: Callable[[int], str] = lambda i: f"problem {i}",
    progress: Callable[[int], None] | None = None,
    backend: Backend = "auto",
) -> Trajectory:
    """Gradient descent on B = len(configs) problems that differ only in λ, lr, init scales and seed.

    `backend` picks the loop (`Backend`, `choose_backend`): both compute the same iterates up to
    rounding (the compiled kernel sums in another order than torch's BLAS; not bit for bit).
    `metrics` picks how the torch loop gathers the class statistics ("reference": `metrics.nc` per
    problem; "batched": one pass over the batch); the compiled loop always makes one numpy pass
    (`batched_metrics`): every path hands them to the same metric table.

    `on_nonfinite(i)` names problem i in the `SolverDiverged` error raised when GD produces NaN
    or inf (in a parameter, checked every FINITE_CHECK_EVERY iterations, or in the objective);
    `progress(t)`, if given, is told the iteration every `FINITE_CHECK_EVERY` iterations.

    A problem that reaches an exact fixed point (θ_{t+1} = θ_t bit for bit, checked every
    FIXED_POINT_CHECK_EVERY iterations) stops there: GD is deterministic and the problems of a
    batch do not interact, so its every later iterate and measurement is the one at t.
    """
    base = configs[0]
    fixed = {f.name for f in dataclasses.fields(Config)} - set(BATCHABLE)
    for config in configs[1:]:
        differ = sorted(name for name in fixed if getattr(config, name) != getattr(base, name))
        if differ:
            raise InputError(f"problems of one batch must agree on {', '.join(differ)}")
    chosen = choose_backend(base, backend)
    if chosen == "numba":
        return kernel_loop.run(configs, on_nonfinite=on_nonfinite, progress=progress)
    from . import torch_loop

    return torch_loop.run(configs, metrics=metrics, on_nonfinite=on_nonfinite, progress=progress, backend=chosen)


def _on_cpu(config: Config) -> bool:
    """Whether the config's device is the CPU; "cpu" itself is decided without torch."""
    if config.device == "cpu":
        return True
    if not DEVICE.accepts(config.device):
        raise InputError(DEVICE.refusal("device", config.device))
    from .. import devices

    return devices.resolve(config.device).type == "cpu"


def choose_backend(config: Config, backend: Backend = "auto") -> str:
    """"numba", or "torch" with the reason the kernel does not apply (recorded in provenance)."""
    if backend == "torch":
        return "torch (asked for)"
    why = None
    if not _on_cpu(config):
        why = "torch: the device is not the CPU (the kernel runs on the CPU)"
    elif config.dtype != "float64":
        why = "torch: float32 (the kernel is float64)"
    elif config.reinit_dead:
        why = "torch: reinit_dead (dead samples are re-drawn from torch's generator)"
    if why is None:
        return "numba"
    if backend == "numba":
        raise InputError(f"backend 'numba' does not apply here ({why.split(': ', 1)[1]})")
    return why




def to_public(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Internal column layout → the API's layout: H (N, d) sample-major, b (K,); leading dims kept.
    Numpy arrays or torch tensors (on any device) in; float64 numpy arrays out."""
    out = {}
    for name, value in params.items():
        if not isinstance(value, np.ndarray):  # a torch tensor
            value = value.detach().to("cpu").double().numpy()
        arr = value.astype(np.float64, copy=False)
        if is_features(name):
            arr = arr.mT
        elif name == "b":
            arr = arr[..., 0]
        out[name] = np.ascontiguousarray(arr)
    return out




def to_dataset(
    configs: Sequence[Config],
    trajectory: Trajectory,
    *,
    sweep_dims: Sequence[tuple[str, Sequence[Any]]] = (),
    attrs: dict[str, Any] | None = None,
):
    """The xarray Dataset of a run: dims (*sweep dims, "iteration") for logged values."""
    import xarray as xr

    base = configs[0]
    shape = tuple(len(values) for _, values in sweep_dims)
    dims = tuple(name for name, _ in sweep_dims)
    T = len(trajectory.iterations)
    model = models.of(base)
    data: dict[str, Any] = {}
    for name, values in trajectory.records.items():
        data[name] = (dims + ("iteration",), values.reshape(shape + (T,)))
    param_dims = model.param_dims(base)
    for name, value in to_public(trajectory.params).items():
        data[name] = (dims + param_dims[name], value.reshape(shape + value.shape[1:]))
    for name, value in trajectory.per_problem.items():
        data[name] = (dims, value.reshape(shape))
    coords: dict[str, Any] = {
        "iteration": trajectory.iterations,
        "label": ("sample", labels(base.K, base.n)),
    }
    for name, values in sweep_dims:
        coords[name] = np.asarray(values)
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(
        {
            "description": f"{base.label}: full-batch gradient descent (docs/math.md, GD protocol)",
            "config": base.resolved(),
            "levels": list(model.level_names(base)),
            "metric_keys": list(metrics_table.KEYS),
            "runtime_s": round(trajectory.seconds, 3),
            "solver_backend": trajectory.backend,
            **(attrs or {}),
        }
    )
    return ds


def solve(config: Config, *, metrics: MetricsMode = "reference", progress: Callable[[int], None] | None = None, backend: Backend = "auto"):
    """Run one UFM experiment; the xarray Dataset described in DESIGN.md.

    dims "iteration" (0, every log_every, the log-spaced points, the final iterate); variables
    "objective", "grad_norm", "norm_<param/level>",
    f"{key}_{level}" for every key of `metrics.KEYS` and level of the model ("H"; "H1", "Z",
    "H2"; "H1", "Z2", "H2", … "HL"), the final parameters ("W", "H", "b"; "W2", "W1", "H1";
    "WL", …, "W1", "H1"; H sample-major), and for every ReLU level
    "dead_samples_<level>" (samples whose pre-activations are all <= 0 at the final iterate) and
    "dead_first_iteration_<level>" (first checked iteration with one, -1: never; checked every
    FINITE_CHECK_EVERY iterations), and "fixed_point_iteration" (the first checked t with
    θ_{t+1} = θ_t bit for bit, -1: none; from there GD stops and the logs repeat the last state,
    exactly what the remaining iterations would have computed).  attrs: "config" (resolved),
    "provenance".  No closed-form value: `ufm.joined.with_theory(ds)` adds "theory_objective",
    "objective_gap" and the attribute "theory".
    """
    trajectory = run([config], metrics=metrics, on_nonfinite=lambda i: f"seed {config.seed}", progress=progress, backend=backend)
    return to_dataset(
        [config],
        trajectory,
        attrs={"provenance": collect(params=config.resolved(), seed=config.seed, device=config.device)},
    )
