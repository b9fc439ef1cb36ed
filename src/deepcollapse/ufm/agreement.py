"""Gradient descent against the closed form: structure errors, §3 identities, a table row per run.

`structure_errors(config, params)` compares the gauge-invariant quantities of a GD endpoint with
`theory.structure(config)`; `identity_residuals(config, params)` evaluates the identities that
hold at every critical point (docs/math.md#critical-point-identities); `rows(dataset)` turns a result of `ufm.solve` or
`ufm.solve_sweep` into one table row per problem, which `deepcollapse theory` writes out.
Parameters are in the public layout of `ufm.solve` (H sample-major), as numpy float64.
`observed` and `identity_residuals` ask the model's theory hooks (`ufm.theory.hooks`), which bind
the functions per model of `ufm.observables`.  The closed form of every point of a store comes
from its stored config (`ufm.joined.point_configs`): a GD store holds no closed-form value.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from ..errors import InputError
from . import joined, models, observables, theory
from .config import Config

#: Relative objective gap within which GD is taken to have reached the closed-form minimum.
OBJECTIVE_RTOL = 1e-6


def _rel(actual: np.ndarray, predicted: np.ndarray) -> float:
    """‖A − P‖/‖P‖, or ‖A‖ when P = 0 (the zero solution has no scale to be relative to)."""
    scale = float(np.linalg.norm(predicted))
    err = float(np.linalg.norm(np.asarray(actual) - np.asarray(predicted)))
    return err / scale if scale > 0 else err


def observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """The quantities `theory.structure` predicts, computed from one GD endpoint (the model's theory hooks)."""
    return theory.hooks(config).observed(config, params)


def structure_errors(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """Relative error of each predicted quantity (`_rel`); "kappa"/"kappa2" test W = κ H̄ᵀ."""
    predicted = theory.structure(config)
    seen = observed(config, params)
    out = {}
    for key, value in predicted.items():
        # W = κ H̄ᵀ: relative to ‖W‖ (κ H̄ᵀ of a GD endpoint far from the minimizer may be ~0)
        if key == "kappa":
            out["W_vs_kappa_Hbar"] = _rel(value * seen["means"].T, params["W"])
        elif key == "kappa2":
            out["W2_vs_kappa2_H2bar"] = _rel(value * seen["means2"].T, params["W2"])
        else:
            out[key] = _rel(seen[key], value)
    return out


def identity_residuals(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """Relative residuals of the docs/math.md#critical-point-identities identities (0 at every critical point)."""
    return theory.hooks(config).identities(config, params)


# ----------------------------------------------------------------------------------- table rows
def _status(info: dict[str, Any], gap: float) -> str:
    if not info["available"]:
        return "no closed form"
    if not math.isfinite(gap):
        return "undefined"
    if abs(gap) <= OBJECTIVE_RTOL:
        return "agrees"
    # above: GD stopped at a local minimum / saddle or has not converged; below would refute the theory
    return "GD above closed form" if gap > 0 else "GD BELOW closed form"


#: The reasons of the agreement table, in the order they are tested (`reason`).
REASONS = (
    "agrees",
    "closed form refuted",
    "ReLU dead sample",
    "rank-r stationary point",
    "local minimum",
    "not converged in the iterations given",
    "unexplained",
    "no closed form",
)
#: A GD end point whose gradient norm exceeds this has not reached a stationary point.
GRAD_TOL = 1e-7


def _matches(value: float, reference: float) -> bool:
    return abs(value - reference) <= OBJECTIVE_RTOL * max(abs(reference), 1e-300)


def reason(info: dict[str, Any], objective: float, *, grad_norm: float, last_decrease: float, dead: int) -> tuple[str, str]:
    """Why GD's final objective is where it is relative to the theory: (reason, detail).

    In order: no theory → "no closed form"; within OBJECTIVE_RTOL → "agrees"; below beyond it →
    "closed form refuted"; a sample whose pre-activations are all <= 0 at the end (`dead` > 0) →
    "ReLU dead sample"; the value of a rank-r stationary point of the deep linear MSE problem
    (`rank_levels`, r < K) → "rank-r stationary point"; a known non-global stationary value of the
    reduced problem (structured candidates, multi-start ends) → "local minimum"; a gradient norm
    above GRAD_TOL or an objective still decreasing by more than OBJECTIVE_RTOL over the last
    logged interval → "not converged in the iterations given"; otherwise "unexplained" (a
    stationary point above the optimum of no known kind).
    """
    if not info["available"]:
        return "no closed form", info.get("reason", "")
    expected = float(info["objective"])
    gap = (objective - expected) / abs(expected) if expected != 0 else objective - expected
    if abs(gap) <= OBJECTIVE_RTOL:
        return "agrees", ""
    if gap < 0:
        return "closed form refuted", f"GD {objective:.12g} < theory {expected:.12g}"
    if dead > 0:
        return "ReLU dead sample", f"{dead} dead sample(s) at the final iterate"
    levels = info.get("rank_levels") or []
    for r, level in enumerate(levels[:-1]):
        if _matches(objective, level):
            return "rank-r stationary point", f"rank {r} (L_r = {level:.12g})"
    candidates = info.get("candidates") or {}
    for name, value in candidates.items():
        if not _matches(value, expected) and _matches(objective, value):
            return "local minimum", f"{name} ({value:.12g})"
    for value in info.get("local_values") or []:
        if not _matches(value, expected) and _matches(objective, value):
            return "local minimum", f"multi-start end point ({value:.12g})"
    if grad_norm > GRAD_TOL or last_decrease > OBJECTIVE_RTOL:
        return "not converged in the iterations given", f"gradient norm {grad_norm:.2e}, last relative decrease {last_decrease:.2e}"
    return "unexplained", f"stationary (gradient norm {grad_norm:.2e}) {gap:.2e} above the optimum"


def rows(ds, *, run: str = "") -> list[dict[str, Any]]:
    """One row per problem of a UFM result dataset: closed form vs the final GD iterate.

    Columns: run, sweep coordinates, model and parameters, theory source/verified flag, the two
    objectives and their relative gap, a status ("agrees" within OBJECTIVE_RTOL, "GD above closed
    form", "GD BELOW closed form" — which would refute the closed form — or "no closed form"),
    whether theory predicts the zero solution, the final norms, the largest structure error and
    §3 identity residual, each structure error, and every NC metric at the final iterate.
    """
    if "config" not in ds.attrs or "objective" not in ds:
        raise InputError(f"{run or 'dataset'}: not a UFM result (no 'config' attribute or 'objective' variable)")
    # the metrics the store was written with (every UFM store records them): a metric registered
    # since is absent from an older store, and this module never loads the metric code (torch)
    metric_names = [f"{key}_{level}" for level in ds.attrs["levels"] for key in ds.attrs["metric_keys"]]
    norm_names = sorted(name for name in ds.data_vars if name.startswith("norm_"))
    out = []
    for index, config in joined.point_configs(ds):
        point = ds.isel(index) if index else ds
        final = point.isel(iteration=-1)
        # the final parameters, as the model names them (W, H, b; W_l, H1; ...)
        params = {name: np.asarray(point[name].values, dtype=np.float64) for name in models.of(config).param_shapes(config)}
        info = theory.minimizer(config)
        objective = float(final["objective"])
        history = np.asarray(point["objective"].values, dtype=np.float64)
        last_decrease = (history[-2] - history[-1]) / max(abs(history[-1]), 1e-300) if history.size > 1 else math.inf
        dead = observables.dead_at_end(point)
        why, detail = reason(info, objective, grad_norm=float(final["grad_norm"]), last_decrease=last_decrease, dead=dead)
        expected = float(info["objective"])
        gap = (objective - expected) / abs(expected) if info["available"] and expected != 0 else math.nan
        errors = structure_errors(config, params) if info["available"] else {}
        identities = identity_residuals(config, params)
        coords = {name: ds[name].values[i].item() for name, i in index.items()}
        row: dict[str, Any] = {"run": run, "point": ", ".join(f"{k}={v:g}" for k, v in coords.items())}
        row.update(coords)
        row.update(
            {
                "model": config.model,
                **models.of(config).table_columns(config),  # activation, depth, bias
                "loss": config.loss,
                "K": config.K,
                "n": config.n,
                **{name: value for name, value in config.lambdas().items()},
                "lr": config.lr,
                "seed": config.seed,
                "iterations": int(final["iteration"]),
                "theory_source": info.get("source", ""),
                "theory_verified": bool(info.get("verified", False)),
                "theory_zero": info["zero"],
                "objective_theory": expected,
                "objective_gd": objective,
                "objective_rel_gap": gap,
                "status": _status(info, gap),
                "reason": why,
                "reason_detail": detail,
                "dead_samples": dead,
                "theory_structure": info.get("structure_name", ""),
                "grad_norm": float(final["grad_norm"]),
                "max_structure_error": max(errors.values()) if errors else math.nan,
                "max_identity_residual": max(identities.values()) if identities else math.nan,
            }
        )
        row.update({name: float(final[name]) for name in norm_names})
        row.update({f"structure:{k}": v for k, v in errors.items()})
        row.update({f"identity:{k}": v for k, v in identities.items()})
        row.update({name: float(final[name]) for name in metric_names})
        out.append(row)
    return out


# ----------------------------------------------------------------------------------- outputs
STATUSES = ("agrees", "GD above closed form", "GD BELOW closed form", "no closed form", "undefined")


def row_id(row: dict[str, Any]) -> str:
    return f"{row['run']}[{row['point']}]" if row["point"] else row["run"]


def document(table: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON document of `deepcollapse theory` (a DVC metrics file: small, fits a screen).

    "tolerance", "summary" (problem count, counts per status and per reason, the largest
    |relative gap|) and "runs": per experiment, its problem count, counts per reason and its
    largest final |relative gap|.  The full rows go to the CSV (`to_csv`).
    """

    def largest_gap(rows: list[dict[str, Any]]) -> float | None:
        gaps = [abs(r["objective_rel_gap"]) for r in rows if math.isfinite(r["objective_rel_gap"])]
        return max(gaps) if gaps else None

    counts = {status: sum(row["status"] == status for row in table) for status in STATUSES}
    reasons = {name: sum(row["reason"] == name for row in table) for name in REASONS}
    runs: dict[str, Any] = {}
    for name in dict.fromkeys(row["run"] for row in table):
        rows_of_run = [row for row in table if row["run"] == name]
        runs[name] = {
            "problems": len(rows_of_run),
            "max_abs_objective_rel_gap": largest_gap(rows_of_run),
            "reasons": {k: v for k in REASONS if (v := sum(r["reason"] == k for r in rows_of_run))},
        }
    return {
        "tolerance": OBJECTIVE_RTOL,
        "summary": {"problems": len(table), **counts, "max_abs_objective_rel_gap": largest_gap(table)},
        "reasons": reasons,
        "runs": runs,
    }


def to_csv(table: list[dict[str, Any]]) -> str:
    """Rows as CSV; the columns are the union of every row's keys, in first-seen order."""
    columns: dict[str, None] = {}
    for row in table:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def format_table(table: list[dict[str, Any]]) -> str:
    """A short plain-text table: one line per problem with the objectives and the status."""
    lines = [f"{'problem':<44} {'theory':>16} {'GD':>16} {'rel. gap':>10}  reason"]
    for row in table:
        lines.append(
            f"{row_id(row)[:44]:<44} {row['objective_theory']:>16.12g} {row['objective_gd']:>16.12g} "
            f"{row['objective_rel_gap']:>10.2e}  {row['reason']}"
        )
    return "\n".join(lines)
