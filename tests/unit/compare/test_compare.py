"""The network-vs-extended-UFM comparison (`deepcollapse.compare`) on synthetic trajectories
whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from deepcollapse import frames
from deepcollapse.compare import (
    RATE_TIE,
    TOLERANCES,
    Agreement,
    LevelTrajectories,
    collapse_rate,
    common_grid,
    compare,
    depth_ordering,
    faster,
    kendall_tau,
    on_grid,
    spearman,
    structure,
    verdict,
)
from deepcollapse.errors import InputError
from tests.support import ROOT

NET_LEVELS = ("stage1", "stage2", "stage3", "penultimate")


def _model(name, time, levels, nc1_rates, *, of_final=None, etf_final=None, nc1_start=1.0, K=4):
    """Trajectories with NC1 = start * 10^(rate * fraction) per level and NC2 decaying linearly
    in the fraction of training from 1 to the given final values."""
    time = np.asarray(time, dtype=float)
    frac = time / time[-1]
    nc1 = np.stack([nc1_start * 10.0 ** (rate * frac) for rate in nc1_rates], axis=1)
    of_final = of_final or [0.9] * len(levels)
    etf_final = etf_final or [0.9] * len(levels)
    of = np.stack([1 + (f - 1) * frac for f in of_final], axis=1)
    etf = np.stack([1 + (f - 1) * frac for f in etf_final], axis=1)
    return LevelTrajectories(name, time, levels, {"NC1": nc1, "NC2_OF": of, "NC2_ETF": etf}, K=K)


def test_spearman_of_a_curve_with_itself_and_its_reverse():
    rng = np.random.default_rng(0)
    a = rng.normal(size=50)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    # invariant under a strictly increasing transform (a rank statistic)
    assert spearman(a, np.exp(3 * a) + 7) == pytest.approx(1.0)
    assert np.isnan(spearman(a, np.ones_like(a)))


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    a = np.array([1, 2, 2, 3, 5, 5, 5, 8, 1, 0], dtype=float)
    b = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3], dtype=float)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_kendall_tau_orderings():
    assert kendall_tau([0, 1, 2, 3], [4, 3, 2, 1]) == -1.0
    assert kendall_tau([0, 1, 2, 3], [1, 2, 3, 4]) == 1.0
    # one concordant pair (the last two) and five discordant ones out of 6
    assert kendall_tau([0, 1, 2, 3], [4, 3, 1, 2]) == pytest.approx(-4 / 6)


def _final(of, etf, *, K, norm=None):
    values = {"NC1": np.zeros((2, 1)), "NC2_OF": np.full((2, 1), of), "NC2_ETF": np.full((2, 1), etf)}
    if norm is not None:
        values["norm"] = np.full((2, 1), norm)
    return LevelTrajectories("m", np.arange(2), ("a",), values, K=K)


def test_structure_labels_are_the_pages_own():
    """One vocabulary: the comparison names a level as every page does (`frames.frame_of`, the
    thresholds of docs/math.md#structure-claims), against the model's own K."""
    etf10 = frames.etf_of_distance(10)
    assert f"{etf10:.4f}" == "0.3204"
    assert structure(_final(1e-4, 1e-4, K=4), "a") == frames.OF  # an OF also passes the ETF test: OF wins
    assert structure(_final(etf10, 1e-4, K=10), "a") == frames.ETF
    assert structure(_final(etf10, 1e-4, K=4), "a") == frames.NEITHER  # K = 4's ETF sits at 0.5176
    # the comparison's former threshold of 0.2 called these an OF and an ETF; the pages call them neither
    assert structure(_final(0.15, 0.5, K=10), "a") == frames.NEITHER
    assert structure(_final(0.5, 0.15, K=10), "a") == frames.NEITHER
    assert structure(_final(1e-4, 1e-4, K=4, norm=1e-12), "a") == frames.ZERO  # a vanished H has no frame
    with pytest.raises(InputError, match="number of classes"):
        structure(_final(1e-4, 1e-4, K=0), "a")


def test_a_tie_is_a_tie():
    assert faster([-15.8, -15.7]) is None  # 0.6% apart: neither level collapses faster
    assert faster([-15.8, -3.0]) == 0 and faster([-3.0, -15.8]) == 1
    assert faster([-10.0, -10.0 * (1 - RATE_TIE) + 1e-9]) == 0  # just beyond the tolerance: an order
    rates = lambda net, ufm: Agreement("n", "u", 0.0, 0.0, (), (("p", "H2", net[0], ufm[0]), ("s", "H1", net[1], ufm[1])), ())
    assert rates((-15.8, -15.7), (-15.7, -15.8)).rate_distance == 0  # both ties: they agree
    assert rates((-15.8, -15.7), (-15.8, -3.0)).rate_distance == 1
    # a verdict criterion whose two distances differ by less than its tolerance is a tie
    net = _model("net", np.arange(11), NET_LEVELS, [-1, -2, -3, -4])
    a = compare(net, _model("a", np.arange(11), ("H1", "H2"), [-3, -4]), network_levels=NET_LEVELS)
    nudged = Agreement(**{**a.__dict__, "similarity": tuple((n, u, k, rho - TOLERANCES["similarity"] / 2) for n, u, k, rho in a.similarity)})
    v = verdict({"ReLU": a, "linear": nudged})
    assert v.per_criterion["similarity"] == "tie" and v.closer_to == "undecided"
    further = Agreement(**{**a.__dict__, "similarity": tuple((n, u, k, rho - 2 * TOLERANCES["similarity"]) for n, u, k, rho in a.similarity)})
    assert verdict({"ReLU": a, "linear": further}).per_criterion["similarity"] == "ReLU"


def test_collapse_rate_recovers_the_slope():
    frac = np.linspace(0, 1, 20)
    assert collapse_rate(frac, 10.0 ** (-3.5 * frac + 1)) == pytest.approx(-3.5)
    # an exact 0 is floored, not -inf
    assert np.isfinite(collapse_rate(frac, np.where(frac > 0.5, 0.0, 1.0)))


def test_on_grid_is_exact_on_a_power_law():
    # interpolation is linear in log10(fraction) -> exact for a power law of the fraction
    time = np.arange(0, 101, dtype=float)
    nc1 = np.maximum(time / 100, 1e-3)[:, None] ** 2
    model = LevelTrajectories("m", time, ("a",), {"NC1": nc1}, K=3)
    grid = common_grid(model, points=16)
    assert grid[0] == pytest.approx(0.01) and grid[-1] == 1.0
    assert np.allclose(on_grid(model, "NC1", "a", grid), 2 * np.log10(grid), atol=1e-12)


def test_reversed_depth_ordering_is_detected():
    falls = _model("falls", np.arange(11), NET_LEVELS, [-1, -2, -3, -4])
    rises = _model("rises", np.arange(11), NET_LEVELS, [-4, -3, -2, -1])
    assert depth_ordering(falls) == -1.0
    assert depth_ordering(rises) == 1.0


def test_a_network_compared_with_itself_agrees_perfectly():
    net = _model("net", [0, 1, 2, 5, 10, 20, 40], NET_LEVELS, [-1, -1.5, -2, -3], of_final=[0.9, 0.9, 0.5, 1e-4])
    same = LevelTrajectories("ufm", net.time * 1000, ("H1", "H2"), {k: v[:, [2, 3]] for k, v in net.values.items()}, K=4)
    agreement = compare(net, same, network_levels=NET_LEVELS[2:])
    assert agreement.ordering_distance == 0
    assert agreement.structure_distance == 0
    assert agreement.rate_distance == 0
    assert agreement.mean_similarity == pytest.approx(1.0)
    assert [s[2:] for s in agreement.structures] == [(frames.OF, frames.OF), (frames.NEITHER, frames.NEITHER)]
    # the time unit does not matter, only the fraction of training
    assert [r[2] for r in agreement.rates] == pytest.approx([r[3] for r in agreement.rates])


def test_verdict_picks_the_model_that_matches_on_every_criterion():
    # network: NC1 falls with depth, deepest collapses fastest, only the deepest level reaches OF
    time = [0, 1, 2, 4, 8, 16, 32, 64]
    net = _model("net", time, NET_LEVELS, [-0.5, -1, -2, -4], of_final=[0.95, 0.9, 0.8, 1e-4])
    relu_like = _model("relu", np.arange(0, 1001, 50), ("H1", "Z", "H2"), [-2, -3, -5], of_final=[0.7, 0.5, 1e-4])
    # linear-like: both levels OF, the shallower collapsing faster, and NC1 rising with depth
    # (decreasing NC2 curves but with an increasing NC1 at H2: rank correlation -1 on NC1)
    lin = _model("linear", np.arange(0, 1001, 50), ("H1", "H2"), [-5, 2], of_final=[1e-4, 1e-4])
    relu_agreement = compare(net, relu_like, network_levels=NET_LEVELS)
    lin_agreement = compare(net, lin, network_levels=NET_LEVELS)
    assert relu_agreement.structure_distance == 0 and lin_agreement.structure_distance == 1
    assert relu_agreement.rate_distance == 0 and lin_agreement.rate_distance == 1
    assert relu_agreement.ordering_distance == 0 and lin_agreement.ordering_distance == 2
    assert relu_agreement.mean_similarity > lin_agreement.mean_similarity
    v = verdict({"ReLU": relu_agreement, "linear": lin_agreement})
    assert v.closer_to == "ReLU" and v.wins == {"ReLU": 4, "linear": 0}
    # and swapping the labels swaps the answer: the rule is computed, not written
    v = verdict({"ReLU": lin_agreement, "linear": relu_agreement})
    assert v.closer_to == "linear"


def test_equal_agreement_is_undecided():
    net = _model("net", np.arange(11), NET_LEVELS, [-1, -2, -3, -4])
    a = compare(net, _model("a", np.arange(11), ("H1", "H2"), [-3, -4]), network_levels=NET_LEVELS)
    v = verdict({"ReLU": a, "linear": a})
    assert v.closer_to == "undecided" and set(v.per_criterion.values()) == {"tie"}


def test_bad_inputs_are_refused():
    with pytest.raises(InputError, match="increasing"):
        LevelTrajectories("x", np.array([0.0, 0.0, 1.0]), ("a",), {"NC1": np.ones((3, 1))}, K=3)
    with pytest.raises(InputError, match="shape"):
        LevelTrajectories("x", np.arange(3), ("a", "b"), {"NC1": np.ones((3, 1))})
    net = _model("net", np.arange(11), NET_LEVELS, [-1, -2, -3, -4])
    with pytest.raises(InputError, match="no level 'H2'"):
        compare(net, _model("u", np.arange(11), ("H1", "Z"), [-1, -2]))


def test_params_compare_names_one_relu_and_one_linear_extended_ufm_per_loss():
    # the comparison page needs, per compared loss, a single (not swept) ReLU and linear extended
    # UFM of that loss; the schema refuses an entry without both

    import jsonschema
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    experiments = params["ufm"]["experiments"]
    for loss, refs in params["networks"]["compare"].items():
        for kind, activation in (("relu", "relu"), ("linear", "linear")):
            ufm = experiments[refs[kind]]
            assert (ufm["model"], ufm["activation"], ufm["loss"]) == ("extended", activation, loss)
    from referencing import Registry, Resource

    schemas = ROOT / "workflow/schemas"  # networks.schema.yaml refers to the generated fields.schema.yaml
    registry = Registry().with_resources((p.name, Resource.from_contents(yaml.safe_load(p.read_text()))) for p in schemas.glob("*.yaml"))
    validator = jsonschema.Draft202012Validator(registry["networks.schema.yaml"].contents, registry=registry)
    assert list(validator.iter_errors(params["networks"])) == []
    params["networks"]["compare"]["mse"] = {"relu": "fig9d"}
    assert any("linear" in e.message for e in validator.iter_errors(params["networks"]))


def test_ordering_uses_the_time_average_when_final_values_tie():
    # both levels end at the floor (a converged UFM): the final values tie, the history does not
    time = np.arange(0, 101, dtype=float)
    shallow = np.maximum(10.0 ** (-0.2 * time), 1e-14)
    deep = np.maximum(10.0 ** (-0.4 * time), 1e-14)
    ufm = LevelTrajectories("u", time, ("H1", "H2"), {"NC1": np.stack([shallow, deep], axis=1)})
    assert np.isnan(depth_ordering(ufm)) or depth_ordering(ufm) == 0.0
    assert depth_ordering(ufm, grid=common_grid(ufm)) == -1.0


def test_report_loaders_read_a_ufm_run_and_a_metrics_dataset():
    import xarray as xr

    from deepcollapse.config import from_mapping
    from deepcollapse.reports import comparison
    from deepcollapse.ufm import Config, solve

    cfg = from_mapping(Config, {
        "model": "extended", "activation": "relu", "loss": "mse", "K": 3, "n": 4, "d1": 6, "d2": 6,
        "lambda_W1": 0.005, "lambda_W2": 0.005, "lambda_H1": 0.005, "lr": 0.1, "iters": 40, "log_every": 10, "seed": 0,
    })
    ds = solve(cfg)
    ufm = comparison.ufm_trajectories(ds, "tiny")
    assert ufm.levels == ("H1", "Z", "H2")
    assert np.array_equal(ufm.curve("NC2_OF", "Z"), ds["NC2_OF_Z"].values, equal_nan=True)
    assert np.array_equal(ufm.time, ds["iteration"].values)

    layers = ["stage1", "stage2", "stage3", "stage4", "penultimate"]
    epochs = np.array([0, 1, 2, 4])
    rng = np.random.default_rng(1)
    keys = ("NC1", "NC2_OF", "NC2_ETF", "NC3_OF", "NC3_ETF")
    metrics = xr.Dataset({k: (("epoch", "layer"), rng.uniform(0.1, 1, (4, 5))) for k in keys},
                         coords={"epoch": epochs, "layer": np.array(layers, dtype=object)})
    with pytest.raises(InputError, match="num_classes"):
        comparison.network_trajectories(metrics, "net")  # a structure cannot be named without K
    metrics.attrs["num_classes"] = 10
    net = comparison.network_trajectories(metrics, "net")
    # stage4 (= the penultimate features in ResNet18) is left out, the order is by depth
    assert net.levels == ("stage1", "stage2", "stage3", "penultimate")
    assert np.array_equal(net.curve("NC1", "penultimate"), metrics["NC1"].sel(layer="penultimate").values)
    agreements, result = comparison.compare_run(net, {"ReLU": ufm, "linear": ufm})
    assert result.closer_to == "undecided"
    assert len(comparison.criteria_rows("net", agreements, result)) == 4
    # the page says that the reference has another K, and (ReLU) how many samples it ends with dead
    assert ufm.K == 3 and net.K == 10 and set(ufm.dead) == {"H2"}  # the solver counts dead samples at H2
    (k_note,) = [n for n in comparison.reference_notes(net, {"ReLU": ufm}) if "classes" in n]
    assert "K = 3 classes, the network K = 10" in k_note and "0.3204 at K = 10" in k_note
    dead = LevelTrajectories("dead", ufm.time, ufm.levels, ufm.values, K=10, dead={"H2": 8})
    (dead_note,) = comparison.reference_notes(net, {"ReLU": dead})
    assert "8 dead training sample(s) at H2" in dead_note

    swept = ds.expand_dims(seed=[0, 1])
    with pytest.raises(InputError, match="sweep"):
        comparison.ufm_trajectories(swept, "sweep")
