"""The low-rank study against theory: its DNC values, the theory's optimum, the agreement reasons.

`ufm.lowrank` runs the study's gradient descent and stores what GD produced; this module joins the
closed forms on the theory side, so that the study's stage (hours of GD) does not depend on them:

* `dnc_value(config)`: the deep-neural-collapse value (MSE: the deep linear closed form; CE: the
  simplex-ETF candidate of the reduced problem; NaN for CE through a ReLU level);
* `with_theory(ds)`: the study with, per (case, ratio), "dnc_objective", "optimum" (the theory's
  minimum where there is one) and "optimum_structure", and per run "rel_to_dnc", "below_dnc" and
  "reason" (`agreement.reason`); attrs "below_rtol";
* `table(ds)`: one row per (L, K, activation, loss, λ/λ_th), what the page shows.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from . import agreement, deep_theory, lowrank_study, reduced, theory
from .config import Config

#: GD is "below DNC" when its objective is below the DNC value by more than this, relatively.
BELOW_RTOL = 1e-6
#: What `with_theory` adds (and what a study written before the split carried itself).
THEORY_VARIABLES = ("dnc_objective", "optimum", "optimum_structure", "rel_to_dnc", "below_dnc", "reason")


def dnc_value(config: Config) -> float:
    """The DNC value of `config` (`ufm.lowrank`'s docstring); NaN for CE through a ReLU level (a depth-1 model
    has none: it is the plain UFM, whose CE minimizer is the simplex ETF)."""
    depth, lam_H, lam_Ws, _ = theory.layers_of(config)
    if config.loss == "mse":
        return deep_theory.dnc_objective(config.K, config.n, lam_H, lam_Ws)
    if lowrank_study.has_relu(config):
        return float("nan")
    rho_L = deep_theory.rho(config.n, lam_H, lam_Ws)
    pattern = reduced.patterns(config.K)["simplex ETF"]
    return reduced._scale_minimum(pattern, rho_L, depth + 1, "ce")[1] if depth >= 1 else float("nan")


def with_theory(ds) -> Any:
    """`ds` (a study written by `lowrank.run`) with the variables of the module docstring; a study
    that has them already is returned as it is."""
    if all(name in ds for name in THEORY_VARIABLES):
        return ds
    study = lowrank_study.Study.from_mapping(ds.attrs["study"], source="stored study")
    C, R, S = ds.sizes["case"], ds.sizes["ratio"], ds.sizes["seed"]
    dnc = np.full((C, R), np.nan)
    optimum = np.full((C, R), np.nan)
    optimum_structure = np.empty((C, R), dtype=object)
    reasons = np.empty((C, R, S), dtype=object)
    objective, grad_norm = ds["objective"].values, ds["grad_norm"].values
    last_decrease, dead = ds["last_decrease"].values, ds["dead_samples"].values
    for c in range(C):
        size = lowrank_study.Size(int(ds["K"].values[c]), int(ds["n"].values[c]), int(ds["d"].values[c]))
        case = (int(ds["depth"].values[c]), size, str(ds["activation"].values[c]), str(ds["loss"].values[c]))
        for r in range(R):
            config = lowrank_study.config_of(study, *case, float(ds["lambda"].values[c, r]))
            info = theory.minimizer(config)
            dnc[c, r] = dnc_value(config)
            optimum[c, r] = info["objective"] if info["available"] else np.nan
            optimum_structure[c, r] = info.get("structure_name", "orthogonal frame (DNC)" if info["available"] and not info["zero"] else ("zero" if info["zero"] else ""))
            for s in range(S):
                reasons[c, r, s] = agreement.reason(
                    info, float(objective[c, r, s]), grad_norm=float(grad_norm[c, r, s]),
                    last_decrease=float(last_decrease[c, r, s]), dead=int(dead[c, r, s]),
                )[0]
    rel = (objective - dnc[:, :, None]) / dnc[:, :, None]
    dims3 = ("case", "ratio", "seed")
    out = ds.assign(
        dnc_objective=(("case", "ratio"), dnc),
        optimum=(("case", "ratio"), optimum),
        optimum_structure=(("case", "ratio"), optimum_structure.astype(str)),
        rel_to_dnc=(dims3, rel),
        below_dnc=(dims3, rel < -BELOW_RTOL),
        reason=(dims3, reasons.astype(str)),
    )
    out.attrs["below_rtol"] = BELOW_RTOL
    return out


def table(ds) -> "Any":
    """One row per (L, K, activation, loss, λ/λ_th): fraction of seeds below DNC, ranks, structures
    (of a study joined to its theory, `with_theory`; joined here when it is not).

    Columns: depth, K, activation, loss, ratio, lambda, dnc_objective, optimum, gd_best,
    best_rel_to_dnc, below_dnc (fraction of seeds), means_ranks and weight_ranks ("r1/r2/…" per level,
    most common over seeds), structures (distinct logits structures over seeds), reasons.
    """
    import pandas as pd

    ds = with_theory(ds)
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
