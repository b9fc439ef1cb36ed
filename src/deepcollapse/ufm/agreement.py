"""Gradient descent against the closed form: structure errors, §3 identities, a table row per run.

`structure_errors(config, params)` compares the gauge-invariant quantities of a GD endpoint with
`theory.structure(config)`; `identity_residuals(config, params)` evaluates the identities that
hold at every critical point (docs/math.md#critical-point-identities); `rows(dataset)` turns a result of `ufm.solve` or
`ufm.solve_sweep` into one table row per problem, which `deepcollapse theory` writes out.
Parameters are in the public layout of `ufm.solve` (H sample-major), as numpy float64.
`observed` and `identity_residuals` ask the model's theory hooks (`ufm.models`), which name the
functions per model below (`plain_*`, `extended_*`, `layered_*`).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np

from .. import metrics as nc_metrics
from ..errors import InputError
from . import models, theory
from .config import Config

#: Relative objective gap within which GD is taken to have reached the closed-form minimum.
OBJECTIVE_RTOL = 1e-6


def _rel(actual: np.ndarray, predicted: np.ndarray) -> float:
    """‖A − P‖/‖P‖, or ‖A‖ when P = 0 (the zero solution has no scale to be relative to)."""
    scale = float(np.linalg.norm(predicted))
    err = float(np.linalg.norm(np.asarray(actual) - np.asarray(predicted)))
    return err / scale if scale > 0 else err


def _class_means(features: np.ndarray, K: int) -> np.ndarray:
    """Class means as columns (p × K) of column-layout features (p × N, class-major)."""
    p, N = features.shape
    return features.reshape(p, K, N // K).mean(axis=-1)


def _descending(values: np.ndarray) -> np.ndarray:
    return np.sort(np.asarray(values, dtype=np.float64))[::-1]


def weight_names(config: Config) -> list[str]:
    """The weights of a layered model, bottom (W_1) first."""
    return models.of(config).weight_names(config)


def level_means(config: Config, params: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Class means (p × K, uncentered) of H_1 … H_L of a layered GD end point (ReLU applied)."""
    relu = config.activation == "relu"
    X = params[models.of(config).layers(config).features].T
    out = [_class_means(X, config.K)]
    for name in weight_names(config)[:-1]:
        X = params[name] @ X
        if relu:
            X = np.maximum(X, 0)
        out.append(_class_means(X, config.K))
    return out


def _spectra(config: Config, params: dict[str, np.ndarray], means: list[np.ndarray]) -> dict[str, Any]:
    """Relabelling-invariant observables: singular values of the logits' class means, Gram spectra."""
    top = params[weight_names(config)[-1]]
    out: dict[str, Any] = {"Z_singular_values": np.linalg.svd(top @ means[-1], compute_uv=False)}
    for l, mean in enumerate(means, start=1):
        out[f"H{l}bar_gram_eigenvalues"] = _descending(np.linalg.eigvalsh(mean.T @ mean))
    return out


def observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """The quantities `theory.structure` predicts, computed from one GD endpoint."""
    return models.of(config).theory.observed(config, params)


def layered_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of a stack of layers (the deep UFM): every level's Gram matrix, the top classifier, spectra."""
    means = level_means(config, params)
    top = params[weight_names(config)[-1]]
    out = {"top_WWt": top @ top.T, "means_top": means[-1], **_spectra(config, params, means)}
    out.update({f"H{l}bar_gram": mean.T @ mean for l, mean in enumerate(means, start=1)})
    return out


def plain_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of the plain UFM: W Wᵀ, H̄ᵀH̄, W H̄, the class means and the bias."""
    W, H = params["W"], params["H"].T
    means = _class_means(H, config.K)
    out = {"WWt": W @ W.T, "Hbar_gram": means.T @ means, "W_Hbar": W @ means, "means": means}
    if "b" in params:
        out["b"] = params["b"]
        out["b_centered"] = params["b"] - params["b"].mean()
    return out


def extended_observed(config: Config, params: dict[str, np.ndarray]) -> dict[str, Any]:
    """`observed` of the extended UFM, keyed as `theory.extended_structure` names its predictions."""
    K = config.K
    W2, W1, H1 = params["W2"], params["W1"], params["H1"].T
    Z = W1 @ H1
    H2 = np.maximum(Z, 0) if config.activation == "relu" else Z
    means1, means2 = _class_means(H1, K), _class_means(H2, K)
    return {
        "W2W2t": W2 @ W2.T,
        "H1bar_gram": means1.T @ means1,
        "H2bar_gram": means2.T @ means2,
        "W2_H2bar": W2 @ means2,
        "W2W1_H1bar": W2 @ W1 @ means1,
        "W1_singular_values": np.linalg.svd(W1, compute_uv=False),
        "means2": means2,
        **_spectra(config, params, [means1, means2]),
    }


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


#: Sides of an identity smaller than this (in Frobenius norm) count as 0: at the zero solution
#: both sides are ~1e-30 and their relative difference means nothing.
IDENTITY_FLOOR = 1e-12


def _balance(left: np.ndarray, right: np.ndarray) -> float:
    """‖left − right‖ / max(‖left‖, ‖right‖, IDENTITY_FLOOR)."""
    scale = max(float(np.linalg.norm(left)), float(np.linalg.norm(right)), IDENTITY_FLOOR)
    return float(np.linalg.norm(left - right)) / scale


def identity_residuals(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """Relative residuals of the docs/math.md#critical-point-identities identities (0 at every critical point)."""
    return models.of(config).theory.identities(config, params)


