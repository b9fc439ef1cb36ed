"""The low-rank-bias study: does gradient descent on the deep UFM end below deep neural collapse?

For every depth L, class count K, activation (linear, ReLU), loss (MSE, CE), λ (multiples of the
deep linear MSE collapse threshold λ_th = τ_L/(K n^{1/(L+1)}), with λ_H = every λ_Wl = λ) and
seed, plain GD runs from init 0.3 (one batched sweep per (L, K, activation, loss)); the final
objective is compared with the deep-neural-collapse (DNC) value:

* MSE: the deep linear closed form (every level an orthogonal frame), which ReLU attains too with
  nonnegative frames — GD below it shows DNC is not optimal (Súkeník, Lampert & Mondelli 2024);
* CE: the simplex-ETF candidate of the reduced K × K problem (every level a simplex ETF), for
  the linear model only (an ETF has negative entries, which a ReLU level cannot carry).

A case whose model has no ReLU level (depth 1: logits W1 H1) is the linear one and runs once (`Study.cases`).

Per run it also records the numerical rank of every level's class means and of every weight and
the structure of the logits' class means W_L H̄_L (named by `structures.classify`).

The grid and each point's config are declared in `ufm.lowrank_study` (read by the theory side too).
`run(study)` returns one xarray.Dataset of what gradient descent produced, which the command
writes; the λ grid is the theory's (λ_th, `deep_theory.lambda_threshold`), but no closed-form value
is stored.  `ufm.lowrank_theory` joins the DNC value, the theory's optimum and the agreement reason
of every run (`with_theory`) and tabulates them (`table`): a fix to a closed form reruns the page,
not the study's hours of gradient descent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..cost import Estimate
from . import budget, observables, structures
from .batched import Axis, Sweep, solve_sweep
from .config import Config
from .lowrank_study import RANK_RTOL, Size, Study, config_of, has_relu, lambdas_of

__all__ = ["RANK_RTOL", "Size", "Study", "config_of", "has_relu", "lambdas_of", "per_run", "run", "estimate"]


def _ranks(matrices: Sequence[np.ndarray], width: int) -> np.ndarray:
    out = np.full(width, -1, dtype=np.int64)  # -1: no such level at this depth
    for i, A in enumerate(matrices):
        out[i] = structures.numerical_rank(np.linalg.svd(A, compute_uv=False), RANK_RTOL)
    return out


def per_run(config: Config, point, width: int) -> dict[str, Any]:
    """Observables of one GD end point (one problem of a sweep dataset)."""
    names = observables.weight_names(config)
    params = {name: np.asarray(point[name].values, dtype=np.float64) for name in [*names, "H1"]}
    means = observables.level_means(config, params)
    logits = params[names[-1]] @ means[-1]
    final = point.isel(iteration=-1)
    history = np.asarray(point["objective"].values, dtype=np.float64)
    return {
        "objective": float(final["objective"]),
        "last_decrease": float((history[-2] - history[-1]) / abs(history[-1])) if history.size > 1 else np.inf,
        "grad_norm": float(final["grad_norm"]),
        "dead": observables.dead_at_end(point),
        "means_rank": _ranks(means, width),
        "weight_rank": _ranks([params[n] for n in names], width),
        "of_distance": np.array(
            [float(final[f"NC2_OF_H{l}"]) if f"NC2_OF_H{l}" in final else np.nan for l in range(1, width + 1)]
        ),
        "structure": structures.classify(logits, config.K) if np.linalg.norm(logits) > 1e-8 else "zero",
    }


def run(study: Study, *, progress=None) -> "Any":
    """Solve the whole grid; one dataset with dims (case, ratio, seed[, level])."""
    import xarray as xr

    cases = study.cases()
    width = max(study.depths)
    R, S, C = len(study.lambda_ratios), len(study.seeds), len(cases)
    shape = (C, R, S)
    out = {
        "objective": np.full(shape, np.nan),
        "grad_norm": np.full(shape, np.nan),
        "last_decrease": np.full(shape, np.nan),
        "dead_samples": np.zeros(shape, dtype=np.int64),
        "means_rank": np.full(shape + (width,), -1, dtype=np.int64),
        "weight_rank": np.full(shape + (width,), -1, dtype=np.int64),
        "of_distance": np.full(shape + (width,), np.nan),
    }
    structure = np.empty(shape, dtype=object)
    lam = np.full((C, R), np.nan)
    for c, (depth, size, activation, loss) in enumerate(cases):
        lambdas = lambdas_of(study, depth, size)
        base = config_of(study, depth, size, activation, loss, lambdas[0])
        sweep = Sweep(axes=(Axis("ratio", ("lambda_W", "lambda_H"), tuple(lambdas)), Axis("seed", ("seed",), tuple(study.seeds))))
        if progress:
            progress(f"L={depth} K={size.K} {activation} {loss}: {R * S} problems x {study.iters} iterations")
        ds = solve_sweep(base, sweep)
        for r, value in enumerate(lambdas):
            config = config_of(study, depth, size, activation, loss, value)
            lam[c, r] = value
            for s in range(S):
                seen = per_run(config, ds.isel(ratio=r, seed=s), width)
                for key in ("objective", "grad_norm", "last_decrease"):
                    out[key][c, r, s] = seen[key]
                out["dead_samples"][c, r, s] = seen["dead"]
                for key in ("means_rank", "weight_rank", "of_distance"):
                    out[key][c, r, s] = seen[key]
                structure[c, r, s] = seen["structure"]
    coords = {
        "case": np.arange(C),
        "depth": ("case", np.array([c[0] for c in cases])),
        "K": ("case", np.array([c[1].K for c in cases])),
        "n": ("case", np.array([c[1].n for c in cases])),
        "d": ("case", np.array([c[1].d for c in cases])),
        "activation": ("case", np.array([c[2] for c in cases], dtype=object)),
        "loss": ("case", np.array([c[3] for c in cases], dtype=object)),
        "ratio": np.array(study.lambda_ratios),
        "seed": np.array(study.seeds),
        "level": np.arange(1, width + 1),
    }
    dims3, dims4 = ("case", "ratio", "seed"), ("case", "ratio", "seed", "level")
    data = {
        "lambda": (("case", "ratio"), lam),
        "objective": (dims3, out["objective"]),
        "grad_norm": (dims3, out["grad_norm"]),
        "last_decrease": (dims3, out["last_decrease"]),
        "dead_samples": (dims3, out["dead_samples"]),
        "structure": (dims3, structure.astype(str)),
        "means_rank": (dims4, out["means_rank"]),
        "weight_rank": (dims4, out["weight_rank"]),
        "of_distance": (dims4, out["of_distance"]),
    }
    ds = xr.Dataset(data, coords=coords)
    ds.attrs["study"] = {
        **{k: v for k, v in dataclasses.asdict(study).items() if k != "sizes"},
        "sizes": [dataclasses.asdict(s) for s in study.sizes],
    }
    ds.attrs["rank_rtol"] = RANK_RTOL
    return ds


def estimate(study: Study) -> Estimate:
    """The low-rank study: one batched sweep of (λ ratio × seed) problems per case, one after another
    (memory: the largest sweep; work: their sum), each refusal named by the study's own keys."""
    problems = len(study.lambda_ratios) * len(study.seeds)
    memory, work = 0.0, 0.0
    for depth, size, activation, loss in study.cases():
        config = config_of(study, depth, size, activation, loss, lambdas_of(study, depth, size)[0])
        one = budget.estimate(config, problems)
        memory, work = max(memory, one.memory), work + one.work
    keys = {"iters": (study.iters, 150_000), "seeds": (len(study.seeds), 4), "lambda_ratios": (len(study.lambda_ratios), 5)}
    for name in ("K", "n", "d"):
        j = max(range(len(study.sizes)), key=lambda i: getattr(study.sizes[i], name))
        keys[f"sizes[{j}].{name}"] = (getattr(study.sizes[j], name), {"K": 10, "n": 10, "d": 20}[name])
    device = "cuda" if study.device.startswith("cuda") else "cpu"
    return Estimate(memory=memory, work=work, what="the low-rank study's gradient descent", keys=keys, device=device)
