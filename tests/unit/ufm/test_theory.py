"""Closed forms of docs/math.md (#ufm-plain, #extended-linear, #extended-ce): reference values, thresholds, self-consistency."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepcollapse.ufm import Config, problems, theory, torch_loop
from deepcollapse.ufm.agreement import structure_errors

from tests.support.ufm_helpers import assert_printed

PAPER = dict(K=4, n=50, d=20, lambda_W=5e-3, lambda_H=5e-3)
EXT = dict(model="extended", K=4, n=50, d1=20, d2=20)


def ext(lam, **kw):
    return Config(**EXT, lambda_W1=lam, lambda_W2=lam, lambda_H1=lam, **kw)


# ----------------------------------------------------------------------------------- reference values
def test_theorem_3_1_reference_values():
    m = theory.minimizer(Config(**PAPER))
    assert_printed(m["c"], "0.1414213562")
    assert_printed(m["WWt_scale"], "6.0710678119")
    assert_printed(m["means_gram_scale"], "0.1214213562")
    assert_printed(m["kappa"], "7.0710678119")
    assert_printed(m["objective"], "0.131421356237309")
    assert m["zero"] is False and m["verified"] is True


def test_theorem_3_2_reference_value():
    m = theory.minimizer(Config(**PAPER, bias="unregularized"))
    assert_printed(m["objective"], "0.098566017177982")
    assert m["beta"] == 0.25 and m["p"] == 0.0


@pytest.mark.parametrize(
    "lambda_b, p, beta, hG_sq, objective",
    [
        (0.005, "0", "0.2487562189", "0", "0.099187907725246"),
        (0.1, "0", "0.2272727273", "0", "0.109929653541618"),
        (0.2, "0.0378679656", "0.1767766953", "0.0053553391", "0.118921356237309"),
        (0.5, "0.1439339828", "0.0707106781", "0.0203553391", "0.126421356237309"),
        (1, "0.1792893219", "0.0353553391", "0.0253553391", "0.128921356237309"),
        (5, "0.2075735931", "0.0070710678", "0.0293553391", "0.130921356237309"),
    ],
)
def test_regularized_bias_reference_table(lambda_b, p, beta, hG_sq, objective):
    m = theory.minimizer(Config(**PAPER, bias="regularized", lambda_b=lambda_b))
    assert_printed(m["p"], p)
    assert_printed(m["beta"], beta)
    assert_printed(m["hG_sq"], hG_sq)
    assert_printed(m["objective"], objective)
    assert_printed(m["lambda_b_threshold"], "0.164716")


def test_regularized_bias_tends_to_theorem_3_1():
    plain = theory.minimizer(Config(**PAPER))
    m = theory.minimizer(Config(**PAPER, bias="regularized", lambda_b=1e9, lr=1e-10))  # lr: only for validation
    assert m["p"] == pytest.approx(plain["x_star"] / 4, rel=1e-8)
    assert m["objective"] == pytest.approx(plain["objective"], rel=1e-8)


def test_cross_entropy_reference_values():
    for bias in ("none", "unregularized"):
        m = theory.minimizer(Config(**PAPER, loss="ce", bias=bias))
        assert_printed(m["x_star"], "3.230182512581")
        assert_printed(m["objective"], "0.454735945120769")


def test_theorem_4_1_reference_values():
    m = theory.minimizer(ext(5e-3))
    assert_printed(m["control"], "0.0736806300")
    assert_printed(m["t_star"], "0.974123562681")
    assert_printed(m["x_star"], "0.924362131463")
    assert_printed(m["a_sq"], "3.4958390690")
    assert_printed(m["b_sq"], "3.4958390690")
    assert_printed(m["c1_sq"], "0.0699167814")
    assert_printed(m["b_sq"] * m["c1_sq"], "0.2444178159")
    assert_printed(m["objective"], "0.107735715648647")
    for level, printed in zip(m["rank_levels"], ["0.5", "0.40193", "0.30387", "0.20580", "0.10774"]):
        assert_printed(level, printed)
    assert m["rank_levels"][0] == 0.5 and m["rank_levels"][-1] == pytest.approx(m["objective"], rel=1e-15)


@pytest.mark.parametrize(
    "lam, k_rho, x, local, objective",
    [
        (0.01, "0.14736", "0.844072", None, "0.209578179859"),
        (0.02, "0.29472", "0.661802", None, "0.392918799731"),
        (0.026, "0.38314", "0.525089", None, "0.486826161232"),
        (0.028, "0.41261", "0.468890", "0.514587", "0.5"),
        (0.03, "0.44208", "0.400000", "0.54", "0.5"),
    ],
)
def test_extended_table_and_threshold(lam, k_rho, x, local, objective):
    m = theory.minimizer(ext(lam))
    assert_printed(m["control"], k_rho)
    assert_printed(m["x_local"], x)
    assert_printed(m["objective"], objective)
    if local is None:
        assert m["zero"] is False and m["x_star"] == m["x_local"]
    else:  # above 2^(-4/3): the nonzero point is only a local minimum, 0 is global
        assert_printed(m["local_objective"], local)
        assert m["zero"] is True and m["x_star"] == 0.0 and m["local_objective"] > 0.5
        assert m["objective"] == 0.5  # exactly: "0.5" printed to one digit would allow ±0.05


def test_relu_shares_the_linear_optimum():
    linear, relu = theory.minimizer(ext(5e-3)), theory.minimizer(ext(5e-3, activation="relu"))
    for key in ("objective", "x_star", "a_sq", "b_sq", "c1_sq"):
        assert relu[key] == linear[key]


def test_extended_cross_entropy_is_the_reduced_problem_optimum():
    """Corrected §7: the cross-polytope is global at K=4, λ=5e-3; the ETF is a local minimum."""
    m = theory.minimizer(ext(5e-3, loss="ce"))
    assert_printed(m["objective"], "0.257330175266071")
    assert m["structure_name"] == "cross-polytope" and m["rank"] == 2 and not m["etf_is_global"]
    assert_printed(m["x_etf"], "4.458423")
    assert_printed(m["etf_objective"], "0.258691778522900")
    assert_printed(m["candidates"]["simplex ETF"], "0.258691778522900")
    # predicted spectra: singular values 2t* twice
    st = theory.structure(ext(5e-3, loss="ce"))
    assert np.allclose(st["Z_singular_values"], [2 * 3.973456775711] * 2 + [0, 0], rtol=1e-12, atol=1e-12)


def test_thresholds():
    assert_printed(theory.EXTENDED_THRESHOLD, "0.3968503")
    assert_printed(theory.QUARTIC_ROOT_LIMIT, "0.47247")
    # the nonzero point and 0 tie exactly at the threshold: f(x*) = 1/2 with x* = 1/2
    t = theory.quartic_largest_root(theory.EXTENDED_THRESHOLD)
    x = t**3
    assert x == pytest.approx(0.5, abs=1e-8)
    assert 0.5 * (x - 1) ** 2 + 1.5 * theory.EXTENDED_THRESHOLD * x ** (2 / 3) == pytest.approx(0.5, abs=1e-12)
    assert theory.quartic_largest_root(theory.QUARTIC_ROOT_LIMIT * (1 + 1e-9)) is None


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=0.0, max_value=theory.QUARTIC_ROOT_LIMIT))
def test_quartic_root_is_the_largest_root(q):
    t = theory.quartic_largest_root(q)
    assert abs(t**4 - t + q) <= 1e-14
    real = [r.real for r in np.roots([1, 0, 0, -1, q]) if abs(r.imag) < 1e-6]
    assert t == pytest.approx(max(real), abs=1e-7)  # np.roots is only accurate to ~sqrt(eps) at a double root


# ----------------------------------------------------------------------------------- zero solutions
def test_above_threshold_the_minimizer_is_zero():
    lam = 1.0 / (4 * math.sqrt(50))  # c = 1 exactly: zero is the minimizer
    cases = {
        Config(**dict(PAPER, lambda_W=lam, lambda_H=lam)): 0.5,
        Config(**dict(PAPER, lambda_W=0.05, lambda_H=0.05)): 0.5,
        Config(**dict(PAPER, lambda_W=0.05, lambda_H=0.05), bias="unregularized"): 3 / 8,
        Config(**dict(PAPER, lambda_W=0.05, lambda_H=0.05), bias="regularized", lambda_b=2): 3 / 8 + 2 / (8 * 3),
        Config(**dict(PAPER, lambda_W=0.05, lambda_H=0.05), loss="ce"): math.log(4),
        ext(0.05): 0.5,
    }
    for config, objective in cases.items():
        m = theory.minimizer(config)
        assert m["zero"] is True and m["objective"] == pytest.approx(objective, rel=1e-15), config
        assert all(np.all(v == 0) for k, v in theory.structure(config).items() if k not in ("b",)), config
    regularized = Config(**dict(PAPER, lambda_W=0.05, lambda_H=0.05), bias="regularized", lambda_b=2)
    assert theory.structure(regularized)["b"] == pytest.approx(np.full(4, 1 / 12))  # b = 1/(K(1+λ_b))


def test_unavailable_cases_say_why():
    for config, fragment in [
        (Config(K=4, d=3), "d >= 4"),
        (Config(K=4, d=3, bias="unregularized"), None),
        (ext(5e-3, activation="relu", loss="ce"), "no closed form"),
        (Config(lambda_W=0.0), "λ > 0"),
    ]:
        m = theory.minimizer(config)
        if fragment is None:  # Theorem 3.2 only needs d >= K-1
            assert m["available"]
            continue
        assert not m["available"] and fragment in m["reason"] and math.isnan(m["objective"])


# ----------------------------------------------------------------------------------- self-consistency
CASES = [
    Config(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03),
    Config(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03, bias="unregularized"),
    Config(K=3, n=4, d=3, lambda_W=0.05, lambda_H=0.03, bias="regularized", lambda_b=0.05),
    Config(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03, bias="regularized", lambda_b=2.0),
    Config(K=3, n=4, d=5, lambda_W=0.3, lambda_H=0.3, bias="regularized", lambda_b=2.0),
    Config(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03, loss="ce"),
    Config(K=3, n=4, d=2, lambda_W=0.05, lambda_H=0.03, loss="ce", bias="unregularized"),
    Config(K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03, loss="ce", bias="regularized", lambda_b=0.1),
    Config(model="extended", K=3, n=4, d1=5, d2=4, lambda_W1=0.02, lambda_W2=0.01, lambda_H1=0.03),
    Config(model="extended", activation="relu", K=3, n=4, d1=5, d2=6, lambda_W1=0.02, lambda_W2=0.01, lambda_H1=0.03),
    Config(model="extended", K=3, n=4, d1=5, d2=4, lambda_W1=0.02, lambda_W2=0.01, lambda_H1=0.03, loss="ce"),
    Config(model="extended", K=3, n=4, d1=5, d2=4, lambda_W1=0.2, lambda_W2=0.2, lambda_H1=0.2),
    Config(model="extended", K=4, n=5, d1=5, d2=6, lambda_W1=0.02, lambda_W2=0.01, lambda_H1=0.03, loss="ce"),
    Config(model="deep", depth=3, K=3, n=4, d=(5, 4, 6), lambda_W=(0.01, 0.02, 0.015), lambda_H=0.01),
    Config(model="deep", depth=4, K=4, n=3, d=5, lambda_W=0.01, lambda_H=0.02),
    Config(model="deep", depth=2, activation="relu", K=3, n=4, d=5, lambda_W=0.01, lambda_H=0.02),
    Config(model="deep", depth=3, K=4, n=3, d=5, lambda_W=0.01, lambda_H=0.01, loss="ce"),
    Config(model="deep", depth=1, K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.03, loss="ce"),
]


@pytest.mark.parametrize("config", CASES, ids=lambda c: f"{c.label}-{c.lambdas()}")
def test_realized_minimizer_has_the_closed_form_value_and_zero_gradient(config):
    """An explicit point with the predicted structure attains the predicted objective and is critical."""
    info = theory.minimizer(config)
    point = theory.realize(config, seed=1)
    lam = problems.lambda_tensors([config], dtype=torch.float64, device="cpu")
    problem = problems.build(config, lam, dtype=torch.float64, device="cpu")
    params = torch_loop.from_public(point)
    assert float(problem.objective(params)[0]) == pytest.approx(info["objective"], rel=1e-12)
    scale = max(float(p.abs().max()) for p in params.values()) or 1.0
    for name, g in problem.gradients(params).items():
        assert float(g.abs().max()) <= 1e-12 * max(scale, 1.0), name
    errors = structure_errors(config, point)
    assert errors and max(errors.values()) <= 1e-12
