"""The papers' settings against theory: DNC's and SRG's values beside every GD run (docs/math.md#papers).

`ufm.papers` stores what gradient descent produced; this module joins, per run, the values of the
known structures at the run's setting from their explicit parameters (`ufm.candidates`), so that a
fix to a closed form reruns the page, not the study:

* "dnc_objective": deep neural collapse at its best scale (NaN when a width is below K);
* "srg_objective": Súkeník, Lampert & Mondelli's SRG structure (ReLU, MSE, K = C(r, 2), L ≥ 2; else NaN);
* "rel_to_dnc" = (objective − DNC)/DNC and "below_dnc" (below by more than `lowrank_theory.BELOW_RTOL`);
* "reached_dnc": the logits have DNC's structure (GD side: "dnc_structure") *and* the objective is
  DNC's value within `DNC_RTOL` (relative) — a frame of the right shape at the wrong scale, or with
  features not collapsed, is not DNC;
* "converged": the last logged relative decrease of the objective is below `CONVERGED_RTOL`.

`summary(ds, by)` groups the runs (by setting and width, or λ, or K and depth): runs, how many
reached DNC, ended below DNC, converged, and the logits' rank histogram.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
import pandas as pd

from .candidates import candidates
from .config import Config
from .lowrank_theory import BELOW_RTOL

#: A run "converged" when its objective fell by less than this (relative) over its last logged
#: interval (`log_every` iterations); a run that had not is reported, never counted as settled.
CONVERGED_RTOL = 1e-6
#: A run with DNC's logits structure "reached DNC" when its objective is DNC's within this (relative).
DNC_RTOL = 1e-4
JOINED = ("dnc_objective", "srg_objective", "rel_to_dnc", "below_dnc", "reached_dnc", "converged")


def values(depth: int, K: int, n: int, width: int, lam: float, activation: str, loss: str) -> tuple[float, float]:
    """(DNC, SRG) objectives of `ufm.candidates` at one setting (NaN where the structure does not exist)."""
    cfg = Config(model="deep", depth=depth, activation=activation, loss=loss, K=K, n=n, d=width, lambda_W=lam, lambda_H=lam)
    out = candidates(cfg)
    return (out["dnc"]["objective"] if "dnc" in out else np.nan), (out["srg"]["objective"] if "srg" in out else np.nan)


def with_theory(ds) -> Any:
    """`ds` (a store of `papers.run`) with the variables of the module docstring (kept if present)."""
    if all(name in ds for name in JOINED):
        return ds
    keys = ("depth", "K", "n", "width", "lam", "activation", "loss")
    labels = [tuple(ds[k].values[i].item() if hasattr(ds[k].values[i], "item") else ds[k].values[i] for k in keys)
              for i in range(ds.sizes["run"])]  # fmt: skip
    cache = {key: values(*key) for key in dict.fromkeys(labels)}
    dnc = np.array([cache[key][0] for key in labels])
    srg = np.array([cache[key][1] for key in labels])
    objective = ds["objective"].values
    rel = (objective - dnc) / dnc
    out = ds.assign(dnc_objective=("run", dnc), srg_objective=("run", srg), rel_to_dnc=("run", rel),
                    below_dnc=("run", rel < -BELOW_RTOL),
                    reached_dnc=("run", ds["dnc_structure"].values & (np.abs(rel) <= DNC_RTOL)),
                    converged=("run", np.abs(ds["last_decrease"].values) < CONVERGED_RTOL))  # fmt: skip
    out.attrs["below_rtol"] = BELOW_RTOL
    out.attrs["converged_rtol"] = CONVERGED_RTOL
    out.attrs["dnc_rtol"] = DNC_RTOL
    return out


def summary(ds, by: tuple[str, ...] = ("setting", "width")) -> pd.DataFrame:
    """One row per group of runs: runs, reached DNC (count and fraction), below DNC, converged, the
    logits' rank histogram ("rank: count, …"), the best objective against DNC and SRG."""
    ds = with_theory(ds)
    frame = pd.DataFrame({key: ds[key].values for key in (*by, "reached_dnc", "below_dnc", "converged", "logits_rank",
                                                          "objective", "dnc_objective", "srg_objective", "K", "loss")})  # fmt: skip
    rows = []
    for key, group in frame.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        ranks = collections.Counter(int(r) for r in group["logits_rank"])
        rows.append({**dict(zip(by, key)), "runs": len(group), "reached_dnc": int(group["reached_dnc"].sum()),
                     "p_dnc": float(group["reached_dnc"].mean()), "below_dnc": int(group["below_dnc"].sum()),
                     "converged": int(group["converged"].sum()),
                     "ranks": ", ".join(f"{r}: {c}" for r, c in sorted(ranks.items())),
                     "best": float(group["objective"].min()), "dnc": float(group["dnc_objective"].iloc[0]),
                     "srg": float(group["srg_objective"].iloc[0])})  # fmt: skip
    return pd.DataFrame(rows)
