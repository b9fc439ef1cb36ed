"""`ufm.candidates`: every known structure as explicit float64 parameters at its best scale (docs/math.md#candidates).

The objective is recomputed here from the parameters alone, by a plain numpy transcription of
docs/math.md#deep-ufm written for this test (no package code), so a candidate's value cannot
come from the solver that made it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from deepcollapse.ufm import Config, deep_theory
from deepcollapse.ufm.candidates import PAIRS_AXIS, candidates, srg_vertices
from tests.support.ufm_helpers import assert_printed


def objective(params: dict, K: int, n: int, lambda_H: float, lambda_Ws: list[float], relu: bool, loss: str) -> float:
    """(1/2N)‖W_L H_L − Y‖² or (1/N)Σ CE, + Σ λ_Wl/2 ‖W_l‖² + λ_H/2 ‖H1‖²,  H_{l+1} = σ(W_l H_l)."""
    L = len(lambda_Ws)
    H1 = params["H1"]
    out = H1
    for l in range(1, L + 1):
        out = params[f"W{l}"] @ out
        if relu and l < L:
            out = np.maximum(out, 0.0)
    N = K * n
    labels = np.arange(N) // n
    if loss == "mse":
        Y = np.zeros((K, N))
        Y[labels, np.arange(N)] = 1.0
        fit = np.sum((out - Y) ** 2) / (2 * N)
    else:
        fit = np.mean(logsumexp(out, axis=0) - out[labels, np.arange(N)])
    reg = lambda_H / 2 * np.sum(H1**2) + sum(lam / 2 * np.sum(params[f"W{l}"] ** 2) for l, lam in enumerate(lambda_Ws, 1))
    return float(fit + reg)


def _deep(**kw) -> Config:
    return Config(model="deep", **kw)


def _check(config: Config, lambda_H: float, lambda_Ws: list[float]) -> dict:
    out = candidates(config)
    L, K, n = len(lambda_Ws), config.K, config.n
    widths = [config.d] * L if isinstance(config.d, int) else list(config.d)
    relu = config.activation == "relu"
    for name, cand in out.items():
        p = cand["parameters"]
        assert set(p) == {"H1", *(f"W{l}" for l in range(1, L + 1))}, name
        assert p["H1"].shape == (widths[0], K * n) and p[f"W{L}"].shape == (K, widths[-1]), name
        assert all(p[f"W{l}"].shape == (widths[l], widths[l - 1]) for l in range(1, L)), name
        assert all(a.dtype == np.float64 for a in p.values()), name
        # sample i is in class i // n: the columns of one class are equal (collapse)
        assert np.array_equal(p["H1"], np.repeat(p["H1"][:, ::n], n, axis=1)), name
        recomputed = objective(p, K, n, lambda_H, lambda_Ws, relu, config.loss)
        assert abs(recomputed - cand["objective"]) <= 1e-12 * max(1.0, cand["objective"]), (name, recomputed, cand["objective"])
    return out


CONFIGS = [
    dict(depth=1, loss="mse", K=4, n=10, d=6, lambda_W=5e-3, lambda_H=3e-3),
    dict(depth=3, loss="mse", K=3, n=8, d=(5, 7, 4), lambda_W=(2e-3, 3e-3, 1e-3), lambda_H=2e-3),
    dict(depth=1, loss="ce", K=5, n=6, d=7, lambda_W=5e-3, lambda_H=5e-3),
    dict(depth=3, loss="ce", K=5, n=6, d=7, lambda_W=2e-3, lambda_H=4e-3),
    dict(depth=4, loss="ce", K=6, n=3, d=(8, 6, 9, 7), lambda_W=1e-3, lambda_H=1e-3),
    dict(depth=2, activation="relu", loss="mse", K=6, n=4, d=(5, 8), lambda_W=4e-3, lambda_H=4e-3),
    dict(depth=4, activation="relu", loss="mse", K=10, n=5, d=30, lambda_W=4e-3, lambda_H=4e-3),
    dict(depth=3, activation="relu", loss="ce", K=4, n=5, d=6, lambda_W=2e-3, lambda_H=2e-3),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: f"L{kw['depth']}-{kw.get('activation', 'linear')}-{kw['loss']}-K{kw['K']}")
def test_every_candidate_objective_is_its_parameters_objective(kw):
    lam_Ws = list(kw["lambda_W"]) if isinstance(kw["lambda_W"], tuple) else [kw["lambda_W"]] * kw["depth"]
    out = _check(_deep(**kw), kw["lambda_H"], lam_Ws)
    widths = kw["d"] if isinstance(kw["d"], tuple) else (kw["d"],)
    assert "zero" in out and ("dnc" in out) == (min(widths) >= kw["K"])  # SRG's lower levels need only r
    assert ("srg" in out) == (kw.get("activation") == "relu" and kw["loss"] == "mse" and srg_vertices(kw["K"]) is not None)


def test_the_extended_ce_values_of_garrod_and_keating_two_structures():
    """K = 4, L = 2, n = 50, every λ = 5e-3: the simplex ETF (DNC) and the cross-polytope (GK25 App.
    B.3's even-K structure), from parameters the objective above evaluates."""
    out = _check(Config(model="extended", loss="ce"), 5e-3, [5e-3, 5e-3])
    assert_printed(out["dnc"]["objective"], "0.258691778522900")
    assert_printed(out["cross-polytope"]["objective"], "0.257330175266071")
    Z = out["cross-polytope"]["parameters"]["W2"] @ out["cross-polytope"]["parameters"]["W1"] @ out["cross-polytope"]["parameters"]["H1"][:, ::50]
    assert np.linalg.matrix_rank(Z, tol=1e-8 * np.abs(Z).max()) == 2  # K/2 antipodal pairs


def test_dnc_is_the_closed_form_where_there_is_one():
    # deep linear MSE (docs/math.md#deep-ufm) and the plain CE UFM (Zhu et al.; the spec's reference)
    lam_Ws = [2e-3, 3e-3, 1e-3]
    out = _check(_deep(depth=3, loss="mse", K=3, n=8, d=(5, 7, 4), lambda_W=tuple(lam_Ws), lambda_H=2e-3), 2e-3, lam_Ws)
    assert abs(out["dnc"]["objective"] - deep_theory.deep_linear_mse(3, 8, 2e-3, lam_Ws)["objective"]) <= 1e-13
    plain = _check(Config(model="plain", loss="ce"), 5e-3, [5e-3])
    assert_printed(plain["dnc"]["objective"], "0.454735945120769")


def test_relu_dnc_attains_the_linear_value_and_passes_relu_unchanged():
    kw = dict(depth=4, loss="mse", K=10, n=5, d=30, lambda_W=4e-3, lambda_H=4e-3)
    relu = _check(_deep(activation="relu", **kw), 4e-3, [4e-3] * 4)
    linear = _check(_deep(**kw), 4e-3, [4e-3] * 4)
    assert abs(relu["dnc"]["objective"] - linear["dnc"]["objective"]) <= 1e-13


@pytest.mark.parametrize("name", ["dnc", "cross-polytope"])
def test_each_candidate_sits_at_its_best_scale_and_balance(name):
    config = Config(model="extended", loss="ce")
    cand = candidates(config)[name]
    base = objective(cand["parameters"], 4, 50, 5e-3, [5e-3, 5e-3], False, "ce")
    for eps in (1e-3, -1e-3):
        scaled = {k: np.exp(eps) * v for k, v in cand["parameters"].items()}  # the whole chain
        assert objective(scaled, 4, 50, 5e-3, [5e-3, 5e-3], False, "ce") > base
        tilted = dict(cand["parameters"], W1=np.exp(eps) * cand["parameters"]["W1"], W2=np.exp(-eps) * cand["parameters"]["W2"])
        assert objective(tilted, 4, 50, 5e-3, [5e-3, 5e-3], False, "ce") > base  # the balance


def test_srg_needs_more_than_two_layers_to_beat_dnc():
    """SLM24: DNC is optimal at two layers, not beyond; our SRG chain (K = 10, r = 5) loses to DNC
    at L = 2 and wins at L = 5 (every λ = 4e-3, n = 5, width 30)."""
    for L, wins in [(2, False), (5, True)]:
        out = _check(_deep(depth=L, activation="relu", loss="mse", K=10, n=5, d=30, lambda_W=4e-3, lambda_H=4e-3), 4e-3, [4e-3] * L)
        assert (out["srg"]["objective"] < out["dnc"]["objective"]) == wins, (L, out["srg"]["objective"], out["dnc"]["objective"])
    params = out["srg"]["parameters"]
    H4 = np.maximum(params["W3"] @ np.maximum(params["W2"] @ np.maximum(params["W1"] @ params["H1"][:, ::5], 0), 0), 0)
    pre5 = params["W4"] @ H4
    assert np.linalg.matrix_rank(pre5, tol=1e-9 * np.abs(pre5).max()) == 5  # rank r before the last ReLU
    assert np.linalg.matrix_rank(np.maximum(pre5, 0), tol=1e-9 * np.abs(pre5).max()) == 10  # rank K after it


@pytest.mark.parametrize("K, L", [(6, 2), (7, 2), (4, 3), (5, 3)])
def test_a_lower_rank_candidate_beats_dnc_where_gk25_theorem_1_applies(K, L):
    """GK25 Thm 1 (K ≥ 6 at L = 2, K ≥ 4 at L ≥ 3): its even/odd structures (cross-polytope,
    antipodal pairs + axis) beat DNC; here at every λ = 2e-3, n = 10."""
    out = _check(_deep(depth=L, loss="ce", K=K, n=10, d=K + 2, lambda_W=2e-3, lambda_H=2e-3), 2e-3, [2e-3] * L)
    structure = "cross-polytope" if K % 2 == 0 else PAIRS_AXIS
    assert out[structure]["objective"] < out["dnc"]["objective"]


def test_a_bias_or_too_narrow_a_layer_has_no_candidate():
    with pytest.raises(ValueError, match="bias"):
        candidates(Config(model="plain", bias="unregularized"))
    out = candidates(_deep(depth=2, K=6, n=3, d=(4, 8), lambda_W=1e-3, lambda_H=1e-3, loss="ce"))
    assert set(out) == {"zero"}
