"""The literature page's rows: each published claim beside the project's number on the same footing, and a verdict.

One `Claim` per row: the paper, the theorem or figure, their setting, their statement or number and
where it was read; `ours(inputs)` computes the project's side at render time (from the Theorem-1
map, the low-rank study's store, or `ufm.candidates` / `ufm.deep_theory` / `ufm.reduced` directly)
and returns a `Finding`: our number in words, the verdict, and why.  Every verdict follows a rule
written in its row's function (docs/math.md#literature):

* AGREES — the same objective at the same setting, and our number says what theirs says;
* DISAGREES — the same footing and ours contradicts theirs (the page shows the runs);
* UNSETTLED — the footing is close but not verifiably theirs (a construction of ours, settings
  of ours), and ours does not reproduce theirs; neither agreement nor contradiction is shown;
* NOT_COMPARABLE — nothing of the project is on their footing (not run, another model).

Where a paper gives no number, what the project chose is named in the row ("chosen here").
What was read of each paper, and from where, is the row's `read`: never a number recalled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ufm import Config, deep_theory, reduced
from ..ufm import papers_theory
from ..ufm.candidates import candidates
from ..ufm.lowrank_theory import with_theory
from ..ufm.theorem1 import AGREES as MAP_AGREES
from ..ufm.theorem1 import BEYOND as MAP_BEYOND
from ..ufm.theorem1 import CONTRADICTS as MAP_CONTRADICTS

AGREES, DISAGREES, UNSETTLED, NOT_COMPARABLE = "agrees", "disagrees", "unsettled", "not comparable"
VERDICTS = (AGREES, DISAGREES, UNSETTLED, NOT_COMPARABLE)

#: GK25's K = 4, L = 2 structure values (n = 50, every λ = 5e-3), evaluated from their App. B.3
#: constructions by the session that wrote `ufm.candidates` (tests/unit/ufm/test_candidates.py);
#: the paper prints no such number.
GK25_K4 = {"dnc": 0.258691778522900, "cross-polytope": 0.257330175266071}
#: Two values "equal" when within this (relative): float64 rounding of a scalar minimisation.
EQUAL_RTOL = 1e-12
#: The SRG chain's setting (GK25/SLM24 give no n for Fig. 3; chosen here): n = 5, width max(30, K),
#: every λ = 4e-3 (SLM24 Fig. 2's λ); r = 3…7 vertices, K = C(r, 2).
SRG_SETTING = {"n": 5, "lam": 4e-3, "min_width": 30, "rs": (3, 4, 5, 6, 7), "depths": (3, 4, 5)}
#: The papers' footings, as the rows find their runs in the `papers` store (by parameters, not by
#: the settings' names): the fields every run of the footing shares.
GK25_LINEAR = {"depth": 2, "K": 10, "n": 5, "activation": "linear", "loss": "ce", "lr": 0.5}
GK25_RELU = {"depth": 3, "K": 10, "n": 5, "width": 70, "lam": 2.0**-9, "activation": "relu", "loss": "ce", "lr": 0.5}
SLM24 = {"depth": 4, "K": 10, "n": 5, "activation": "relu", "loss": "mse", "lr": 0.5}
SLM24_FIG2 = {**SLM24, "width": 30, "lam": 4e-3}
#: Dang et al.'s row: K = 4, n = 50, every λ = 5e-3 (the project's default UFM), L = 1…4 (chosen here).
DANG_SETTING = {"K": 4, "n": 50, "lam": 5e-3, "depths": (1, 2, 3, 4), "starts": 6}


@dataclass(frozen=True)
class Finding:
    """The project's side of a row: its number(s) in words, the verdict, and the reason."""

    ours: str
    verdict: str
    why: str
    numbers: Mapping[str, Any] | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")


@dataclass(frozen=True)
class Claim:
    """A published claim: who, where, on what footing, what it says, where it was read."""

    key: str
    paper: str
    where: str
    setting: str
    statement: str
    read: str
    ours: Callable[[Mapping[str, Any]], Finding]


