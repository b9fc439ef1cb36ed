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

Per run it also records the numerical rank of every level's class means and of every weight,
the structure of the logits' class means W_L H̄_L (named by `reduced.classify`), the theory
value where there is one (closed form or certified reduced problem) and the agreement reason.

`run(study)` returns one xarray.Dataset; the command writes it.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from . import agreement, deep_theory, models, observables, reduced, theory
from .batched import Axis, Sweep, solve_sweep
from .config import Config

#: A singular value counts towards the numerical rank above this fraction of the largest (GD end
#: points carry residual directions that decay at rate lr·λ; 1e-3 separates them from structure).
RANK_RTOL = 1e-3
#: GD is "below DNC" when its objective is below the DNC value by more than this, relatively.
BELOW_RTOL = 1e-6


@dataclasses.dataclass(frozen=True)
class Size:
    K: int
    n: int
    d: int


@dataclasses.dataclass(frozen=True)
class Study:
    """The grid of the study (params.yaml `ufm.studies.lowrank`)."""

    depths: tuple[int, ...] = (1, 2, 3, 4, 5)
    sizes: tuple[Size, ...] = (Size(4, 10, 16), Size(10, 5, 20))
    lambda_ratios: tuple[float, ...] = (0.5, 0.8, 0.9, 1.0, 1.2)
    activations: tuple[str, ...] = ("linear", "relu")
    losses: tuple[str, ...] = ("mse", "ce")
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    init_scale: float = 0.3
    lr: float = 0.1
    iters: int = 150_000
    log_every: int = 50_000
    device: str = "cpu"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, source: str = "ufm.studies.lowrank") -> "Study":
        if not isinstance(mapping, Mapping):
            raise InputError(f"{source}: expected a mapping, got {type(mapping).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise InputError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values = dict(mapping)
        try:
            if "sizes" in values:
                values["sizes"] = tuple(Size(int(s["K"]), int(s["n"]), int(s["d"])) for s in values["sizes"])
            for name in ("depths", "seeds"):
                if name in values:
                    values[name] = tuple(int(v) for v in values[name])
            for name in ("lambda_ratios",):
                if name in values:
                    values[name] = tuple(float(v) for v in values[name])
            for name in ("activations", "losses"):
                if name in values:
                    values[name] = tuple(str(v) for v in values[name])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{source}: malformed value ({exc})") from None
        study = cls(**values)
        for a in study.activations:
            if a not in ("linear", "relu"):
                raise InputError(f"{source}.activations: {a!r} is not 'linear' or 'relu'")
        for loss in study.losses:
            if loss not in ("mse", "ce"):
                raise InputError(f"{source}.losses: {loss!r} is not 'mse' or 'ce'")
        if not study.depths or min(study.depths) < 1:
            raise InputError(f"{source}.depths: every depth must be >= 1, got {list(study.depths)}")
        if not study.seeds or min(study.seeds) < 0:
            raise InputError(f"{source}.seeds: seeds must be non-negative, got {list(study.seeds)}")
        if not all(r > 0 for r in study.lambda_ratios):
            raise InputError(f"{source}.lambda_ratios: every ratio must be > 0")
        return study

    def cases(self) -> list[tuple[int, Size, str, str]]:
        """(L, size, activation, loss) of every sweep. A ReLU case whose model has no ReLU level
        (depth 1: its logits are W1 H1, the plain UFM) would repeat the linear one: it runs once, as
        linear (kept under the name 'relu' only when the study has no linear activation)."""
        def repeats_linear(L: int, size: Size, activation: str, loss: str) -> bool:
            return activation == "relu" and "linear" in self.activations and not _has_relu(_config(self, L, size, activation, loss, 1.0))

        return [(L, s, a, loss) for L in self.depths for s in self.sizes for a in self.activations for loss in self.losses
                if not repeats_linear(L, s, a, loss)]  # fmt: skip


def lambdas_of(study: Study, depth: int, size: Size) -> list[float]:
    threshold = deep_theory.lambda_threshold(size.K, size.n, depth)
    return [r * threshold for r in study.lambda_ratios]


def _config(study: Study, depth: int, size: Size, activation: str, loss: str, lam: float) -> Config:
    return Config(
        model="deep", depth=depth, activation=activation, loss=loss, K=size.K, n=size.n, d=size.d,
        lambda_W=lam, lambda_H=lam, lr=study.lr, iters=study.iters, log_every=study.log_every,
        init_scale=study.init_scale, device=study.device,
    )


def _has_relu(config: Config) -> bool:
    return bool(models.of(config).relu_levels(config))


def dnc_value(config: Config) -> float:
    """The DNC value of `config` (module docstring); NaN for CE through a ReLU level (a depth-1 model
    has none: it is the plain UFM, whose CE minimizer is the simplex ETF)."""
    depth, lam_H, lam_Ws, _ = theory.layers_of(config)
    if config.loss == "mse":
        return deep_theory.dnc_objective(config.K, config.n, lam_H, lam_Ws)
    if _has_relu(config):
        return float("nan")
    rho_L = deep_theory.rho(config.n, lam_H, lam_Ws)
    pattern = reduced.patterns(config.K)["simplex ETF"]
    return reduced._scale_minimum(pattern, rho_L, depth + 1, "ce")[1] if depth >= 1 else float("nan")


def _ranks(matrices: Sequence[np.ndarray], width: int) -> np.ndarray:
    out = np.full(width, -1, dtype=np.int64)  # -1: no such level at this depth
    for i, A in enumerate(matrices):
        out[i] = reduced.numerical_rank(np.linalg.svd(A, compute_uv=False), RANK_RTOL)
    return out


def _per_run(config: Config, point, width: int) -> dict[str, Any]:
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
        "dead": agreement._dead_at_end(point),
        "means_rank": _ranks(means, width),
        "weight_rank": _ranks([params[n] for n in names], width),
        "of_distance": np.array(
            [float(final[f"NC2_OF_H{l}"]) if f"NC2_OF_H{l}" in final else np.nan for l in range(1, width + 1)]
        ),
        "structure": reduced.classify(logits, config.K) if np.linalg.norm(logits) > 1e-8 else "zero",
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
    reasons = np.empty(shape, dtype=object)
    lam = np.full((C, R), np.nan)
    dnc = np.full((C, R), np.nan)
    optimum = np.full((C, R), np.nan)
    optimum_structure = np.empty((C, R), dtype=object)
    for c, (depth, size, activation, loss) in enumerate(cases):
        lambdas = lambdas_of(study, depth, size)
        base = _config(study, depth, size, activation, loss, lambdas[0])
        sweep = Sweep(axes=(Axis("ratio", ("lambda_W", "lambda_H"), tuple(lambdas)), Axis("seed", ("seed",), tuple(study.seeds))))
        if progress:
            progress(f"L={depth} K={size.K} {activation} {loss}: {R * S} problems x {study.iters} iterations")
        ds = solve_sweep(base, sweep)
        for r, value in enumerate(lambdas):
            config = _config(study, depth, size, activation, loss, value)
            info = theory.minimizer(config)
            lam[c, r], dnc[c, r] = value, dnc_value(config)
            optimum[c, r] = info["objective"] if info["available"] else np.nan
            optimum_structure[c, r] = info.get("structure_name", "orthogonal frame (DNC)" if info["available"] and not info["zero"] else ("zero" if info["zero"] else ""))
            for s in range(S):
                seen = _per_run(config, ds.isel(ratio=r, seed=s), width)
                for key in ("objective", "grad_norm", "last_decrease"):
                    out[key][c, r, s] = seen[key]
                out["dead_samples"][c, r, s] = seen["dead"]
                for key in ("means_rank", "weight_rank", "of_distance"):
                    out[key][c, r, s] = seen[key]
                structure[c, r, s] = seen["structure"]
                reasons[c, r, s] = agreement.reason(
                    info, seen["objective"], grad_norm=seen["grad_norm"], last_decrease=seen["last_decrease"], dead=seen["dead"]
                )[0]
    rel = (out["objective"] - dnc[:, :, None]) / dnc[:, :, None]
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
        "dnc_objective": (("case", "ratio"), dnc),
        "optimum": (("case", "ratio"), optimum),
        "optimum_structure": (("case", "ratio"), optimum_structure.astype(str)),
        "objective": (dims3, out["objective"]),
        "rel_to_dnc": (dims3, rel),
        "below_dnc": (dims3, rel < -BELOW_RTOL),
        "grad_norm": (dims3, out["grad_norm"]),
        "last_decrease": (dims3, out["last_decrease"]),
        "dead_samples": (dims3, out["dead_samples"]),
        "structure": (dims3, structure.astype(str)),
        "reason": (dims3, reasons.astype(str)),
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
    ds.attrs["below_rtol"] = BELOW_RTOL
    return ds


def table(ds) -> "Any":
    """One row per (L, K, activation, loss, λ/λ_th): fraction of seeds below DNC, ranks, structures.

    Columns: depth, K, activation, loss, ratio, lambda, dnc_objective, optimum, gd_best,
    best_rel_to_dnc, below_dnc (fraction of seeds), means_ranks and weight_ranks ("r1/r2/…" per level,
    most common over seeds), structures (distinct logits structures over seeds), reasons.
    """
    import pandas as pd

    rows = []
    for c in ds["case"].values:
        case = ds.sel(case=c)
        depth = int(case["depth"])
        for ratio in ds["ratio"].values:
            point = case.sel(ratio=ratio)

            def common(var: str) -> str:
                per_seed = ["/".join(str(int(v)) for v in point[var].sel(seed=s).values[:depth]) for s in point["seed"].values]
                return collections.Counter(per_seed).most_common(1)[0][0]

            objective = point["objective"].values
            rows.append(
                {
                    "depth": depth,
                    "K": int(case["K"]),
                    "activation": str(case["activation"].values),
                    "loss": str(case["loss"].values),
                    "ratio": float(ratio),
                    "lambda": float(point["lambda"]),
                    "dnc_objective": float(point["dnc_objective"]),
                    "optimum": float(point["optimum"]),
                    "optimum_structure": str(point["optimum_structure"].values),
                    "gd_best": float(np.nanmin(objective)),
                    "best_rel_to_dnc": float(np.min(point["rel_to_dnc"].values)),  # NaN without a DNC value
                    "below_dnc": float(np.mean(point["below_dnc"].values)),
                    "means_ranks": common("means_rank"),
                    "weight_ranks": common("weight_rank"),
                    "structures": ", ".join(sorted(set(map(str, point["structure"].values)))),
                    "reasons": ", ".join(f"{k} ×{v}" for k, v in collections.Counter(map(str, point["reason"].values)).most_common()),
                }
            )
    return pd.DataFrame(rows)
