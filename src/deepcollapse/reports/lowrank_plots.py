"""The low-rank-bias page: GD against deep neural collapse, and sentences computed from the study.

`figure(ds)` draws (GD − DNC)/DNC per run against λ/λ_th, one panel per (loss, activation) that
has a DNC value, one colour per depth; `findings(table)` turns `ufm.lowrank_theory.table` into the page's statements — every
number in them comes from the data, including where ours disagree with the literature.
"""

from __future__ import annotations

import numpy as np

from . import figures
from ..ufm import lowrank_theory


def table(ds):
    """The study's table (re-exported: the science lives in `ufm.lowrank_theory`)."""
    return lowrank_theory.table(ds)


def figure(ds, *, title: str = ""):
    import matplotlib.pyplot as plt

    ds = lowrank_theory.with_theory(ds)  # the DNC values: joined on the theory side (nothing recomputed if joined)
    depths = sorted({int(v) for v in ds["depth"].values})
    colors = {L: f"C{i}" for i, L in enumerate(depths)}
    markers = {K: m for K, m in zip(sorted({int(v) for v in ds["K"].values}), "os^vD")}
    # one panel per (loss, activation) that has a DNC value (ReLU with CE has none: `findings` says so)
    panels: dict[tuple[str, str], list[int]] = {}
    for c in ds["case"].values:
        if np.isfinite(ds["rel_to_dnc"].sel(case=c).values).any():
            panels.setdefault((str(ds["loss"].values[c]), str(ds["activation"].values[c])), []).append(int(c))
    ncols = min(2, max(1, len(panels)))
    nrows = max(1, -(-len(panels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 3.4 * nrows), squeeze=False, constrained_layout=True)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no run has a DNC value", transform=axes[0, 0].transAxes, ha="center", va="center")
    for ax, ((loss, act), cases) in zip(axes.flat, panels.items()):
        ax.set_title(f"{act}, {loss.upper()}")
        for c in cases:
            point = ds.sel(case=c)
            L, K = int(point["depth"]), int(point["K"])
            rel = point["rel_to_dnc"].values  # (ratio, seed)
            x = np.repeat(ds["ratio"].values, rel.shape[1])
            ax.plot(x, rel.ravel(), ls="none", marker=markers[K], color=colors[L], alpha=0.7, ms=5, label=f"L={L}, K={K}")
        ax.axhline(0.0, color="k", lw=0.8, gid="reference")
        ax.set_yscale("symlog", linthresh=1e-4)
        ax.set_xlabel(r"$\lambda\,/\,\lambda_{th}$")
        ax.set_ylabel("(GD − DNC) / DNC")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)  # beside the data, not over it
    if title:
        figures.suptitle(fig, title)
    return fig


def _runs(df, **where):
    sel = df
    for key, value in where.items():
        sel = sel[sel[key] == value] if not callable(value) else sel[value(sel[key])]
    return sel


def _where_below(rows) -> str:
    """The (L, λ/λ_th) points where at least one run ended below DNC, by depth: 'L = 4 (λ/λ_th 0.5, 0.8)'."""
    hit = rows[rows["below_dnc"] > 0]
    return "; ".join(f"L = {int(L)} (λ/λ_th {', '.join(f'{r:g}' for r in sorted(group['ratio']))})" for L, group in hit.groupby("depth"))


def _optimum_by_depth(rows) -> str:
    """'; the certified optimum of the reduced problem: …' over the rows' λ, per depth (once when all agree)."""
    per = {int(L): sorted(set(map(str, group["optimum_structure"])) - {"", "nan"}) for L, group in rows.groupby("depth")}
    per = {L: v for L, v in per.items() if v}  # no theory there (e.g. a width below K): nothing certified to name
    if not per:
        return "; no certified optimum of the reduced problem exists for these runs."
    if len({tuple(v) for v in per.values()}) == 1:
        said = f"{' or '.join(next(iter(per.values())))} at every depth"
    else:
        said = "; ".join(f"L = {L}: {', '.join(v)}" for L, v in per.items())
    not_etf = all("simplex ETF" not in v and "zero" not in v for v in per.values())  # zero: an ETF of scale 0
    return f"; the certified optimum of the reduced problem: {said}" + (
        " (the simplex ETF is the global minimum at none of these points)." if not_etf else ".")


