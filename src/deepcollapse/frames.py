"""Which frame a level's class means form, by the thresholds of docs/math.md#structure-claims.

The one structure-claim vocabulary of the project: every report page (`reports.claims`), the
networks page and the network-against-UFM comparison (`compare`) name a structure ("orthogonal
frame", "simplex ETF", "neither ETF nor OF", "zero solution") with `frame_of` and these
`Thresholds`, so that one set of numbers gets one name wherever it is shown.  Pure numpy; change a
threshold here and in docs/math.md#structure-claims together (a test reads the table there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The frame names; the models' `frames` theory hooks (`ufm.theory_hooks`) predict the same words (a test checks).
OF = "orthogonal frame"
ETF = "simplex ETF"
NEITHER = "neither ETF nor OF"
ZERO = "zero solution"


@dataclass(frozen=True)
class Thresholds:
    """The explicit thresholds behind every verdict (docs/math.md#structure-claims)."""

    collapse: float = 1e-3  # NC1 at or below: collapsed
    frame: float = 1e-3  # NC2 at or below: at that frame
    etf_of_tolerance: float = 1e-2  # |NC2_OF − √(2−2√((K−1)/K))| at or below, with NC2_ETF small: an ETF
    agree: float = 1e-6  # |gap| at or below: agrees with the closed form
    below: float = 1e-12  # gap below −this: GD under the closed form (refutes it)
    zero_norm: float = 1e-6  # ‖H‖_F at or below: the zero solution, where NC metrics are undefined


DEFAULT = Thresholds()


def etf_of_distance(K: int) -> float:
    """NC2_OF of an exact simplex ETF: √(2 − 2√((K−1)/K)) (0.5176 for K = 4; docs/math.md#nc-metrics)."""
    return math.sqrt(2.0 - 2.0 * math.sqrt((K - 1) / K))


def is_zero(norm: float | None, t: Thresholds = DEFAULT) -> bool:
    """‖H‖_F at or below the zero-solution threshold: the NC metrics are undefined there."""
    return norm is not None and bool(np.isfinite(norm)) and norm <= t.zero_norm


def frame_of(nc2_etf: float, nc2_of: float, *, K: int, norm: float | None = None, t: Thresholds = DEFAULT) -> str:
    """The structure of the class means from their two NC2 distances (and the feature norm)."""
    if is_zero(norm, t) or not (np.isfinite(nc2_etf) and np.isfinite(nc2_of)):
        return ZERO
    if nc2_of <= t.frame:
        return OF
    if nc2_etf <= t.frame and abs(nc2_of - etf_of_distance(K)) <= t.etf_of_tolerance:
        return ETF
    return NEITHER


def collapsed(nc1: float, t: Thresholds = DEFAULT) -> bool | None:
    """NC1 at or below the threshold; None when undefined (the zero solution)."""
    return None if not np.isfinite(nc1) else bool(nc1 <= t.collapse)