# ---------------------------------------------------------------------------------- GK25
def gk25_theorem1(inputs) -> Finding:
    """Rule: DISAGREES if any point of the map where Thm 1 applies certifies the ETF; AGREES if
    there is at least one such point and none does; NOT_COMPARABLE if the map has none."""
    rows = inputs["map"]["rows"]
    inside = [r for r in rows if r["theorem_applies"]]
    agree = sum(r["relation"] == MAP_AGREES for r in inside)
    contra = [r for r in inside if r["relation"] == MAP_CONTRADICTS]
    numbers = {"points": len(rows), "applies": len(inside), "agrees": agree, "contradicts": len(contra)}
    ours = f"{agree} of {len(inside)} map points where the theorem applies certify a structure below the ETF ({len(rows)} points in all)"
    if not inside:
        return Finding(ours, NOT_COMPARABLE, "no point of this map lies where the theorem applies", numbers)
    if contra:
        where = "; ".join(f"K={r['K']}, L={r['L']}, Kρ={r['k_rho']:g}" for r in contra)
        return Finding(ours, DISAGREES, f"the ETF is certified at {where} (the map's table lists the runs)", numbers)
    return Finding(ours, AGREES, "the same objective (deep linear CE UFM, no bias, equal λ); the ETF is never certified where the theorem applies", numbers)


def gk25_beyond(inputs) -> Finding:
    """Rule: always NOT_COMPARABLE (the theorem says nothing outside its hypotheses); the row
    reports the points where the map found a point below the ETF with its second certificate."""
    beyond = [r for r in inputs["map"]["rows"] if r["relation"] == MAP_BEYOND]
    reproduced = sum(bool(r.get("second_certificate", {}).get("reproduced")) for r in beyond)
    where = "; ".join(f"K={r['K']}, L={r['L']}, Kρ={r['k_rho']:g}: {r['structure']} ({100 * r['gap_to_etf']:.2g}% below)" for r in beyond)
    ours = (f"{len(beyond)} point(s) outside the theorem with a point below the ETF, {reproduced} reproduced from another seed"
            + (f" — {where}" if beyond else ""))
    return Finding(ours, NOT_COMPARABLE, "outside the theorem's hypotheses it states nothing; ours are numerical certificates, not proofs",
                   {"beyond": len(beyond), "reproduced": reproduced})


def gk25_k4_values(inputs) -> Finding:
    """Rule: AGREES when `ufm.candidates` gives both structure values within EQUAL_RTOL of the
    values evaluated from GK25's constructions and the cross-polytope is the lower; else DISAGREES."""
    out = candidates(Config(model="deep", depth=2, loss="ce", K=4, n=50, d=20, lambda_W=5e-3, lambda_H=5e-3))
    ours = {name: out[name]["objective"] for name in GK25_K4}
    same = all(abs(ours[k] - v) <= EQUAL_RTOL * v for k, v in GK25_K4.items())
    lower = ours["cross-polytope"] < ours["dnc"]
    text = (f"ETF {ours['dnc']:.15f}, cross-polytope {ours['cross-polytope']:.15f} (ufm.candidates, explicit parameters; "
            f"Kρ_L = {kappa_rho(4, 50, 5e-3, 2):.4f})")
    if same and lower:
        return Finding(text, AGREES, f"equal to {EQUAL_RTOL:g} (relative); the cross-polytope is lower, as their construction says", ours)
    return Finding(text, DISAGREES, "ufm.candidates no longer reproduces the values of GK25's constructions", ours)


def not_run(reason: str) -> Callable[[Mapping[str, Any]], Finding]:
    """A row the project has nothing for yet: NOT_COMPARABLE, with the reason."""

    def finding(inputs) -> Finding:
        return Finding("—", NOT_COMPARABLE, reason)

    return finding


