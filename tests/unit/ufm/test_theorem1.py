"""The Theorem-1 map (docs/math.md#theorem1-map): the theorem's domain, the relation of each point
to it, the second certificate of a point beyond it, and the Hessian test behind that certificate."""

from __future__ import annotations

import numpy as np
import pytest

from deepcollapse.errors import InputError
from deepcollapse.ufm import reduced, theorem1


def test_the_theorem_applies_where_gk25_state_it():
    """K ≥ 4, L ≥ 3 or K ≥ 6, L = 2 (GK25, Thm 1); never at L = 1 (the convex plain UFM)."""
    inside = {(K, L) for K in range(2, 13) for L in range(1, 7) if theorem1.theorem_applies(K, L)}
    assert inside == {(K, L) for K in range(4, 13) for L in range(3, 7)} | {(K, 2) for K in range(6, 13)}


def test_the_study_refuses_an_unknown_key_or_a_bad_value_in_one_line():
    with pytest.raises(InputError, match=r"^x\.yaml: unknown key 'K'"):
        theorem1.Study.from_mapping({"K": 4}, source="x.yaml")
    with pytest.raises(InputError, match=r"Ks\[0\].*got 1"):
        theorem1.Study.from_mapping({"Ks": [1]})
    assert theorem1.Study.from_mapping({"k_rho": [0.1]}).k_rho == (0.1,)


def test_each_point_stands_in_its_relation_to_the_theorem():
    study = theorem1.Study(Ks=(4, 6), depths=(2,), k_rho=(0.02, 0.3), starts=3, confirm_starts=3)
    doc = theorem1.run(study)
    rows = {(r["K"], r["k_rho"]): r for r in doc["rows"]}
    assert sum(doc["counts"].values()) == 4 and theorem1.CONTRADICTS not in doc["counts"]
    # K = 4, L = 2 lies outside the theorem: the ETF wins below Kρ = 0.0470420 (docs/math.md#extended-ce) ...
    assert rows[4, 0.02]["relation"] == theorem1.ETF_OUTSIDE and rows[4, 0.02]["structure"] == "simplex ETF"
    # ... and the cross-polytope above it, beyond the theorem, with a second certificate
    beyond = rows[4, 0.3]
    assert beyond["relation"] == theorem1.BEYOND and beyond["structure"] == "cross-polytope"
    assert beyond["value"] < beyond["etf_value"] * (1 - theorem1.MARGIN_RTOL)
    cert = beyond["second_certificate"]
    assert cert["reproduced"] and cert["below_etf"] and cert["seed"] == study.seed + 1
    assert cert["etf_hessian"]["gradient_norm"] < 1e-10  # the ETF at its best scale is a critical point
    assert not cert["etf_descent_direction"]  # ... with no descent direction: the lower point is another basin
    # K = 6, L = 2: inside the theorem, and the certified optimum is not the ETF
    assert all(rows[6, q]["relation"] == theorem1.AGREES for q in (0.02, 0.3))
    assert all("second_certificate" not in rows[6, q] for q in (0.02, 0.3))


def test_the_hessian_finds_the_descent_direction_of_a_saddle():
    """Plain UFM with MSE (m = 2, convex in Z): s·I with s = 1 − Kρ is the minimum; dropping one
    singular value to 0 gives a critical point of the factor problem that is a strict saddle."""
    K, rho = 4, 0.05
    s = 1 - K * rho
    minimum = reduced.factor_hessian(s * np.eye(K), rho, 2, "mse")
    saddle = reduced.factor_hessian(np.diag([s, s, s, 0.0]), rho, 2, "mse")
    assert minimum["gradient_norm"] < 1e-12 and saddle["gradient_norm"] < 1e-12
    assert minimum["min_eigenvalue"] > -1e-9 * minimum["max_eigenvalue"]
    assert saddle["min_eigenvalue"] < -theorem1.DESCENT_RTOL * saddle["max_eigenvalue"]