def findings(df, seeds: int) -> list[str]:
    """Statements about the study, each computed from its table (`ufm.lowrank_theory.table`)."""
    out = []
    for K in sorted(df["K"].unique()):
        relu = _runs(df, K=K, activation="relu", loss="mse")
        deep = relu[relu["depth"] >= 3]
        if len(deep):
            below = int(round((deep["below_dnc"] * seeds).sum()))
            total = len(deep) * seeds
            best = deep["best_rel_to_dnc"].min()
            verdict = (
                "reproduces the literature's result that deep neural collapse is not always optimal for L ≥ 3 with ReLU; "
                f"it is not optimal at {_where_below(deep)}"
                if below
                else "does NOT reproduce the literature's result (DNC not optimal for L ≥ 3, ReLU) at this size and run length"
            )
            out.append(f"K = {K}, ReLU, MSE, L ≥ 3: GD ends below the DNC value in {below} of {total} runs "
                       f"(lowest: {100 * best:+.2f}% relative to DNC); this {verdict}.")
        two = _runs(relu, depth=2)
        if len(two):
            below = int(round((two["below_dnc"] * seeds).sum()))
            out.append(f"K = {K}, ReLU, MSE, L = 2: below the linear (Theorem 4.2) value in {below} of {len(two) * seeds} runs"
                       + (" — the theorem's premise must fail there." if below else "."))
        linear = _runs(df, K=K, activation="linear", loss="mse")
        if len(linear):
            below = int(round((linear["below_dnc"] * seeds).sum()))
            out.append(f"K = {K}, linear, MSE: {below} of {len(linear) * seeds} runs below the closed form "
                       + ("(the closed form is the global minimum: none expected)." if below == 0 else "— this would REFUTE the closed form."))
        # one weight layer (the plain UFM) apart from several: the simplex ETF is the global minimum
        # of the first and, in general, not of the others (docs/math.md#extended-ce); one count over
        # both would mix an expected 0 with the low-rank bias
        ce = _runs(df, K=K, activation="linear", loss="ce")
        one, deeper = ce[ce["depth"] == 1], ce[ce["depth"] >= 2]
        if len(one):
            below = int(round((one["below_dnc"] * seeds).sum()))
            out.append(f"K = {K}, linear, CE, L = 1 (the plain UFM): {below} of {len(one) * seeds} runs below the simplex-ETF value "
                       + ("(its global minimum: none expected)." if below == 0 else "— this would REFUTE the plain UFM's theory."))
        if len(deeper):
            below = int(round((deeper["below_dnc"] * seeds).sum()))
            out.append(f"K = {K}, linear, CE, L ≥ 2: GD ends below the simplex-ETF (DNC) value in {below} of {len(deeper) * seeds} runs"
                       + _optimum_by_depth(deeper))
    relu_ce = _runs(df, activation="relu", loss="ce", best_rel_to_dnc=lambda v: v.isna())  # the runs with no DNC value
    if len(relu_ce):
        depths = ", ".join(str(int(L)) for L in sorted(set(relu_ce["depth"])))
        out.append(f"ReLU with cross-entropy (L = {depths}): no DNC value exists (a simplex ETF has negative entries, which a ReLU "
                   f"level cannot carry), so its {len(relu_ce) * seeds} runs are not plotted; the table gives their ranks and structures.")
    converged = df["reasons"].str.contains("not converged")
    if converged.any():
        out.append(f"{int(converged.sum())} of {len(df)} table rows include runs that had not converged in the iterations given "
                   "(their objective is an upper bound on where GD would stop).")
    return out