# ---------------------------------------------------------------------------------- Dang et al.
def dang_deep_linear_mse(inputs) -> Finding:
    """Rule: AGREES when, at every depth, DNC's explicit parameters (`ufm.candidates`) attain the
    closed form within EQUAL_RTOL and the reduced problem's multi-start finds nothing lower
    (its value ≥ the closed form − EQUAL_RTOL); else DISAGREES."""
    s = DANG_SETTING
    rows, ok = [], True
    for L in s["depths"]:
        lam_Ws = [s["lam"]] * L
        closed = deep_theory.deep_linear_mse(s["K"], s["n"], s["lam"], lam_Ws)
        dnc = candidates(Config(model="deep", depth=L, loss="mse", K=s["K"], n=s["n"], d=20, lambda_W=s["lam"], lambda_H=s["lam"]))["dnc"]["objective"]
        best = reduced.solve(s["K"], closed["rho"], L + 1, kind="mse", starts=s["starts"]).value
        tol = EQUAL_RTOL * max(1.0, abs(closed["objective"]))
        ok &= abs(dnc - closed["objective"]) <= tol and best >= closed["objective"] - tol
        rows.append({"L": L, "closed_form": closed["objective"], "dnc": dnc, "reduced_best": best, "zero": closed["zero"]})
    text = "; ".join(f"L={r['L']}: {r['closed_form']:.10f}" + (" (Z = 0)" if r["zero"] else "") for r in rows)
    text = (f"closed form (K={s['K']}, n={s['n']}, every λ={s['lam']:g}, chosen here) {text}; the DNC chain's explicit parameters attain it, "
            f"the reduced multi-start ({s['starts']} starts) finds nothing lower")
    if ok:
        return Finding(text, AGREES, "their statement (collapse to orthogonal frames at every linear layer) is what the closed form's minimizer is", {"depths": rows})
    return Finding(text, DISAGREES, "DNC does not attain the closed form, or a lower point was found (see the numbers)", {"depths": rows})


# ---------------------------------------------------------------------------------- SLM24
def srg_ratios() -> dict[int, dict[int, float]]:
    """L -> r -> SRG/DNC objective ratio of `ufm.candidates` at SRG_SETTING."""
    s = SRG_SETTING
    out: dict[int, dict[int, float]] = {}
    for L in s["depths"]:
        out[L] = {}
        for r in s["rs"]:
            K = r * (r - 1) // 2
            cfg = Config(model="deep", depth=L, activation="relu", loss="mse", K=K, n=s["n"], d=max(s["min_width"], K),
                         lambda_W=s["lam"], lambda_H=s["lam"])  # fmt: skip
            cand = candidates(cfg)
            out[L][r] = cand["srg"]["objective"] / cand["dnc"]["objective"]
    return out


def slm24_not_optimal(inputs) -> Finding:
    """Rule: per depth L ≥ 3, 'below' if some r has SRG/DNC < 1 (an explicit point lower than DNC:
    DNC is not optimal there — their claim); else that depth is unsettled (our chain is our
    construction, not verifiably theirs, so its failure shows nothing).  AGREES when every depth is
    'below', UNSETTLED otherwise."""
    ratios = srg_ratios()
    below = {L: any(v < 1 for v in per.values()) for L, per in ratios.items()}
    text = "; ".join(f"L={L}: " + ", ".join(f"{v:.3f}" for v in per.values()) for L, per in ratios.items())
    s = SRG_SETTING
    text = (f"SRG/DNC of our SRG chain for r = {', '.join(map(str, s['rs']))} (K = C(r,2); n = {s['n']}, width max({s['min_width']}, K), "
            f"every λ = {s['lam']:g}; n and width chosen here) — {text}")
    lost = [L for L, b in below.items() if not b]
    if not lost:
        return Finding(text, AGREES, "an explicit point below DNC at every depth ≥ 3", {"ratios": ratios})
    won = [L for L, b in below.items() if b]
    return Finding(text, UNSETTLED,
                   f"below DNC at L = {', '.join(map(str, won)) or 'none'}; at L = {', '.join(map(str, lost))} our chain never beats DNC — "
                   "our SRG chain is our construction, not verifiably theirs, and their L = 3 construction was not read",
                   {"ratios": ratios})  # fmt: skip


def relu_mse_runs(ds, wanted: Callable[[int, int], bool]) -> list[tuple[int, int, np.ndarray]]:
    """(K, L, below_dnc per (ratio, seed)) of each ReLU MSE case of a low-rank study with wanted(K, L);
    none without a study.  The theory is joined to those cases only (`with_theory` solves the
    reduced problem of every CE case: minutes on the paper-size study)."""
    if ds is None:
        return []
    keep = [i for i in range(ds.sizes["case"])
            if str(ds["activation"].values[i]) == "relu" and str(ds["loss"].values[i]) == "mse"
            and wanted(int(ds["K"].values[i]), int(ds["depth"].values[i]))]  # fmt: skip
    if not keep:
        return []
    joined = with_theory(ds.isel(case=keep))
    return [(int(joined["K"].values[j]), int(joined["depth"].values[j]), np.asarray(joined["below_dnc"].values[j])) for j in range(len(keep))]


