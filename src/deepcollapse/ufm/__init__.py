"""Unconstrained features models solved by gradient descent and checked against their closed forms.

    from deepcollapse import ufm
    from deepcollapse.ufm import theory
    cfg = ufm.Config(model="plain", bias="none", K=4, n=50, d=20)
    ds = ufm.solve(cfg)                   # xarray.Dataset: objective and NC metrics per iteration
    theory.minimizer(cfg)["objective"]    # the closed form

The import graph runs one way, facts first:
`models` (the registry: one self-describing class per model — plain, extended, deep) ← `config`
(the validated parameters) ← `draws` (the §6 initial draw), `trajectory` (what every GD loop
shares), `batched_metrics` (NC metrics for a batch, numpy or torch) ← `kernel` and `kernel_loop`
(the compiled CPU loop, measured in numpy: no torch), `problems` (objectives and explicit gradients,
torch) and `torch_loop` (GD in torch: GPU, float32) ← `solver` (picks the loop; the result
dataset), `batched` (sweeps as one batch), `observables` (what a GD end point shows), `structures`
(named K × K structures) ←
`lowrank` (the low-rank study's gradient descent; its λ grid from `deep_theory`'s threshold); and
on the theory side `theory_hooks` (the interface), `deep_theory` and `reduced` (the deep and
reduced problems) ← `theory` (closed forms, bound to each model in `theory.THEORIES`) ← `joined`
(a GD store with its closed forms), `agreement` (GD against theory, the table rows) ←
`lowrank_theory` (the low-rank study against deep neural collapse); and beside them `candidates`
(every known structure as explicit parameters at its best scale) and `theorem1` (the reduced
problem's certified structure against Garrod & Keating's Theorem 1).

This package imports neither side by itself: `deepcollapse ufm` (hours of GD in the pipeline) never
depends on the closed forms (import `deepcollapse.ufm.theory`, `agreement`, `joined` or
`lowrank_theory` for those), and the theory side and the pages never load gradient descent (torch
and the compiled kernel, ~3 CPU-s a process; tests/unit/ufm/test_import_graph.py holds both, and
that a CPU job of `deepcollapse ufm` imports no torch).
"""

from __future__ import annotations

from . import models
from .config import Config

# lazy imports: `solve`, `solve_sweep`, `Sweep` and the solver's errors are gradient descent (numba,
# and torch where the torch loop runs); every importer of a theory module runs this file first, so they load on first use here
# (PEP 562) instead of in every page and `deepcollapse theory` job.


def __getattr__(name: str):
    if name in ("solve", "SolverDiverged", "NonFiniteError"):
        from . import solver

        return getattr(solver, name)
    if name in ("solve_sweep", "Sweep"):
        from . import batched

        return getattr(batched, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Config", "solve", "solve_sweep", "Sweep", "models", "SolverDiverged", "NonFiniteError"]
