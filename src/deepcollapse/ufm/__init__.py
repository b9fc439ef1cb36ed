"""Unconstrained features models solved by gradient descent and checked against their closed forms.

    from deepcollapse import ufm
    cfg = ufm.Config(model="plain", bias="none", K=4, n=50, d=20)
    ds = ufm.solve(cfg)                   # xarray.Dataset: objective and NC metrics per iteration
    ufm.theory.minimizer(cfg)["objective"]

Modules: `models` (the registry: one self-describing class per model — plain, extended, deep),
`config` (the validated parameters), `problems` (objectives and explicit gradients),
`solver` (gradient descent, the result dataset), `batched` (sweeps as one batch),
`batched_metrics` (NC metrics for a batch), `theory` (closed forms), `agreement` (GD vs theory).
"""

from __future__ import annotations

from . import models, theory
from .batched import Sweep, solve_sweep
from .config import Config
from .solver import NonFiniteError, SolverDiverged, solve

__all__ = ["Config", "solve", "solve_sweep", "Sweep", "theory", "models", "SolverDiverged", "NonFiniteError"]
