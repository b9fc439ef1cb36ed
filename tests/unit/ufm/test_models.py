"""The model registry: plain and extended results are bitwise those of the code before it.

The reference is the package as of commit PRE_REGISTRY (the last commit before `ufm.models`),
extracted with `git archive` and run in a subprocess on this machine: the same configs must give
the same bytes for every GD value (objective, norms, final parameters); the NC metrics, computed
by `metrics`, agree to 1e-9 relative (their formulas are tested there).  The new tree runs its torch
loop (`backend="torch"`, the old tree's only one): the compiled CPU kernel agrees with it to
rounding, not bit for bit (tests/unit/ufm/test_kernel.py).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepcollapse.ufm import Config, models, solver
from tests.support import ROOT

PRE_REGISTRY = "935f1f1"
METRICS_ADDED_SINCE = ("GM_RATIO_",)  # record names are f"{metric key}_{level}"

CONFIGS = [
    dict(model="plain", K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.05, iters=700, log_every=300, log_spaced=5),
    dict(model="plain", bias="unregularized", K=3, n=4, d=5, iters=700, log_every=300),
    dict(model="plain", bias="regularized", lambda_b=0.5, loss="ce", K=4, n=3, d=6, iters=700, log_every=300),
    dict(model="extended", K=3, n=4, d1=5, d2=6, lambda_W1=0.02, lambda_W2=0.03, lambda_H1=0.01, init_scale=0.3, iters=700, log_every=300),
    dict(model="extended", activation="relu", K=4, n=5, d1=7, d2=6, init_scale=0.3, init_scale_features=0.2, iters=700, log_every=300),
    dict(model="extended", activation="relu", loss="ce", K=3, n=4, d1=5, d2=5, iters=700, log_every=350, seed=3),
]

SCRIPT = r"""
import inspect, json, sys
import numpy as np
from deepcollapse.ufm import Config, solver
torch_loop = {"backend": "torch"} if "backend" in inspect.signature(solver.run).parameters else {}
for metrics in MODES:  # every mode in one process: the imports (torch) are most of its cost
    out = {}
    for i, fields in enumerate(json.loads(sys.argv[1])):
        trajectory = solver.run([Config(**fields)], metrics=metrics, **torch_loop)
        for name, value in trajectory.records.items():
            out[f"{i}:{name}"] = value
        for name, value in solver.to_public(trajectory.params).items():
            out[f"{i}:param:{name}"] = value
    np.savez(f"{sys.argv[2]}-{metrics}.npz", **out)
"""
MODES = ("reference", "batched")


def _run(src: Path, folder: Path) -> dict[str, dict[str, np.ndarray]]:
    """metrics mode -> the records and final parameters of every config, by the package under `src`."""
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(folder)}
    script = f"MODES = {MODES!r}\n" + SCRIPT
    subprocess.run([sys.executable, "-c", script, json.dumps(CONFIGS), str(folder / "runs")], check=True, env=env, cwd=folder)
    out = {}
    for metrics in MODES:
        with np.load(folder / f"runs-{metrics}.npz") as data:
            out[metrics] = dict(data)
    return out


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory):
    where = tmp_path_factory.mktemp("pre_registry")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PRE_REGISTRY, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    new = tmp_path_factory.mktemp("this_tree")
    return _run(where / "src", where), _run(ROOT / "src", new)


@pytest.mark.parametrize("metrics", MODES)
def test_plain_and_extended_are_bitwise_unchanged(old_and_new, metrics):
    old, new = old_and_new[0][metrics], old_and_new[1][metrics]
    # metric keys registered since (metrics.table) add records; nothing else may appear or vanish
    added = {k for k in set(new) - set(old) if k.split(":")[1].startswith(METRICS_ADDED_SINCE)}
    assert set(old) == set(new) - added
    for key in old:
        if key.split(":")[1].startswith("NC"):
            # the NC formulas live in `metrics` (their own tests); summation order may change there
            np.testing.assert_allclose(new[key], old[key], rtol=1e-9, atol=1e-14, err_msg=key)
        else:  # gradient descent itself: objective, gradient and parameter norms, final parameters
            np.testing.assert_array_equal(new[key], old[key], err_msg=key)  # bit for bit (NaN == NaN)


def test_deep_depths_one_and_two_are_the_plain_and_extended_models():
    """Shared code: deep L=1 is the bias-free plain UFM, L=2 the extended UFM (same draws, same bytes)."""
    plain = Config(model="plain", K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.02, init_scale=0.7, iters=500, log_every=250)
    deep1 = Config(model="deep", depth=1, K=3, n=4, d=5, lambda_W=0.05, lambda_H=0.02, init_scale=0.7, iters=500, log_every=250)
    a, b = solver.run([plain], metrics="batched"), solver.run([deep1], metrics="batched")
    np.testing.assert_array_equal(a.records["objective"], b.records["objective"])
    np.testing.assert_array_equal(a.params["H"], b.params["H1"])
    np.testing.assert_array_equal(a.records["NC2_OF_H"], b.records["NC2_OF_H1"])
    ext = Config(model="extended", activation="relu", K=3, n=4, d1=5, d2=6, lambda_W1=0.01, lambda_W2=0.03, lambda_H1=0.02, iters=500, log_every=250)
    deep2 = Config(model="deep", depth=2, activation="relu", K=3, n=4, d=[5, 6], lambda_W=[0.01, 0.03], lambda_H=0.02, init_scale=0.1, iters=500, log_every=250)
    a, b = solver.run([ext], metrics="batched"), solver.run([deep2], metrics="batched")
    np.testing.assert_array_equal(a.records["objective"], b.records["objective"])
    for name in ("W2", "W1", "H1"):
        np.testing.assert_array_equal(a.params[name], b.params[name])
    np.testing.assert_array_equal(a.records["NC1_Z"], b.records["NC1_Z2"])


def test_registry_describes_every_model():
    assert models.names() == ("plain", "extended", "deep")
    deep = Config(model="deep", depth=3, K=3, d=[4, 5, 6], activation="relu")
    model = models.of(deep)
    assert model.param_shapes(deep) == {"W3": (3, 6), "W2": (6, 5), "W1": (5, 4), "H1": (4, 150)}
    assert model.param_dims(deep)["W2"] == ("feature3", "feature2") and model.param_dims(deep)["H1"] == ("sample", "feature1")
    assert model.level_names(deep) == ("H1", "Z2", "H2", "Z3", "H3")
    assert model.relu_levels(deep) == ("H2", "H3")
    assert model.work(deep) == (5 * 4 + 6 * 5 + 3 * 6) * deep.N * 3
    assert model.describe_constraints()["depth"] == "an integer >= 1 and <= 16"
    ext = Config(model="extended", activation="relu")
    assert models.of(ext).level_names(ext) == ("H1", "Z", "H2")
    assert models.of(Config()).level_names(Config()) == ("H",)
    # every model field is declared by some model, and the common fields by none
    assert models.model_fields() == {"bias", "d", "lambda_W", "lambda_H", "lambda_b", "activation", "d1", "d2",
                                     "lambda_W1", "lambda_W2", "lambda_H1", "depth"}