def slm24_fig5(inputs) -> Finding:
    """Rule, on the `papers` store's runs at K = 3, 4, 5, L = 4 (ReLU, MSE, lr 0.5; Fig. 5's λ and width
    were not read: Fig. 2's are used, chosen here): AGREES when every K has a run below DNC; UNSETTLED
    otherwise (a K without one, at settings partly ours, neither confirms nor refutes theirs).
    Without such runs, the low-rank store's (the project's footing): UNSETTLED, or NOT_COMPARABLE
    when it has none either.  Also reported: our SRG chain at K = 3 (r = 3), L = 4."""
    s = SRG_SETTING
    k3 = candidates(Config(model="deep", depth=4, activation="relu", loss="mse", K=3, n=s["n"], d=s["min_width"], lambda_W=s["lam"], lambda_H=s["lam"]))
    srg3 = k3["srg"]["objective"] / k3["dnc"]["objective"]
    chain = f"our SRG chain at K = 3, L = 4 (n = {s['n']}, every λ = {s['lam']:g}): SRG/DNC = {srg3:.3f}"
    ours = {}
    for K in (3, 4, 5):
        runs = papers_runs(inputs, **dict(SLM24, K=K))
        if runs is not None:
            ours[K] = {"below": int(runs["below_dnc"].sum()), "runs": int(runs.sizes["run"]), "converged": int(runs["converged"].sum()),
                       "reached_dnc": int(runs["reached_dnc"].sum()), "ranks": _ranks(runs),
                       "best_over_dnc": float(np.min(runs["objective"].values / runs["dnc_objective"].values)),
                       "width": sorted(set(int(w) for w in runs["width"].values)), "lam": sorted(set(float(v) for v in runs["lam"].values))}  # fmt: skip
    counts = {}
    for K, L, below in relu_mse_runs(inputs.get("lowrank"), lambda K, L: 3 <= K <= 5 and L == 4):
        got = counts.setdefault(K, [0, 0])
        got[0], got[1] = got[0] + int(below.sum()), got[1] + int(below.size)
    numbers = {"srg_dnc_K3_L4": srg3, "papers": ours, "lowrank_below_dnc": {K: tuple(v) for K, v in counts.items()}}
    if ours:
        runs = "; ".join(f"K = {K}: {o['below']} of {o['runs']} below DNC (best/DNC {o['best_over_dnc']:.4f}, {o['reached_dnc']} reached DNC, "
                         f"{o['converged']} converged; logits' ranks {', '.join(f'{r}: {c}' for r, c in sorted(o['ranks'].items()))})"
                         for K, o in sorted(ours.items()))  # fmt: skip
        text = f"GD at SLM24's L = 4, lr 0.5, with Fig. 2's width 30 and λ = 0.004 (chosen here for Fig. 5): {runs}; {chain}"
        if set(ours) == {3, 4, 5} and all(o["below"] for o in ours.values()):
            return Finding(text, AGREES, "a run below DNC at every K = 3, 4, 5: low-rank solutions beat DNC there, as they report", numbers)
        lost = [K for K in (3, 4, 5) if not ours.get(K, {}).get("below")]
        return Finding(text, UNSETTLED, f"no run below DNC at K = {', '.join(map(str, lost))} (or no runs); Fig. 5's own λ and width were not "
                       "read, so this neither confirms nor refutes theirs", numbers)  # fmt: skip
    if not counts:
        return Finding(f"no GD run of this configuration at K = 3–5, L = 4 (ReLU, MSE); {chain}", NOT_COMPARABLE,
                       "nothing of ours at their K and L", numbers)  # fmt: skip
    runs = "; ".join(f"K = {K}: {b} of {n} runs below DNC" for K, (b, n) in sorted(counts.items()))
    return Finding(f"low-rank study (λ = ratio·λ_th, the project's width, lr and init), L = 4: {runs}; {chain}", UNSETTLED,
                   "no GD at SLM24's settings in this configuration; few or no runs below DNC at ours neither confirms nor "
                   "refutes low-rank optima at theirs", numbers)  # fmt: skip