def plain_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """The plain UFM's balance λ_W WᵀW = λ_H HHᵀ, and b = 1/K − W h_G for an unregularized bias (MSE)."""
    W, H = params["W"], params["H"].T
    out = {"lambda_W WtW = lambda_H HHt": _balance(config.lambda_W * W.T @ W, config.lambda_H * H @ H.T)}
    if config.bias == "unregularized" and config.loss == "mse":
        b = params["b"]
        out["b = 1/K - W h_G"] = _balance(b, 1.0 / config.K - W @ H.mean(axis=1))
    return out


def extended_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """The extended UFM's adjacent-factor balances (per hidden unit through the ReLU)."""
    W2, W1, H1 = params["W2"], params["W1"], params["H1"].T
    out = {"lambda_W1 W1tW1 = lambda_H1 H1H1t": _balance(config.lambda_W1 * W1.T @ W1, config.lambda_H1 * H1 @ H1.T)}
    top, below = config.lambda_W2 * W2.T @ W2, config.lambda_W1 * W1 @ W1.T
    if config.activation == "relu":  # only per hidden unit through the ReLU
        out["diag(lambda_W2 W2tW2) = diag(lambda_W1 W1W1t)"] = _balance(np.diag(top), np.diag(below))
    else:
        out["lambda_W2 W2tW2 = lambda_W1 W1W1t"] = _balance(top, below)
    return out


def layered_identities(config: Config, params: dict[str, np.ndarray]) -> dict[str, float]:
    """Adjacent-factor balance of the deep UFM: λ_W1 W1ᵀW1 = λ_H H1H1ᵀ, λ_{l+1} W_{l+1}ᵀW_{l+1} = λ_l W_l W_lᵀ.

    Through a ReLU only the diagonals (per hidden unit) balance, as for the extended model.
    """
    from .theory import layers_of

    _, lam_H, lam_Ws, _ = layers_of(config)
    names = weight_names(config)
    H1, W1 = params["H1"].T, params[names[0]]
    out = {"lambda_W1 W1tW1 = lambda_H H1H1t": _balance(lam_Ws[0] * W1.T @ W1, lam_H * H1 @ H1.T)}
    for l in range(1, len(names)):
        upper, lower = params[names[l]], params[names[l - 1]]
        top, below = lam_Ws[l] * upper.T @ upper, lam_Ws[l - 1] * lower @ lower.T
        key = f"lambda_W{l + 1} W{l + 1}tW{l + 1} = lambda_W{l} W{l}W{l}t"
        if config.activation == "relu":
            out["diag(" + key + ")"] = _balance(np.diag(top), np.diag(below))
        else:
            out[key] = _balance(top, below)
    return out


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


def _dead_at_end(point) -> int:
    """Dead samples at the final iterate, summed over the ReLU levels (0 without the variables)."""
    total = 0
    for name in point.data_vars:
        if name.startswith("dead_samples_"):
            value = point[name]
            if "iteration" in value.dims:
                value = value.isel(iteration=-1)
            total += int(np.asarray(value.values).sum())
    return total


def _point_configs(ds) -> list[tuple[dict[str, Any], Config]]:
    from ..config import from_mapping

    base_mapping = dict(ds.attrs["config"])
    try:
        base = from_mapping(Config, base_mapping, source="stored config")
    except InputError as exc:
        raise InputError(f"the store's config is not a UFM config ({exc})") from None
    sweep = ds.attrs.get("sweep") or {}
    names = list(sweep)
    out = []
    for combo in itertools.product(*(range(len(sweep[name]["values"])) for name in names)):
        index = dict(zip(names, combo))
        overrides = {}
        for name, i in index.items():
            value = sweep[name]["values"][i]
            for field in sweep[name]["fields"]:
                overrides[field] = int(value) if field == "seed" else float(value)
        out.append((index, dataclasses.replace(base, **overrides)))
    return out


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
    metric_names = [f"{key}_{level}" for level in ds.attrs["levels"] for key in nc_metrics.KEYS]
    norm_names = sorted(name for name in ds.data_vars if name.startswith("norm_"))
    out = []
    for index, config in _point_configs(ds):
        point = ds.isel(index) if index else ds
        final = point.isel(iteration=-1)
        # the final parameters, as the model names them (W, H, b; W_l, H1; ...)
        params = {name: np.asarray(point[name].values, dtype=np.float64) for name in models.of(config).param_shapes(config)}
        info = theory.minimizer(config)
        objective = float(final["objective"])
        history = np.asarray(point["objective"].values, dtype=np.float64)
        last_decrease = (history[-2] - history[-1]) / max(abs(history[-1]), 1e-300) if history.size > 1 else math.inf
        dead = _dead_at_end(point)
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
    import csv
    import io

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
