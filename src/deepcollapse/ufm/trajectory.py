"""What every gradient-descent loop of the package shares (docs/math.md#gd-protocol): the log
schedule, how often the checks run, the initial scales, the `Trajectory` a loop returns and the
error of a run that diverged.  No array library: the compiled CPU loop (`kernel_loop`, numpy) and
the torch loop (`torch_loop`, any device) both read it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..errors import InputError
from . import models
from .config import Config

#: How often (in iterations) GD checks that every parameter is finite.
FINITE_CHECK_EVERY = 100
#: How often GD checks for an exact fixed point (θ_{t+1} = θ_t bit for bit; plain and linear UFMs
#: reach one after ~7e4 of the paper's 1e5 iterations), after which the run stops: every later
#: iterate and measurement would repeat it.
FIXED_POINT_CHECK_EVERY = 100

MetricsMode = Literal["reference", "batched"]
#: "auto": the compiled kernel (`ufm.kernel`) where it applies (CPU, float64, no re-drawn dead
#: samples), else torch; "torch" or "numba" to ask for one (numba where it does not apply is refused).
Backend = Literal["auto", "torch", "numba"]


class SolverDiverged(InputError):
    """GD produced NaN or inf (parameters or objective): the step size or the init scale is too large.

    An InputError, so the command line prints its one sentence and exits with status 2.
    """

    def __init__(self, message: str, *, iteration: int, problems: list[int]):
        super().__init__(message)
        self.iteration, self.problems = iteration, problems


#: The former name of `SolverDiverged` (kept for callers of the 0.x API).
NonFiniteError = SolverDiverged


def log_iterations(*, iters: int, log_every: int, log_spaced: int = 0) -> np.ndarray:
    """Iterations at which to log: 0, every `log_every`, `log_spaced` log-spaced ones, and `iters`."""
    # arrays the size of the log points, never a Python set of them (10⁸ ints of a set are ~10 GB;
    # `ufm.budget` refuses a schedule too long to hold before this runs)
    points = [np.arange(0, iters + 1, log_every, dtype=np.int64), np.array([iters], dtype=np.int64)]
    if log_spaced and iters > 0:
        if log_spaced >= every_iteration_from(iters):  # the points would round to every iteration: not drawn
            points.append(np.arange(1, iters + 1, dtype=np.int64))
        else:
            points.append(np.rint(np.geomspace(1, iters, log_spaced)).astype(np.int64))
    return np.unique(np.concatenate(points))


def every_iteration_from(iters: int) -> float:
    """The number of log-spaced points from which they round to every iteration 1..iters.

    Consecutive points of geomspace(1, iters, m) are at most iters·(r − 1) apart, r = iters^(1/(m−1));
    at most 1/2 apart, every integer has a point strictly within 1/2 of it, so rounding hits it.
    """
    return 1 + math.log(iters) / math.log1p(0.5 / iters) if iters > 1 else 1


def init_scales(configs: Sequence[Config]) -> dict[str, list[float]]:
    """Per-parameter init scale of each problem (docs/math.md#gd-protocol: weights and b by init_scale, features by init_scale_features)."""
    return models.of(configs[0]).init_scales(configs)


@dataclasses.dataclass
class Trajectory:
    """What a loop returns: logged values (B, T) at `iterations` (T,), per-problem values (B,), final
    parameters (B, …) in the math's column layout (numpy arrays from the compiled loop, torch tensors
    from the torch loop: `solver.to_public` takes either)."""

    iterations: np.ndarray
    records: dict[str, np.ndarray]
    params: dict[str, Any]
    seconds: float
    per_problem: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    backend: str = "torch"  # which loop ran, and why (recorded in the dataset's provenance)


def labels(K: int, n: int) -> np.ndarray:
    """Class-major labels 0..K-1, each repeated n times (column (k-1)n+i is class k), int64."""
    return np.repeat(np.arange(K, dtype=np.int64), n)


def is_features(name: str) -> bool:
    """Free features (H, H1) are stored sample-major in the public layout (every model names them so)."""
    return name == "H" or name == "H1"


def check_objective(objective: np.ndarray, t: int, name_problem, active: Sequence[int]) -> None:
    """Finite parameters can still give a non-finite objective (overflow): stop there too.

    `objective` is that of the batch's active problems; `active[j]` is the index of position j.
    """
    bad = np.flatnonzero(~np.isfinite(objective)).tolist()
    if bad:
        raise SolverDiverged(
            f"gradient descent diverged: non-finite objective at iteration {t} ({named(bad, name_problem)}); lower lr or init_scale",
            iteration=t,
            problems=[active[j] for j in bad],
        )


def named(positions: Sequence[int], name_problem) -> str:
    """The first three problems by name, 'and others' after them."""
    return ", ".join(name_problem(i) for i in positions[:3]) + (" and others" if len(positions) > 3 else "")


def diverged(t: int, positions: Sequence[int], name_problem, problems: Sequence[int]) -> SolverDiverged:
    """The error of non-finite parameters first seen at iteration t in the problems at `positions`."""
    return SolverDiverged(
        f"gradient descent diverged: non-finite parameters at iteration {t} ({named(positions, name_problem)}); lower lr or init_scale",
        iteration=t,
        problems=list(problems),
    )
