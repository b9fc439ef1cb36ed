"""The networks page's helpers: run names with a variant, and the class-mean logits' rank (issue 21)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from deepcollapse.reports import network_plots


@pytest.mark.parametrize("name,parts", [
    ("fashion-mnist-mse", ("fashion-mnist", "mse", "")), ("mnist-ce", ("mnist", "ce", "")),
    ("mnist-ce-head3", ("mnist", "ce", "head3")), ("fashion-mnist-ce-head3", ("fashion-mnist", "ce", "head3")),
])
def test_run_names_with_and_without_a_variant(name, parts):
    assert network_plots.run_parts(name) == parts
    dataset, loss, variant = parts
    assert network_plots.split_run(name) == ((f"{dataset}-{variant}" if variant else dataset), loss)


def test_a_variant_is_grouped_apart_from_the_grid():
    runs = {"mnist-ce": 1, "mnist-mse": 2, "mnist-ce-head3": 3}
    assert network_plots.group_by_dataset(runs) == {"mnist": {"mse": 2, "ce": 1}, "mnist-head3": {"ce": 3}}


def _store(sv: np.ndarray, ranks: list[int], head_depth: int) -> xr.Dataset:
    return xr.Dataset(
        {"logits_singular_values": (("epoch", "logits_sv"), sv), "logits_rank": (("epoch",), np.array(ranks, dtype=np.int64))},
        coords={"epoch": [0, 5, 10], "logits_sv": np.arange(sv.shape[1])},
        attrs={"num_classes": sv.shape[1], "logits_rank_rtol": 1e-6, "features": {"head_depth": head_depth}},
    )


def test_logits_rows_and_sentences_report_the_rank_per_checkpoint_and_gk25s_absolute_count():
    # 4 classes; at epoch 10 the logits are tiny (largest 1e-5): rank 2 relative, 1 above an absolute 1e-6
    sv = np.array([[3.0, 2.0, 1.0, 0.5], [3.0, 1.0, 1e-8, 1e-9], [1e-5, 5e-7, 1e-13, 1e-14]])
    runs = {"mnist-ce-head3": _store(sv, [4, 2, 2], 3)}
    rows = network_plots.logits_rows(runs)
    assert [(r["epoch"], r["rank"], r["above 1e-6"], r["head_depth"]) for r in rows] == [(0, 4, 4, 3), (5, 2, 2, 3), (10, 2, 1, 3)]
    (sentence,) = network_plots.logits_sentences(runs)
    assert "rank 2 of 4 at epoch 10" in sentence and "1 above an absolute 1e-06" in sentence
    assert "rank 4 from epoch 0, 2 from epoch 5" in sentence and "a linear head of depth 3" in sentence
    fig = network_plots.logits_figure(runs)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 + 1 and ax.get_title() == "mnist-ce-head3: rank 4 → 2"  # sigma_2..4 / sigma_1, the threshold
    np.testing.assert_allclose(ax.lines[0].get_ydata(), sv[:, 1] / sv[:, 0])