# ---------------------------------------------------------------------------------- GD at the papers' settings
def papers_runs(inputs, **footing) -> Any:
    """The runs of the `papers` store on a footing (fields equal; λ and lr within 1e-12), each run once,
    joined to their DNC and SRG values (`ufm.papers_theory`); None without a store or without such runs."""
    ds = inputs.get("papers")
    if ds is None:
        return None
    keep = np.ones(ds.sizes["run"], dtype=bool)
    lrs = {name: spec["lr"] for name, spec in ds.attrs["study"].items()}
    for key, want in footing.items():
        have = np.array([lrs[s] for s in ds["setting"].values]) if key == "lr" else ds[key].values
        keep &= np.isclose(have.astype(float), want, rtol=1e-12, atol=0) if isinstance(want, float) else have == want
    # settings may share a footing (SLM24 Fig. 2's point is also on its width and λ grids): the same
    # run (same parameters, seed, init and length) counts once
    study = ds.attrs["study"]
    seen, unique = set(), []
    for i in np.flatnonzero(keep):
        spec = study[str(ds["setting"].values[i])]
        key = tuple(str(ds[k].values[i]) for k in ("depth", "K", "n", "width", "lam", "activation", "loss", "seed")) + (
            spec["lr"], spec["init_scale"], spec["iters"])
        if key not in seen:
            seen.add(key)
            unique.append(i)
    if not unique:
        return None
    return papers_theory.with_theory(ds.isel(run=unique))


def _counts(runs, by: str) -> str:
    """"by = v: reached/runs" for each value of `by`."""
    table = papers_theory.summary(runs, by=(by,))
    return ", ".join(f"{row[by]:g}: {row['reached_dnc']}/{row['runs']}" for _, row in table.iterrows())


