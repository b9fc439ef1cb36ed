"""The theory page's table: every row of `deepcollapse theory`'s agreement file, non-agreeing first.

The page shows the solver's own `reason` for a row that does not agree ("not converged in the
iterations given", "local minimum", "ReLU dead sample", "closed form refuted", …) when the agreement
file has that column, and counts per reason; an agreement file written before the solver named
reasons is shown with its status only — the page infers no reason itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import pages, text

AGREES = "agrees"
BELOW = "GD BELOW closed form"
STATUS_COLORS = {AGREES: "C2", "GD above closed form": "C1", BELOW: "C3", "no closed form": "C7"}
STATUS_MARKERS = {AGREES: "o", "GD above closed form": "s", BELOW: "v", "no closed form": "x"}
#: Columns shown first, when present; the rest of the agreement file's columns follow.
LEAD_COLUMNS = ["run", "point", "status", "reason", "model", "activation", "bias", "loss", "iterations", "objective_theory",
                "objective_gd", "objective_rel_gap", "theory_zero", "max_structure_error", "max_identity_residual", "theory_source"]


def rows_path(agreement_json: str) -> str:
    """The full rows live in the CSV beside the (small, DVC-metric) agreement JSON."""
    return str(agreement_json).removesuffix(".json") + ".csv"


def ordered(rows):
    """Every row (a DataFrame read from the agreement CSV), not agreeing first (below, above, no
    closed form), then by run."""
    rank = {BELOW: 0, "GD above closed form": 1, "no closed form": 2, AGREES: 3}
    key = rows["status"].map(lambda s: rank.get(s, 1))
    return rows.assign(_rank=key).sort_values(["_rank", "run"], kind="stable").drop(columns="_rank").reset_index(drop=True)


def columns(table) -> list[str]:
    return [c for c in LEAD_COLUMNS if c in table]


def display(table):
    """The rows as the page shows them: the lead columns, indexed by run and point; a missing text
    value (the point of a single run, the bias of a model without one) blank, not "nan"."""
    shown = table[columns(table)]
    from pandas.api.types import is_string_dtype

    text_columns = [c for c in shown.columns if is_string_dtype(shown[c]) or shown[c].dtype == object]
    shown = shown.fillna({c: "" for c in text_columns})
    # the sweep points as every page names them (λ=0.005, not lambda=0.005)
    point = shown["point"].fillna("").astype(str)  # all-NaN (single runs only) reads back as float
    shown = shown.assign(point=point.str.replace(r"\blambda(?=[_=])", "λ", regex=True))
    # the problem in one column (model, activation, bias, loss) and headers that wrap between words:
    # the table then fits a 1280 px page without breaking a word or a number in two
    parts = [c for c in ("model", "activation", "bias", "loss") if c in shown]
    if parts:
        # an all-empty column (no run of the file has an activation) reads back as float NaN
        problem = shown[parts].astype(object).apply(lambda r: " ".join(str(v) for v in r if isinstance(v, str) and v and v != "nan"), axis=1)
        shown = shown.drop(columns=parts).assign(problem=problem)
        order = [c for c in shown.columns if c not in ("problem",)]
        shown = shown[order[:order.index("reason") + 1 if "reason" in order else 3] + ["problem"] + order[order.index("reason") + 1 if "reason" in order else 3:]]
    if "iterations" in shown:  # 200,000: readable, and it wraps at the comma if it must
        shown = shown.assign(iterations=shown["iterations"].map(lambda v: f"{int(v):,}" if v == v and v != "" else ""))
    if "theory_source" in shown:  # the anchor of docs/math.md says it (the page links the document above)
        shown = shown.assign(theory_source=shown["theory_source"].astype(str).str.replace("docs/math.md#", "", regex=False))
    shown = shown.rename(columns=lambda c: c.replace("_", " ") if c not in ("run", "point") else c)
    return shown.set_index(["run", "point"])


def summary_markdown(doc: Mapping[str, Any], table) -> str:
    """The counts (per status, and per reason when the file has reasons) and what each row below the
    closed form means, built from the rows."""
    total = len(table)
    by_status = table["status"].value_counts()
    lines = [f"Every UFM experiment and every point of every sweep ({total} problems) against its closed-form global "
             f"minimizer ({text.math_link('verification')}): the relative gap of the final objective (tolerance "
             f"{doc['tolerance']:g}), the largest relative error of the predicted structure, and the largest residual of the "
             f"identities of every critical point ({text.math_link('critical-point-identities')}).",
             "",
             "Counts: " + ", ".join(f"**{s}**: {int(n)}" for s, n in by_status.items()) + "."]
    if "reason" in table:
        reasons = table.loc[table["status"] != AGREES, "reason"].fillna("(none given)").value_counts()
        if len(reasons):
            lines.append("")
            lines.append("Why the others do not agree (the solver's reasons): "
                         + ", ".join(f"**{r}**: {int(n)}" for r, n in reasons.items()) + ".")
    else:
        lines.append("")
        lines.append("This agreement file has no `reason` column (it was written before the solver named its reasons), so "
                     "each row shows its status only: \"GD above closed form\" can be too few iterations, a local minimum "
                     f"({text.math_link('extended-landscape')}) or a ReLU dead sample ({text.math_link('relu-dead-sample')}).")
    below = table[table["status"] == BELOW]
    if len(below):
        lines.append("")
        lines.append(f"**GD ends below the closed form in {len(below)} problem(s)** — there the closed form is not the "
                     "minimum:")
        for _, row in below.iterrows():
            source = str(row.get("theory_source", ""))
            point = f" [{row['point']}]" if str(row.get("point", "")) not in ("", "nan", "None") else ""
            why = ""
            if "§7" in source or "extended-ce" in source or (row.get("model") == "extended" and row.get("loss") == "ce"):
                why = (" This is the extended linear UFM with cross-entropy, whose ETF 'closed form' is indeed wrong in "
                       f"general: the global minimizer is lower-rank (a cross-polytope at K = 4), see {text.math_link('extended-ce')}.")
            lines.append(f"* `{row['run']}`{point}: GD {row['objective_gd']:.10g} < closed form {row['objective_theory']:.10g} "
                         f"(relative gap {row['objective_rel_gap']:.3g}; closed form from {pages.source_link(source)}).{why}")
    return "\n".join(lines)
