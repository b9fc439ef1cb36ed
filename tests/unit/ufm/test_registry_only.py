"""Model knowledge lives in the registry (`ufm.models`) only.

* No code outside `ufm/models/` compares a model name (`config.model == "plain"`, `model in (...)`):
  a branch like that is a second place to edit when a model is added.
* A model registered by this test alone — a stack of three layers under its own name (the models'
  registry: facts only), bound to the deep UFM's theory hooks (the theory's registry,
  `theory.THEORIES`) — is solved, compared with theory, tabulated by the agreement table and read
  by the report claims without any edit elsewhere, and gives exactly what the deep UFM of depth 3
  gives.
"""

import re

import numpy as np
import pytest

from deepcollapse.reports import claims
from deepcollapse.ufm import Config, agreement, models, solve, theory, theory_hooks
from deepcollapse.ufm.models.base import NONNEGATIVE, POSITIVE_INT
from deepcollapse.ufm.models.layered import Layers, LayeredModel
from tests.support import ROOT

SRC = ROOT / "src" / "deepcollapse"


def _branches(text: str, names: tuple[str, ...]) -> list[str]:
    quoted = "|".join(re.escape(n) for n in names)
    patterns = [
        rf"(==|!=)\s*[\"']({quoted})[\"']",  # x == "plain"
        rf"[\"']({quoted})[\"']\s*(==|!=)",  # "plain" == x
        r"(\.model|[(\[][\"']model[\"'][)\]])\s*(==|!=|\bnot in\b|\bin\b)",  # config.model == / .get("model") in (...)
        rf"[\"']({quoted})[\"']\s*(\bin\b|\bnot in\b)\s*\(?\s*\w*\.?model\b",  # "plain" in config.model
    ]
    return [m.group(0) for p in patterns for m in re.finditer(p, text)]


def test_the_guard_sees_a_branch():
    names = models.names()
    assert _branches('if config.model == "plain":', names)
    assert _branches("if 'extended' != cfg.model:", names)
    assert _branches('if row.get("model") == "extended":', names)
    assert _branches('if config.model in ("plain", "deep"):', names)
    assert _branches('if row["model"] not in ("deep",):', names)
    assert not _branches('stream="plain", distribution=noise', names)
    assert not _branches("for label, model in zip(labels, models):", names)


#: Lines that compare a model name but not of a config: the theory page explains an agreement
#: *file* written by older versions (whose extended-CE rows compared GD with the ETF), by its columns.
NOT_A_CONFIG = {
    ("reports/theory_table.py", 'row.get("model") == "extended" and row.get("loss") == "ce"'),
}


def test_no_model_name_branches_outside_the_registry():
    names = models.names()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if (SRC / "ufm" / "models") in path.parents:
            continue
        where = str(path.relative_to(SRC))
        for lineno, line in enumerate(path.read_text().splitlines(), start=1):
            if line.lstrip().startswith("#") or any(f == where and text in line for f, text in NOT_A_CONFIG):
                continue
            for hit in _branches(line, names):
                found.append(f"{path.relative_to(SRC)}:{lineno}: {hit}")
    assert not found, "model-name branches outside ufm/models/ (ask models.of(config) instead):\n" + "\n".join(found)


class ThreeLayers(LayeredModel):
    """A throwaway model: three weight layers of one width and one λ, no bias (the deep UFM, L = 3)."""

    name = "three-layers-test"
    fields = ("activation", "d", "lambda_W", "lambda_H")
    parameter_constraints = {"d": POSITIVE_INT, "lambda_W": NONNEGATIVE, "lambda_H": NONNEGATIVE}
    batchable = ("lambda_W", "lambda_H")
    default_init_scale = 0.3

    @classmethod
    def lambdas(cls, config):
        return {"lambda_W1": config.lambda_W, "lambda_W2": config.lambda_W, "lambda_W3": config.lambda_W, "lambda_H": config.lambda_H}

    @classmethod
    def layers(cls, config):
        return Layers(
            weights=("W3", "W2", "W1"),
            features="H1",
            widths=(config.d,) * 3,
            penalties={"W3": config.lambda_W, "W2": config.lambda_W, "W1": config.lambda_W, "H1": config.lambda_H},
            relu=config.activation == "relu",
            feature_levels=("H1", "H2", "H3"),
            preactivation_levels=("Z2", "Z3"),
            feature_dims=("feature1", "feature2", "feature3"),
        )


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(models._REGISTRY, ThreeLayers.name, ThreeLayers)
    monkeypatch.setitem(theory.THEORIES, ThreeLayers, theory.DeepTheory())
    return ThreeLayers.name


@pytest.mark.parametrize("activation", ["linear", "relu"])
def test_a_registered_model_needs_no_edit_elsewhere(registered, activation):
    fields = dict(activation=activation, K=3, n=4, d=6, lambda_W=0.01, lambda_H=0.02, iters=400, log_every=200)
    new, deep = Config(model=registered, **fields), Config(model="deep", depth=3, **fields)
    # theory: the hooks read the model's layer stack
    info, expected = theory.minimizer(new), theory.minimizer(deep)
    assert info["available"] == expected["available"]
    np.testing.assert_array_equal(info["objective"], expected["objective"])
    # gradient descent: same draws in the same order, same bytes
    ds_new, ds_deep = solve(new), solve(deep)
    assert ds_new.attrs["levels"] == ds_deep.attrs["levels"]
    np.testing.assert_array_equal(ds_new["objective"].values, ds_deep["objective"].values)
    # the agreement table: one row, with the deep model's theory, structure errors and identities
    (row,) = agreement.rows(ds_new, run="new")
    (ref,) = agreement.rows(ds_deep, run="new")
    assert row["model"] == registered and ref["model"] == "deep"
    assert row["depth"] == 3 and row["activation"] == activation and row["bias"] == ""
    assert row["reason"] == ref["reason"] and row["reason"] in agreement.REASONS
    for key, value in ref.items():
        if key != "model":
            assert key in row, key
            if isinstance(value, float):
                np.testing.assert_array_equal(row[key], value, err_msg=key)
            else:
                assert row[key] == value, key
    assert any(k.startswith("identity:") for k in row)
    if activation == "linear":  # the deep linear MSE closed form: predicted Gram matrices at every level
        assert {"structure:H1bar_gram", "structure:H3bar_gram"} <= set(row)
        realized = theory.realize(new, seed=0)
        assert set(realized) == set(ThreeLayers.param_shapes(new))
    # the report claims ask the model too
    assert claims.predicted_frames(new.resolved()) == claims.predicted_frames(deep.resolved())


def test_frame_names_are_the_reports_words():
    assert (theory_hooks.OF, theory_hooks.ETF, theory_hooks.NEITHER, theory_hooks.ZERO) == (claims.OF, claims.ETF, claims.NEITHER, claims.ZERO)


def test_a_model_without_theory_is_solved_and_tabulated_as_such(monkeypatch):
    """Registered in the models' registry only (no theory bound): GD runs, the theory side says it
    knows nothing, and the agreement table says "no closed form"."""
    monkeypatch.setitem(models._REGISTRY, ThreeLayers.name, ThreeLayers)
    config = Config(model=ThreeLayers.name, K=3, n=4, d=6, lambda_W=0.01, lambda_H=0.02, iters=200, log_every=100)
    assert theory.hooks(config) is theory.NO_THEORY and theory.minimizer(config)["available"] is False
    (row,) = agreement.rows(solve(config), run="bare")
    assert row["status"] == "no closed form" and row["reason"] == "no closed form"