def _ranks(runs) -> dict[int, int]:
    values, counts = np.unique(runs["logits_rank"].values, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def lower_than_dnc(footing: Mapping[str, Any], width: int, lam: float) -> list[str]:
    """The known structures (`ufm.candidates`) strictly below DNC at a footing (the zero point included)."""
    cfg = Config(model="deep", depth=footing["depth"], activation=footing["activation"], loss=footing["loss"], K=footing["K"],
                 n=footing["n"], d=width, lambda_W=lam, lambda_H=lam)  # fmt: skip
    out = candidates(cfg)
    dnc = out["dnc"]["objective"]
    return [name for name, c in out.items() if name != "dnc" and c["objective"] < dnc * (1 - EQUAL_RTOL)]


def persistence(runs, footing, what: str, by: str) -> Finding:
    """Rule (GK25's 'persistence of DNC despite low-rank bias', their abstract): NOT_COMPARABLE
    without runs on their footing; AGREES when some structure is below DNC there (`ufm.candidates`)
    and GD reaches DNC in at least one run; DISAGREES when a lower structure exists and no run reaches
    DNC though every run converged; UNSETTLED otherwise (unconverged runs, or no lower structure
    known — then reaching DNC shows no persistence *despite* anything).  Their curve's values were
    not read: the numbers are ours, beside their statement, not compared point by point."""
    if runs is None:
        return Finding(f"no GD run on their footing in this configuration ({what})", NOT_COMPARABLE, "nothing of ours on their footing")
    width, lam = int(runs["width"].values[0]), float(runs["lam"].values[0])
    lower = lower_than_dnc(footing, width, lam)
    reached, total, converged = int(runs["reached_dnc"].sum()), int(runs.sizes["run"]), int(runs["converged"].sum())
    ranks = _ranks(runs)
    numbers = {"reached": reached, "runs": total, "converged": converged, "ranks": ranks, "lower_than_dnc": lower,
               "by": papers_theory.summary(runs, by=(by,)).to_dict("records")}  # fmt: skip
    text = (f"{what}: runs reaching DNC by {by} — {_counts(runs, by)} ({reached} of {total}; {converged} converged); "
            f"logits' ranks {', '.join(f'{r}: {c}' for r, c in sorted(ranks.items()))}; "
            f"below DNC at width {width}, λ = {lam:g}: {', '.join(lower) or 'no known structure'}")
    if lower and reached:
        return Finding(text, AGREES, "a structure below DNC exists and GD still reaches DNC: DNC persists despite the low-rank bias", numbers)
    if lower and converged == total:
        return Finding(text, DISAGREES, "every run converged and none reached DNC: no persistence at their setting", numbers)
    return Finding(text, UNSETTLED, "runs not converged, or no structure below DNC known at this setting", numbers)


def gk25_width(inputs) -> Finding:
    """Rule: `persistence` over GK25's linear CE footing (L = 2, K = 10, n = 5, λ = 2⁻¹⁰), by width."""
    runs = papers_runs(inputs, **GK25_LINEAR, lam=2.0**-10)
    return persistence(runs, GK25_LINEAR, "deep linear CE, L = 2, K = 10, n = 5, λ = 2⁻¹⁰, lr 0.5", "width")


def gk25_lambda(inputs) -> Finding:
    """Rule: `persistence` over GK25's linear CE footing at width 70, by λ (a structure below DNC is
    looked for at the smallest λ run)."""
    runs = papers_runs(inputs, **GK25_LINEAR, width=70)
    if runs is not None:
        runs = runs.isel(run=np.argsort(runs["lam"].values, kind="stable"))
    return persistence(runs, GK25_LINEAR, "deep linear CE, L = 2, K = 10, n = 5, d = 70, lr 0.5", "lam")


def gk25_relu(inputs) -> Finding:
    """Rule: `persistence` over GK25 Fig. 6's ReLU CE footing (L = 3, d = 70, λ = 2⁻⁹)."""
    return persistence(papers_runs(inputs, **GK25_RELU), GK25_RELU, "ReLU CE, L = 3, K = 10, n = 5, d = 70, λ = 2⁻⁹, lr 0.5", "width")


def below_dnc_rule(runs, what: str, by: str) -> Finding:
    """Rule (SLM24: GD finds solutions below DNC): NOT_COMPARABLE without runs on their footing;
    AGREES when a run ends below DNC (by more than `lowrank_theory.BELOW_RTOL`); DISAGREES when none
    does and every run converged; UNSETTLED when none does and some had not converged."""
    if runs is None:
        return Finding(f"no GD run on their footing in this configuration ({what})", NOT_COMPARABLE, "nothing of ours on their footing")
    below, total, converged = int(runs["below_dnc"].sum()), int(runs.sizes["run"]), int(runs["converged"].sum())
    dnc, srg = runs["dnc_objective"].values, runs["srg_objective"].values
    at_srg = int(np.sum(runs["objective"].values <= srg * (1 + 1e-6)))
    best = float(np.min(runs["objective"].values / dnc))
    table = papers_theory.summary(runs, by=(by,))
    numbers = {"below": below, "runs": total, "converged": converged, "at_or_below_srg": at_srg, "best_over_dnc": best,
               "srg_over_dnc": float(np.nanmin(srg / dnc)) if np.isfinite(srg).any() else None, "ranks": _ranks(runs),
               "by": table.to_dict("records")}  # fmt: skip
    per = ", ".join(f"{row[by]:g}: {row['below_dnc']}/{row['runs']} below, P(DNC) {row['p_dnc']:.1f}" for _, row in table.iterrows())
    text = (f"{what}: {below} of {total} runs below DNC ({converged} converged; best/DNC {best:.4f}"
            + (f", SRG/DNC {numbers['srg_over_dnc']:.4f}, {at_srg} at or below SRG" if numbers["srg_over_dnc"] is not None else "")
            + f"); by {by}: {per}")
    if below:
        return Finding(text, AGREES, "gradient descent ends below DNC at their setting: DNC is not optimal there", numbers)
    if converged == total:
        return Finding(text, DISAGREES, "every run converged and none ended below DNC", numbers)
    return Finding(text, UNSETTLED, "no run below DNC, and some runs had not converged", numbers)


def slm24_fig2(inputs) -> Finding:
    """Rule: `below_dnc_rule` on SLM24 Fig. 2's footing (ReLU MSE, L = 4, K = 10, width 30, λ = 0.004)."""
    return below_dnc_rule(papers_runs(inputs, **SLM24_FIG2), "ReLU MSE, L = 4, K = 10, n = 5 (chosen here), width 30, λ = 0.004, lr 0.5", "seed")


def slm24_fig3(inputs) -> Finding:
    """Rule: `below_dnc_rule` on every run of SLM24's L = 4, K = 10 footing (any width, any λ), by width."""
    runs = papers_runs(inputs, **SLM24)
    if runs is not None:
        runs = runs.isel(run=np.lexsort((runs["lam"].values, runs["width"].values)))
    return below_dnc_rule(runs, "ReLU MSE, L = 4, K = 10, n = 5 (chosen here), widths and λ of the grid, lr 0.5", "width")


# ---------------------------------------------------------------------------------- SML23
def sml23_binary(inputs) -> Finding:
    """Rule: NOT_COMPARABLE unless a store (the papers' settings, the low-rank study) has ReLU MSE runs
    at K = 2; then AGREES when none ends below DNC, DISAGREES (a bug: it would contradict a theorem)
    when one does — the row names the runs."""
    below = total = 0
    where = []
    ds = inputs.get("papers")
    if ds is not None:
        runs = papers_runs(inputs, K=2, activation="relu", loss="mse")
        if runs is not None:
            below, total = int(runs["below_dnc"].sum()), int(runs.sizes["run"])
            by_depth = {int(L): int(runs["below_dnc"].values[runs["depth"].values == L].sum()) for L in np.unique(runs["depth"].values)}
            where += [f"L = {L}: {b} below" for L, b in by_depth.items()]
            where += [f"run {int(r)} (L = {int(runs['depth'].values[k])}, seed {int(runs['seed'].values[k])}, rel {runs['rel_to_dnc'].values[k]:.2e})"
                      for k, r in enumerate(runs["run"].values) if runs["below_dnc"].values[k]]  # fmt: skip
    for _, _, b in relu_mse_runs(inputs.get("lowrank"), lambda K, L: K == 2):
        below, total = below + int(b.sum()), total + int(b.size)
    if not total:
        return Finding("no ReLU MSE run at K = 2 in this configuration", NOT_COMPARABLE,
                       "nothing of ours at K = 2 with ReLU and MSE", {"runs": 0})  # fmt: skip
    text = f"{below} of {total} GD runs at K = 2 (ReLU, MSE; the papers' settings and the low-rank study) end below DNC" + (
        f" — {'; '.join(where)}" if where else "")
    if below:
        return Finding(text, DISAGREES, "a run below DNC at K = 2 contradicts a theorem: a bug until shown otherwise", {"runs": total, "below": below})
    return Finding(text, AGREES, "no run below DNC", {"runs": total, "below": below})


# ---------------------------------------------------------------------------------- the rows
_GK25 = "GK25 — Garrod & Keating, NeurIPS 2025 (arXiv 2410.23169)"
_SLM24 = "SLM24 — Súkeník, Lampert & Mondelli, NeurIPS 2024 (arXiv 2405.14468)"
_GK25_READ = ("abstract: arXiv HTML 2410.23169v2 (via the search tool); the theorem's K, L bounds and App. B.3: the stored copy, "
              "as read when ufm.theorem1 and ufm.candidates were written (not re-read for this page)")
_SLM24_READ = ("abstract: arXiv HTML 2405.14468v2 (via the search tool); figures and their settings: only from a secondary "
               "summary (the issue text); their theorem's hypotheses and constructions were not read")  # fmt: skip

CLAIMS: tuple[Claim, ...] = (
    Claim("gk25-thm1", _GK25, "Theorem 1",
          "deep linear UFM, CE averaged over Kn samples, no bias, equal λ on every parameter, width d ≥ K",
          "no DNC (simplex-ETF) global minimum if K ≥ 4, L ≥ 3 or K ≥ 6, L = 2", _GK25_READ, gk25_theorem1),
    Claim("gk25-beyond", _GK25, "Theorem 1 (outside its hypotheses)", "as Theorem 1; K < 4, or K < 6 at L = 2",
          "nothing stated", _GK25_READ, gk25_beyond),
    Claim("gk25-k4", _GK25, "App. B.3 constructions, K = 4, L = 2",
          "n = 50, every λ = 5e-3 (chosen here; the paper prints no value)",
          f"the cross-polytope beats the simplex ETF at equal scale; values of their constructions: ETF {GK25_K4['dnc']:.15f}, "
          f"cross-polytope {GK25_K4['cross-polytope']:.15f} (evaluated from their appendix by the project, not printed in the paper)",
          _GK25_READ, gk25_k4_values),
    Claim("gk25-fig1", _GK25, "Figs. 1 and 5 (P(DNC) against width; the converged rank)",
          "deep linear UFM, CE, no bias, L = 2, K = 10, n = 5, every λ = 2⁻¹⁰, lr 0.5, 10 runs (widths, init, iterations: chosen here)",
          "the probability of reaching DNC against width, and the converged rank of the logits (ranks 5–9: 'midpoint' structures); "
          "with the abstract: DNC is frequent in GD despite being suboptimal (the curve's values not read)", _GK25_READ, gk25_width),
    Claim("gk25-fig2", _GK25, "Fig. 2 (P(DNC) against λ)", "as Fig. 1 at d = 70 (λ grid chosen here)",
          "the probability of reaching DNC against λ (values not read)", _GK25_READ, gk25_lambda),
    Claim("gk25-fig6", _GK25, "Fig. 6", "deep ReLU UFM, CE, L = 3, K = 10, d = 70, every λ = 2⁻⁹ (n = 5, lr 0.5, init, iterations: chosen here)",
          "GD on the ReLU CE model (values not read)", _GK25_READ, gk25_relu),
    Claim("gk25-thm7", _GK25, "Theorem 7", "deep ReLU UFM, CE", "no DNC global minimum for K ≥ 10, L ≥ 5 or K ≥ 16, L = 4",
          "the issue text (from the stored copy)", not_run("no ReLU CE study at K ≥ 10, L ≥ 4 in the project (issue 21 item 2)")),
    Claim("gk25-fig3", _GK25, "Fig. 3", "ResNet-20 with a linear head of depth 3 on MNIST / CIFAR-10",
          "singular values of the logits above 1e-6: 4 (MNIST), 3 (CIFAR-10)", "the issue text (from the stored copy)",
          not_run("the ResNet has no deep linear head yet (issue 21 item 4)")),
    Claim("dang23", "Dang, Tran, Osher, Tran-The, Ho & Nguyen, ICML 2023 (arXiv 2301.00437)", "deep linear MSE, balanced data",
          "deep linear UFM, MSE, bias-free, balanced classes",
          "global solutions exhibit neural collapse across the linear layers: class means collapse to an orthogonal frame "
          "(their closed-form equation was not read)",
          "abstract only (stored arXiv copy via the search tool)", dang_deep_linear_mse),
    Claim("slm24-dnc", _SLM24, "main result (abstract), Fig. 3",
          "deep ReLU UFM, MSE; SRG structure for K = C(r, 2)",
          "as soon as there are more than two layers (or two classes), DNC stops being optimal; the SRG structure is lower "
          "(Fig. 3: SRG/DNC ratio against r at L = 3, 4, 5 — values not read)", _SLM24_READ, slm24_not_optimal),
    Claim("slm24-fig2", _SLM24, "Fig. 2", "deep ReLU UFM, MSE, L = 4, K = 10, every λ = 0.004, lr 0.5, width 30, 10 runs (n, init, "
          "iterations: chosen here)", "the loss of GD's runs against the DNC and SRG values: GD finds solutions below DNC",
          _SLM24_READ, slm24_fig2),
    Claim("slm24-fig3", _SLM24, "Fig. 3 (rank against λ, P(DNC) against width)", "deep ReLU UFM, MSE, L = 4, K = 10 (grids, n, init, "
          "iterations: chosen here)", "the mean rank against λ and the probability of reaching DNC against width (values not read)",
          _SLM24_READ, slm24_fig3),
    Claim("slm24-fig5", _SLM24, "Fig. 5", "deep ReLU UFM, MSE, K = 3, 4, 5, L = 4 (their λ, width, lr, init: not read)",
          "gradient descent finds low-rank solutions below DNC", _SLM24_READ, slm24_fig5),
    Claim("sml23", "SML23 — Súkeník, Mondelli & Lampert, NeurIPS 2023 (arXiv 2305.13165)", "main theorem (abstract)",
          "deep UFM with ReLU, MSE, binary classification (K = 2); their λ and width hypotheses not read",
          "the unique global optimum exhibits all the properties of DNC",
          "abstract: OpenReview v9yC7sSXf3 and ISTA Research Explorer 14921 (via the search tool); the theorem's exact hypotheses were not read",
          sml23_binary),
)  # fmt: skip


def table(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every row: the claim's fields, the project's number, the verdict and why."""
    out = []
    for claim in CLAIMS:
        f = claim.ours(inputs)
        out.append({"paper": claim.paper, "claim": claim.where, "their setting": claim.setting, "their statement": claim.statement,
                    "read from": claim.read, "ours": f.ours, "verdict": f.verdict, "why": f.why, "key": claim.key,
                    "numbers": f.numbers})  # fmt: skip
    return out


def kappa_rho(K: int, n: int, lam: float, L: int) -> float:
    """Kρ_L of a setting with every λ equal (what the Theorem-1 map is indexed by)."""
    return K * deep_theory.rho(n, lam, [lam] * L)

