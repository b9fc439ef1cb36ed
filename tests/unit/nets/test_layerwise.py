"""The class-mean logits of the metrics dataset (issue 21, GK25 Fig. 3): their singular values and
numerical rank at every checkpoint, against a float64 forward pass of the checkpoint's network, for
the plain classifier and a linear head of depth 3; and a head built to have rank r reports r."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from deepcollapse.config import from_mapping
from deepcollapse.metrics import core
from deepcollapse.nets import checkpoint
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.runtime import build_model, load_data
from tests.support.tiny_artifacts import TRAIN, build, cli, json_file

# a linear head of depth 3 and width 8 (< K = 10: the head's product has rank at most 8), MSE without bias
HEAD = {**TRAIN, "loss": "mse", "bias": False, "head_depth": 3, "head_width": 8}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    return build(tmp_path_factory.mktemp("shared"))


@pytest.fixture(scope="module")
def head_run(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("head")
    paths = {"run": root / "run", "features": root / "features.zarr", "metrics": root / "metrics.zarr"}
    assert cli(["train", "--config", json_file(root / "head.json", HEAD), "--out", paths["run"], "--no-progress"]) == 0
    assert cli(["features", "--run", paths["run"], "--out", paths["features"], "--no-progress"]) == 0
    assert cli(["metrics", "--features", paths["features"], "--out", paths["metrics"], "--no-progress"]) == 0
    return paths


def reference_logit_singular_values(run: Path, epoch: int) -> np.ndarray:
    """numpy float64: the checkpoint's network run in float64 on the run's training images, the
    logits averaged per class, their singular values (no use of the head's product or of the stores)."""
    meta = json.loads((run / "run.json").read_text())
    config = from_mapping(TrainConfig, meta["config"])
    data = load_data(config)
    images, labels = data.images["train"], data.labels["train"]
    model = build_model(config, num_classes=data.num_classes, in_channels=images.shape[1]).double().eval()
    model.load_state_dict(checkpoint.load(checkpoint.epoch_path(run, epoch))["model"])
    norm = meta["data"]["normalization"]
    mean, std = (np.asarray(norm[k], dtype=np.float64).reshape(1, -1, 1, 1) for k in ("mean", "std"))
    x = torch.from_numpy((images.astype(np.float64) / 255.0 - mean) / std)
    with torch.no_grad():
        logits = model(x).numpy()
    Z = np.stack([logits[labels == k].mean(axis=0) for k in range(data.num_classes)])
    return np.linalg.svd(Z, compute_uv=False)


@pytest.mark.parametrize("which", ["plain classifier (CE, bias)", "linear head of depth 3 (MSE)"])
def test_logit_singular_values_equal_a_float64_forward_pass(which, shared, head_run):
    run, metrics = (shared["run"], shared["metrics.zarr"]) if which.startswith("plain") else (head_run["run"], head_run["metrics"])
    ds = xr.open_zarr(metrics)
    assert ds.attrs["logits_rank_rtol"] == core.LOGITS_RANK_RTOL and "relative" in ds.attrs["logits_rank_rule"]
    assert ds["logits_singular_values"].dims == ("epoch", "logits_sv") and ds["logits_rank"].dtype == np.int64
    for e, epoch in enumerate(ds["epoch"].values):
        ref = reference_logit_singular_values(run, int(epoch))
        got = ds["logits_singular_values"].values[e]
        # the stores hold float32 features and weights: agreement to float32 rounding of the largest
        np.testing.assert_allclose(got, ref, rtol=0, atol=2e-5 * ref[0])
        assert int(ds["logits_rank"].values[e]) == int(np.sum(ref > core.LOGITS_RANK_RTOL * ref[0]))
    if which.endswith("(MSE)"):  # a head 8 wide: the product has rank 8 < K, and the metric sees it
        assert list(ds["logits_rank"].values) == [8, 8]


def test_a_head_built_with_rank_r_reports_r(head_run, tmp_path):
    """head.0.weight replaced by a rank-3 matrix in the checkpoint of epoch 1: the class-mean logits
    have rank 3 there (the features' class means have rank K = 10 > 3), rank 8 at epoch 0."""
    run = shutil.copytree(head_run["run"], tmp_path / "run")
    path = checkpoint.epoch_path(run, 1)
    state = checkpoint.load(path)
    W1 = state["model"]["head.0.weight"]
    g = torch.Generator().manual_seed(0)
    state["model"]["head.0.weight"] = (torch.randn(W1.shape[0], 3, generator=g) @ torch.randn(3, W1.shape[1], generator=g)).to(W1.dtype) / 3
    checkpoint.save(path, state)
    assert cli(["features", "--run", run, "--out", tmp_path / "f.zarr", "--no-progress"]) == 0
    assert cli(["metrics", "--features", tmp_path / "f.zarr", "--out", tmp_path / "m.zarr", "--no-progress"]) == 0
    ds = xr.open_zarr(tmp_path / "m.zarr")
    assert list(ds["logits_rank"].values) == [8, 3]
    sv = ds["logits_singular_values"].values[1]
    assert sv[2] > 1e-3 * sv[0] and sv[3] < 1e-6 * sv[0]  # a gap of at least three orders between rank and rounding
