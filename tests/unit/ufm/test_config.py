"""`ufm.Config` validation: every impossible value is refused with one sentence naming it."""

import dataclasses
import re

import pytest

from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.ufm import Config
from deepcollapse.ufm.batched import from_mapping as config_and_sweep


def test_defaults_are_the_papers_and_resolve_per_model():
    c = Config()
    assert (c.K, c.n, c.d, c.lambda_W, c.lr, c.iters, c.log_every) == (4, 50, 20, 5e-3, 0.1, 100_000, 5000)
    assert c.resolved()["init_scale"] == 1.0 and c.resolved()["init_scale_features"] == 1.0
    e = Config(model="extended", init_scale_features=0.2)
    assert e.resolved()["init_scale"] == 0.1 and e.resolved()["init_scale_features"] == 0.2
    assert from_mapping(Config, Config(model="extended").resolved()) == Config(model="extended", init_scale=0.1, init_scale_features=0.1)


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"K": 1}, "K must be an integer >= 2, got 1"),
        ({"n": 0}, "n must be a positive integer"),
        ({"lambda_W": -0.1}, "lambda_W must be a non-negative number"),
        ({"model": "extended", "lambda_H1": -1e-3}, "lambda_H1 must be a non-negative"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"lr": 500.0}, "GD needs lr*lambda_W < 2"),
        ({"bias": "regularized", "lambda_b": 0.5, "lr": 1.5}, "lr*(1+lambda_b) < 2"),
        ({"bias": "unregularized", "lr": 2.0}, "lr*(1+lambda_b) < 2"),
        ({"bias": "regularized"}, "needs lambda_b > 0"),
        ({"bias": "unregularized", "lambda_b": 0.1}, "needs bias 'regularized'"),
        ({"model": "extended", "d": 30}, "d=30 only applies to the plain and deep models"),
        ({"model": "extended", "bias": "unregularized"}, "only applies to the plain model"),
        ({"d1": 30}, "d1=30 only applies to the extended model"),
        ({"activation": "relu"}, "only applies to the extended and deep models"),
        ({"model": "deep", "depth": 2, "bias": "unregularized"}, "bias='unregularized' only applies to the plain model"),
        ({"model": "deep", "lambda_H1": 0.1, "depth": 2}, "lambda_H1=0.1 only applies to the extended model"),
        ({"model": "deep"}, "model 'deep' needs depth"),
        ({"model": "deep", "depth": 0}, "depth must be an integer >= 1 and <= 16, got 0"),
        ({"model": "deep", "depth": 3, "d": [8, 8]}, "d must be a positive integer, or a list of one per layer (depth 3), got (8, 8)"),
        ({"model": "deep", "depth": 2, "lambda_W": [0.1, -0.1]}, "lambda_W must be a non-negative number, or a list of one per layer"),
        ({"model": "deep", "depth": 2, "lambda_W": [0.1, 30.0]}, "GD needs lr*lambda_W2 < 2"),
        ({"d": [20]}, "d must be a single value for model 'plain'"),
        ({"reinit_dead": True}, "reinit_dead only applies to models with a ReLU level"),
        ({"model": "extended", "reinit_dead": True}, "reinit_dead only applies to models with a ReLU level"),
        ({"init_scale": 0.0}, "init_scale must be a positive number"),
        ({"device": "gpu"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
        ({"iters": -1}, "iters must be a positive integer"),
        ({"iters": 0}, "iters must be a positive integer, got 0"),
        ({"lr": float("nan")}, "lr must be a positive number, got nan"),
        ({"lr": float("inf")}, "lr must be a positive number, got inf"),
        ({"lr": -0.1}, "lr must be a positive number, got -0.1"),
    ],
)
def test_impossible_values_are_refused(fields, fragment):
    with pytest.raises(InputError, match=re.escape(fragment)) as err:
        from_mapping(Config, fields, source="exp.yaml")
    assert str(err.value).startswith("exp.yaml") and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"bias": "regularised"}, "bias='regularised' is not one of 'none', 'unregularized', 'regularized'"),
        ({"model": "Extended"}, "model='Extended' is not one of"),
        ({"loss": "hinge"}, "loss='hinge' is not one of"),
        ({"K": 2.5}, "K must be an integer"),
        ({"iters": 10.5}, "iters must be a positive integer, got 10.5"),
        ({"seed": True}, "seed must be a non-negative integer, got True"),
        ({"lambda_W": "0.1"}, "lambda_W must be a non-negative number, got '0.1'"),
        ({"model": "Deep"}, "model='Deep' is not one of 'plain', 'extended', 'deep'"),
        ({"init_scale": "big"}, "init_scale must be a positive number or null, got 'big'"),
        ({"device": 0}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got 0"),
    ],
)
def test_direct_construction_checks_types_and_choices(fields, fragment):
    """`ufm.Config(...)` in Python is validated like a YAML mapping (DESIGN: the Config is validated)."""
    with pytest.raises(InputError, match=re.escape(fragment)) as err:
        Config(**fields)
    assert "\n" not in str(err.value)


def test_direct_construction_accepts_numpy_scalars_and_none():
    import numpy as np

    c = Config(K=np.int64(3), lambda_W=np.float64(0.01), lambda_H=1, init_scale=None)
    assert c.K == 3 and c.weight_scale == 1.0


def test_stable_step_sizes_are_accepted():
    Config(bias="unregularized", lr=1.9)  # (1 + 0) * 1.9 < 2
    Config(bias="regularized", lambda_b=10.0, lr=0.1)  # docs/math.md#ufm-regularized-bias table reaches λ_b = 10
    Config(loss="ce", bias="regularized", lambda_b=2.0, lr=0.9)  # CE's bias block is at most (1/2 + λ_b)


@pytest.mark.parametrize(
    "mapping, fragment",
    [
        ({"KK": 3}, "unknown key 'KK'"),
        ({"K": "four"}, "expected an integer"),
        ({"loss": "hinge"}, "'hinge' is not one of"),
        ({"sweep": {"K": [3, 4]}}, "cannot sweep 'K'"),
        ({"bias": "regularized", "sweep": {"lambda_b": [0.5, -1.0]}}, "sweep point"),
    ],
)
def test_mapping_errors(mapping, fragment):
    with pytest.raises(InputError, match=fragment):
        base, sweep = config_and_sweep(mapping, source="exp.yaml")
        from deepcollapse.ufm.batched import configs_of

        configs_of(base, sweep)


def test_sweep_fields_need_not_be_in_the_base():
    base, sweep = config_and_sweep({"bias": "regularized", "sweep": {"lambda_b": [0.5, 1.0]}})
    assert base.lambda_b == 0.5 and sweep.shape == (2,)


def test_deep_config_accepts_a_number_or_a_list_per_layer():
    c = Config(model="deep", depth=3, d=[6, 7, 8], lambda_W=[0.01, 0.02, 0.03], lambda_H=0.004)
    assert c.d == (6, 7, 8) and c.lambdas() == {"lambda_W1": 0.01, "lambda_W2": 0.02, "lambda_W3": 0.03, "lambda_H": 0.004}
    assert c.weight_scale == 0.3 and c.label == "deep UFM (L=3), MSE, linear"
    same = from_mapping(Config, {"model": "deep", "depth": 3, "d": 8, "lambda_W": 0.02})
    assert same.lambdas()["lambda_W3"] == 0.02
    # the stored (resolved) config rebuilds the same Config, lists included
    assert from_mapping(Config, c.resolved()) == dataclasses.replace(c, init_scale=0.3, init_scale_features=0.3)
    Config(model="deep", depth=2, activation="relu", reinit_dead=True)
