"""The Theorem-1 map: the certified structure of the deep linear CE UFM over (K, L, Kρ_L), against Garrod & Keating's Theorem 1 (docs/math.md#theorem1-map).

GK25 (NeurIPS 2025, Thm 1): in the deep linear UFM with CE (no bias, width d ≥ K), no solution
with deep-neural-collapse structure is a global minimum if K ≥ 4 and L ≥ 3, or K ≥ 6 and L = 2.
Their proof compares DNC (logits ∝ the simplex ETF) with a lower-rank structure *at equal scale*
(App. B.3), so the theorem is silent elsewhere; the reduced problem (`ufm.reduced`) is not.

At each point the reduced K × K problem (m = L + 1 factors, ρ = Kρ/K) is solved by `reduced.solve`
(every structured candidate at its exact best scale + seeded multi-start), and the point is put in
one of these relations to the theorem:

* "agrees with Thm 1": the theorem applies and the certified optimum is not the ETF;
* "contradicts Thm 1": the theorem applies and the ETF is certified (a bug here, or a misreading);
* "beyond Thm 1": the theorem does not apply and a point lower than the ETF at its best scale was
  found.  Such a point gets a second certificate: `confirm_starts` more starts from another seed
  (their best value and structure), and the Hessian of the factor problem at the balanced ETF
  (`reduced.factor_hessian`: a descent direction, or none — then the ETF is a local minimum or
  degenerate, and the lower point lies in another basin).  The explicit lower point shows the ETF
  is not the global minimum there up to float64 rounding; that the structure found is *the* global
  minimum is a numerical certificate (the best of the candidates and the starts), not a proof;
* "outside Thm 1, ETF certified" / "zero": the theorem does not apply and the ETF (or Z = 0) wins.

Everything is float64 numpy + scipy on the CPU; `run` returns a JSON-ready document.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ..constraints import NONNEGATIVE_INT, POSITIVE, POSITIVE_INT, Interval, ListOf, validate_fields
from ..errors import InputError
from . import reduced

ETF = "simplex ETF"
AGREES, CONTRADICTS, BEYOND, ETF_OUTSIDE, ZERO = (
    "agrees with Thm 1", "contradicts Thm 1", "beyond Thm 1", "outside Thm 1, ETF certified", "zero")  # fmt: skip
#: A point counts as lower than the ETF when below its best value by more than this (relative):
#: far above the multi-start's stopping tolerance (1e-9, `reduced.solve`) and float64 rounding.
MARGIN_RTOL = 1e-7
#: A Hessian eigenvalue below −this × the largest is a descent direction (finite differences are
#: good to ~1e-10 relative; the gauge directions give exact zeros).
DESCENT_RTOL = 1e-6


def theorem_applies(K: int, L: int) -> bool:
    """GK25 Theorem 1's hypotheses (read from the stored copy of arXiv 2410.23169v2, Sec. 3.1)."""
    return (K >= 4 and L >= 3) or (K >= 6 and L == 2)


@dataclasses.dataclass(frozen=True)
class Study:
    """The grid (params.yaml `ufm.studies.theorem1`): class counts × depths × Kρ_L, and the search effort."""

    Ks: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
    depths: tuple[int, ...] = (1, 2, 3, 4)
    k_rho: tuple[float, ...] = (0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.4)
    starts: int = 8
    confirm_starts: int = 24
    seed: int = 0

    parameter_constraints: ClassVar[dict] = {
        "Ks": ListOf(Interval(int, 2, 12)),
        "depths": ListOf(Interval(int, 1, 6)),
        "k_rho": ListOf(POSITIVE),
        "starts": POSITIVE_INT,
        "confirm_starts": POSITIVE_INT,
        "seed": NONNEGATIVE_INT,
    }

    def __post_init__(self) -> None:
        validate_fields(self)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, source: str = "ufm.studies.theorem1") -> "Study":
        if not isinstance(mapping, Mapping):
            raise InputError(f"{source}: expected a mapping, got {type(mapping).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise InputError(f"{source}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        values = dict(mapping)
        try:
            for name, kind in (("Ks", int), ("depths", int), ("k_rho", float)):
                if name in values:
                    values[name] = tuple(kind(v) for v in values[name])
            return cls(**values)
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise InputError(f"{source}: malformed value ({exc})") from None


def point(K: int, L: int, k_rho: float, study: Study) -> dict[str, Any]:
    """One point of the map (module docstring): the certified structure and its relation to Thm 1."""
    m, rho = L + 1, k_rho / K
    sol = reduced.solve(K, rho, m, starts=study.starts, seed=study.seed)
    etf = sol.candidates[ETF]["value"]
    below = sol.value < etf - MARGIN_RTOL * abs(etf)
    applies = theorem_applies(K, L)
    if applies:
        relation = CONTRADICTS if sol.structure == ETF else AGREES
    elif below:
        relation = BEYOND
    else:
        relation = ZERO if sol.structure == "zero" else ETF_OUTSIDE
    row = {
        "K": K, "L": L, "k_rho": k_rho, "rho": rho, "theorem_applies": applies, "relation": relation,
        "structure": sol.structure, "rank": sol.rank, "value": sol.value, "etf_value": etf,
        "gap_to_etf": (etf - sol.value) / abs(etf), "source": sol.source, "starts": study.starts,
        "candidates": {name: c["value"] for name, c in sol.candidates.items()},
    }  # fmt: skip
    if relation == BEYOND:
        row["second_certificate"] = second_certificate(K, rho, m, study, sol)
    return row


def second_certificate(K: int, rho: float, m: int, study: Study, first: reduced.Solution) -> dict[str, Any]:
    """More starts from another seed, and the Hessian at the ETF (at its best scale)."""
    again = reduced.solve(K, rho, m, starts=study.confirm_starts, seed=study.seed + 1)
    etf = first.candidates[ETF]
    hessian = reduced.factor_hessian(etf["scale"] * reduced.patterns(K)[ETF], rho, m) if etf["scale"] > 0 else None
    descent = hessian is not None and hessian["min_eigenvalue"] < -DESCENT_RTOL * hessian["max_eigenvalue"]
    return {
        "starts": study.confirm_starts,
        "seed": study.seed + 1,
        "value": again.value,
        "structure": again.structure,
        "reproduced": again.value <= first.value + 1e-9 * max(1.0, abs(first.value)),
        "below_etf": again.value < etf["value"] - MARGIN_RTOL * abs(etf["value"]),
        "etf_hessian": hessian,
        "etf_descent_direction": descent,
    }


def run(study: Study, *, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every point of the grid, in (K, L, Kρ) order, with a count per relation."""
    rows = []
    for K in study.Ks:
        for L in study.depths:
            for q in study.k_rho:
                rows.append(point(K, L, q, study))
            if progress:
                last = rows[-len(study.k_rho):]
                progress(f"K={K} L={L}: " + ", ".join(f"{r['k_rho']:g} {r['structure']}" for r in last))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["relation"]] = counts.get(row["relation"], 0) + 1
    return {
        "study": dataclasses.asdict(study),
        "theorem": "GK25 Thm 1: no DNC global minimum if K >= 4, L >= 3 or K >= 6, L = 2 (deep linear UFM, CE, d >= K)",
        "margin_rtol": MARGIN_RTOL,
        "descent_rtol": DESCENT_RTOL,
        "counts": counts,
        "rows": rows,
    }
