"""What a UFM run or sweep will cost, from its configuration alone (`deepcollapse.cost`).

Nothing is allocated: the sizes come from the model's declared parameter shapes
(`Model.param_shapes`) and its work per GD iteration (`Model.work`, the number the solver also
uses to pick its thread count), the log schedule's length from arithmetic.
"""

from __future__ import annotations

import math

from ..cost import Estimate
from ..metrics import KEYS
from . import models, trajectory
from .batched import from_mapping
from .config import Config

#: A GD step's fixed cost (dispatching a few dozen tensor operations, ~50 µs on a CPU), counted as
#: multiply-adds at the nominal rate so that 10¹² iterations of a tiny problem are not free.
STEP_OVERHEAD = 5e5
#: A measurement's fixed cost (NC metrics at every level: SVDs, pseudo-inverses; ~2 ms on a CPU).
MEASURE_OVERHEAD = 2e7
#: Bytes of Python objects per problem of a sweep (its Config, point and bookkeeping).
PER_PROBLEM_BYTES = 20_000

_DEFAULTS = {f: getattr(Config, f) for f in ("K", "n", "iters", "d1", "d2")}


def log_points(*, iters: int, log_every: int, log_spaced: int = 0) -> int:
    """An upper bound on the length of `trajectory.log_iterations(...)`, without building it."""
    return iters // log_every + 2 + (min(log_spaced, iters) if log_spaced else 0)


def estimate(config: Config, problems: int = 1, *, sweep_key: str = "sweep points") -> Estimate:
    """Memory and work of `problems` problems of `config` solved as one batch by `solver.run`."""
    model = models.of(config)
    shapes = model.param_shapes(config)
    P = sum(math.prod(shape) for shape in shapes.values())
    # activations and their gradients: one row block of N columns per parameter's rows
    A = sum(shape[0] for shape in shapes.values()) * config.N
    item = 8 if config.dtype == "float64" else 4
    T = log_points(iters=config.iters, log_every=config.log_every, log_spaced=config.log_spaced)
    records = 2 + len(shapes) + len(model.levels(config)) * (len(KEYS) + 1)
    memory = (
        problems * ((4 * P + 3 * A) * item + (P + A) * 8 + PER_PROBLEM_BYTES)  # GD buffers, a float64 probe
        + problems * T * records * 8 * 3  # the logs: per-iteration arrays, stacked, then the dataset
        + T * 8 * 2  # the schedule itself
        + min(config.log_spaced, trajectory.every_iteration_from(config.iters)) * 8 * 3  # drawing its log-spaced points
    )
    per_iteration = problems * model.work(config) + STEP_OVERHEAD
    work = config.iters * per_iteration + T * (10 * per_iteration + MEASURE_OVERHEAD)  # GD, the measurements at the log points
    d = config.d if isinstance(config.d, tuple) else (config.d,)
    widest = max(range(len(d)), key=d.__getitem__)
    keys = {
        "K": (config.K, _DEFAULTS["K"]),
        "n": (config.n, _DEFAULTS["n"]),
        ("d" if len(d) == 1 else f"d[{widest}]"): (d[widest], 20),
        "iters": (config.iters, _DEFAULTS["iters"]),
        "log_spaced": (config.log_spaced, 1000),
        sweep_key: (problems, 100),
    }
    if "d1" in model.fields:
        keys.update({"d1": (config.d1, 20), "d2": (config.d2, 20)})
    device = "cuda" if config.device.startswith("cuda") else "cpu"
    return Estimate(memory=memory, work=work, what="gradient descent", keys=keys, device=device)



def priority(mapping: dict) -> float:
    """The scheduling priority of the `ufm` job of this config mapping (a `sweep:` entry included): its
    estimated work, so that a scheduler starts the longest jobs first (on two cores the last job to start
    is then a short one: the demo's UFM stage once ended with 16 s of one core idle)."""
    config, sweep = from_mapping(mapping, source="priority")
    return float(estimate(config, sweep.size if sweep else 1).work)
