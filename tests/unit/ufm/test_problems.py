"""Objectives and explicit gradients (docs/math.md#ufm-plain, #ufm-cross-entropy, #extended-linear): against autograd and direct formulas."""

import numpy as np
import pytest
import torch

from deepcollapse.ufm import Config, problems, solver, torch_loop

VARIANTS = [
    dict(bias="none"),
    dict(bias="unregularized"),
    dict(bias="regularized", lambda_b=0.3),
    dict(bias="none", loss="ce"),
    dict(bias="unregularized", loss="ce"),
    dict(bias="regularized", lambda_b=0.3, loss="ce"),
    dict(model="extended", activation="linear"),
    dict(model="extended", activation="relu"),
    dict(model="extended", activation="linear", loss="ce"),
    dict(model="extended", activation="relu", loss="ce"),
]
SIZES = {"plain": dict(K=3, n=4, d=5), "extended": dict(K=3, n=4, d1=5, d2=6)}


def make(variant, B=3):
    model = variant.get("model", "plain")
    configs = []
    for i in range(B):  # different λ per problem: the batch must keep them apart
        lam = {"lambda_W": 0.01 * (i + 1), "lambda_H": 0.02 / (i + 1)} if model == "plain" else {
            "lambda_W1": 0.01 * (i + 1), "lambda_W2": 0.03, "lambda_H1": 0.02 / (i + 1)}
        fields = dict(variant, **SIZES[model], **lam)
        if "lambda_b" in fields:
            fields["lambda_b"] = 0.3 * (i + 1)
        configs.append(Config(**fields))
    lam = problems.lambda_tensors(configs, dtype=torch.float64, device="cpu")
    problem = problems.build(configs[0], lam, dtype=torch.float64, device="cpu")
    params = problem.init(range(B), solver.init_scales(configs))
    return configs, problem, params


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(str(x) for x in v.values()))
def test_explicit_gradients_match_autograd(variant):
    _, problem, params = make(variant)
    leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    auto = torch.autograd.grad(problem.objective(leaves).sum(), list(leaves.values()))
    explicit = problem.gradients(params)
    for (name, a) in zip(leaves, auto):
        torch.testing.assert_close(explicit[name], a, rtol=1e-12, atol=1e-14, msg=name)


def _direct_objective(config, p):
    """The spec's objective for one problem, written out with numpy (column layout)."""
    K, n = config.K, config.n
    N = K * n
    Y = np.kron(np.eye(K), np.ones((1, n)))
    if config.model == "plain":
        Z = p["W"] @ p["H"] + (p["b"] if "b" in p else 0)
        reg = config.lambda_W / 2 * np.sum(p["W"] ** 2) + config.lambda_H / 2 * np.sum(p["H"] ** 2)
        reg += config.lambda_b / 2 * np.sum(p.get("b", np.zeros(1)) ** 2)
    else:
        pre = p["W1"] @ p["H1"]
        Z = p["W2"] @ (np.maximum(pre, 0) if config.activation == "relu" else pre)
        reg = sum(getattr(config, f"lambda_{k}") / 2 * np.sum(p[k] ** 2) for k in ("W2", "W1", "H1"))
    if config.loss == "mse":
        loss = np.sum((Z - Y) ** 2) / (2 * N)
    else:
        loss = np.mean([-Z[y, i] + np.log(np.sum(np.exp(Z[:, i]))) for i, y in enumerate(np.repeat(np.arange(K), n))])
    return loss + reg


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(str(x) for x in v.values()))
def test_objective_matches_the_written_out_formula(variant):
    configs, problem, params = make(variant)
    values = problem.objective(params)
    for i, config in enumerate(configs):
        p = {k: v[i].numpy() for k, v in params.items()}
        assert float(values[i]) == pytest.approx(_direct_objective(config, p), rel=1e-13)


@pytest.mark.parametrize("variant", [VARIANTS[2], VARIANTS[7]], ids=["plain-regbias", "relu"])
def test_gd_step_is_simultaneous_gradient_step(variant):
    configs, problem, params = make(variant)
    lr = torch.tensor([0.1, 0.05, 0.2], dtype=torch.float64)
    new = torch_loop.gd_step(problem, lr)(params)
    grads = problem.gradients(params)  # all at θ_t
    for name in params:
        expected = params[name] - lr.view(-1, 1, 1) * grads[name]
        torch.testing.assert_close(new[name], expected, rtol=1e-14, atol=1e-15)


def test_gd_step_keeps_the_problems_dtype_whatever_the_step_sizes():
    configs, problem, params = make(VARIANTS[2])
    new = torch_loop.gd_step(problem, torch.tensor([0.1, 0.05, 0.2], dtype=torch.float32))(params)
    assert all(v.dtype == torch.float64 for v in new.values())  # float32 step sizes would silently halve the precision


def test_initialization_is_per_seed_and_scaled():
    configs, problem, params = make(dict(model="extended"), B=3)
    # problem 2 of a batch starts where a lone run of seed 2 starts
    alone = problem.init([2], {k: [v[2]] for k, v in solver.init_scales(configs).items()})
    for name in params:
        assert torch.equal(params[name][2], alone[name][0])
    cfg = Config(model="extended", K=10, n=20, d1=30, d2=30, init_scale=0.1, init_scale_features=0.2)
    problem = problems.build(cfg, problems.lambda_tensors([cfg], dtype=torch.float64, device="cpu"), dtype=torch.float64, device="cpu")
    p = problem.init([0], solver.init_scales([cfg]))
    assert float(p["W1"].std()) == pytest.approx(0.1, rel=0.05)  # Fig. 9d: W2, W1 ~ 0.1 N(0,1), H1 ~ 0.2 N(0,1)
    assert float(p["H1"].std()) == pytest.approx(0.2, rel=0.05)
    assert Config(model="plain").weight_scale == 1.0 and Config(model="extended").weight_scale == 0.1
    assert Config(model="extended", init_scale=0.3).feature_scale == 0.3


def test_public_layout_roundtrip():
    configs, problem, params = make(dict(bias="unregularized"))
    public = solver.to_public(params)
    assert public["H"].shape == (3, 12, 5) and public["b"].shape == (3, 3)  # sample-major H (N, d), b (K,)
    back = torch_loop.from_public(public)
    for name in params:
        assert torch.equal(back[name], params[name])
