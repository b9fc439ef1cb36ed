"""Unconstrained features models solved by gradient descent and checked against their closed forms.

    from deepcollapse import ufm
    from deepcollapse.ufm import theory
    cfg = ufm.Config(model="plain", bias="none", K=4, n=50, d=20)
    ds = ufm.solve(cfg)                   # xarray.Dataset: objective and NC metrics per iteration
    theory.minimizer(cfg)["objective"]    # the closed form

The import graph runs one way, facts first:
`models` (the registry: one self-describing class per model — plain, extended, deep) ← `config`
(the validated parameters) ← `problems` (objectives and explicit gradients) ← `solver` (gradient
descent, the result dataset), `batched` (sweeps as one batch), `batched_metrics` (NC metrics for
a batch), `observables` (what a GD end point shows), `structures` (named K × K structures) ←
`lowrank` (the low-rank study's gradient descent; its λ grid from `deep_theory`'s threshold); and
on the theory side `theory_hooks` (the interface), `deep_theory` and `reduced` (the deep and
reduced problems) ← `theory` (closed forms, bound to each model in `theory.THEORIES`) ← `joined`
(a GD store with its closed forms), `agreement` (GD against theory, the table rows) ←
`lowrank_theory` (the low-rank study against deep neural collapse); and beside them `candidates`
(every known structure as explicit parameters at its best scale) and `theorem1` (the reduced
problem's certified structure against Garrod & Keating's Theorem 1).

This package imports the gradient-descent side only, so that `deepcollapse ufm` (hours of GD in
the pipeline) never depends on the closed forms; import `deepcollapse.ufm.theory` (or
`agreement`, `joined`, `lowrank_theory`) for those.
"""

from __future__ import annotations

from . import models
from .batched import Sweep, solve_sweep
from .config import Config
from .solver import NonFiniteError, SolverDiverged, solve

__all__ = ["Config", "solve", "solve_sweep", "Sweep", "models", "SolverDiverged", "NonFiniteError"]
