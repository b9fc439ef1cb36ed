"""A tiny digits run end to end: train -> features store -> metrics dataset, read back by xarray."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from deepcollapse import rundir
from deepcollapse import metrics
from deepcollapse.cli import main
from deepcollapse.nets.features import ALIASES, LAYERS

# cross-entropy with a classifier bias (the paper's CE setting), 200 training digits
TINY_CE = {
    "dataset": "digits", "train_per_class": 20, "test_per_class": 8, "width": 0.125, "batch_size": 32,
    "epochs": 3, "checkpoints": [0, 2], "loss": "ce", "bias": True, "device": "cpu", "threads": 1, "seed": 3,
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("e2e")
    paths = {"run": root / "run", "features": root / "features.zarr", "metrics": root / "metrics.zarr", "test_metrics": root / "test.zarr",
             "subset": root / "subset.zarr"}
    with pytest.MonkeyPatch.context() as mp:  # the pipeline pipes each run's config as JSON
        mp.setattr("sys.stdin", io.StringIO(json.dumps(TINY_CE)))
        assert main(["train", "--config", "-", "--out", str(paths["run"]), "--no-progress"]) == 0
    assert main(["features", "--run", str(paths["run"]), "--out", str(paths["features"]), "--test", "--maps-per-class", "2", "--batch-size", "64", "--no-progress"]) == 0
    assert main(["metrics", "--features", str(paths["features"]), "--out", str(paths["metrics"]), "--no-progress"]) == 0
    assert main(["metrics", "--features", str(paths["features"]), "--out", str(paths["test_metrics"]), "--split", "test", "--no-progress"]) == 0
    # the test split subsampled by the features setting (no retraining), with an explicit thread count
    assert main(["features", "--run", str(paths["run"]), "--out", str(paths["subset"]), "--test", "--test-per-class", "3",
                 "--threads", "1", "--no-progress"]) == 0
    return paths


def test_features_store_layout(pipeline):
    ds = xr.open_zarr(pipeline["features"])
    assert list(ds.epoch.values) == [0, 2, 3]
    assert ds.sizes["sample"] == 200 and ds.sizes["test_sample"] == 80 and ds.sizes["map_sample"] == 20
    widths = {"stage1": 8, "stage2": 16, "stage3": 32, "penultimate": 64}
    # each layer stored once: the last stage's pooled output is `penultimate` only (its alias says so)
    assert ds.attrs["layers"] == list(widths) and ds.attrs["aliases"] == {"stage4": "penultimate"}
    assert "stage4" not in ds and "test_stage4" not in ds and "stage4_map" in ds
    for layer, width in widths.items():
        assert ds[layer].dims == ("epoch", "sample", f"{layer}_channel" if layer != "penultimate" else "penultimate_dim")
        assert ds[layer].shape == (3, 200, width) and ds[layer].dtype == np.float32
        assert ds[f"test_{layer}"].shape == (3, 80, width)
    assert ds["stage1_map"].shape == (3, 20, 8, 8, 8)
    assert ds["W"].shape == (3, 10, 64) and ds["b"].shape == (3, 10)
    np.testing.assert_array_equal(np.bincount(ds["label"].values), [20] * 10)
    # the penultimate features are the pooled stage4 output (ResNet18's global average pool)
    rows = ds["map_sample_index"].values
    np.testing.assert_allclose(ds["stage4_map"].values.mean(axis=(3, 4)), ds["penultimate"].values[:, rows], rtol=1e-5, atol=1e-6)
    # the stored accuracy is the classifier's on the stored features
    H, W, b, y = ds["penultimate"].values, ds["W"].values, ds["b"].values, ds["label"].values
    for e in range(3):
        predicted = np.argmax(H[e] @ W[e].T + b[e], axis=1)
        assert abs(np.mean(predicted == y) - float(ds["accuracy"][e])) <= 1 / len(y)
    # unpooled maps are those of the selected samples: pooling them gives the pooled features
    rows = ds["map_sample_index"].values
    np.testing.assert_allclose(ds["stage2_map"].values.mean(axis=(3, 4)), ds["stage2"].values[:, rows], rtol=1e-5, atol=1e-6)
    assert ds.attrs["classifier_bias"] is True and ds.attrs["run"]["config"]["loss"] == "ce"
    # No "the stored accuracy rises" check: features are extracted in eval mode, and after 21 SGD
    # steps BatchNorm's running statistics are far from the batch statistics training used (measured:
    # training loss 1.08, accuracy 0.65; eval-mode features loss 58, accuracy 0.13 = chance).


def test_features_are_the_eval_mode_stage_outputs_of_each_checkpoint(pipeline):
    """Recomputed independently of `ResNet18.features`: the stem and the four stages chained by
    hand, in eval mode (BatchNorm running statistics), on the normalised training images."""
    import torch

    from deepcollapse.config import from_mapping
    from deepcollapse.nets import checkpoint
    from deepcollapse.nets.config import TrainConfig
    from deepcollapse.nets.runtime import Normalizer, build_model, load_data

    ds = xr.open_zarr(pipeline["features"])
    meta = json.loads(rundir.meta_path(pipeline["run"]).read_text())
    config = from_mapping(TrainConfig, meta["config"])
    data = load_data(config)
    np.testing.assert_array_equal(ds["label"].values, data.labels["train"])
    norm = meta["data"]["normalization"]
    x = Normalizer(tuple(norm["mean"]), tuple(norm["std"])).on(torch.device("cpu"))(torch.from_numpy(data.images["train"]))
    model = build_model(config, num_classes=10, in_channels=1)
    for e, epoch in enumerate(ds.epoch.values):
        state = checkpoint.load(checkpoint.epoch_path(pipeline["run"], int(epoch)))
        model.load_state_dict(state["model"])
        pooled = {}
        for mode in ("eval", "train"):
            getattr(model, mode)()
            with torch.no_grad():
                h = model.stem(x)
                for name in ("stage1", "stage2", "stage3", "stage4"):
                    h = getattr(model, name)(h)
                    pooled[mode, name] = h.mean(dim=(2, 3)).numpy()
        for name in ("stage1", "stage2", "stage3", "stage4"):
            stored = ds[ALIASES.get(name, name)].values[e]  # stage4's pooled output is stored as `penultimate`
            np.testing.assert_allclose(stored, pooled["eval", name], rtol=1e-5, atol=1e-5, err_msg=f"{name} epoch {epoch}")
            # not train mode: batch statistics give other features (so the check above can fail)
            assert np.abs(stored - pooled["train", name]).max() > 1e-2, (name, epoch)
        # the classifier stored for this epoch is this checkpoint's
        np.testing.assert_array_equal(ds["W"].values[e], state["model"]["fc.weight"].numpy())
        np.testing.assert_array_equal(ds["b"].values[e], state["model"]["fc.bias"].numpy())


def test_store_is_sharded_one_file_per_epoch_and_variable(pipeline):
    def data_files(name: str) -> list[Path]:
        return [p for p in (pipeline["features"] / name).rglob("*") if p.is_file() and p.name != "zarr.json"]

    for name in ("stage3", "penultimate", "test_stage1", "stage2_map"):
        assert len(data_files(name)) == 3, name  # one shard per epoch
    for name in ("W", "b", "loss", "accuracy", "test_loss", "test_accuracy", "epoch"):
        assert len(data_files(name)) == 1, name  # small per-epoch variables: one shard for all epochs


def test_metrics_equal_metrics_nc_on_the_loaded_arrays(pipeline):
    feats = xr.open_zarr(pipeline["features"])
    m = xr.open_zarr(pipeline["metrics"])
    assert m.NC1.dims == ("epoch", "layer")
    assert list(m.layer.values) == [*LAYERS, "stage1_map", "stage2_map", "stage3_map", "stage4_map"]
    assert set(metrics.KEYS) <= set(m.data_vars) and {"loss", "accuracy", "test_loss", "test_accuracy"} <= set(m.data_vars)
    y = feats["label"].values
    for e in range(feats.sizes["epoch"]):
        for layer in LAYERS:
            H = feats[layer].values[e]
            classifier = layer == "penultimate"
            expected = metrics.nc(H, y, W=feats["W"].values[e] if classifier else None, b=feats["b"].values[e] if classifier else None, K=10)
            for key in metrics.KEYS:
                got = float(m[key].sel(layer=layer).values[e])
                if key in expected:
                    assert got == pytest.approx(expected[key], rel=1e-10, abs=1e-12), (e, layer, key)
                else:
                    assert math.isnan(got), (e, layer, key)  # classifier keys only where it applies
        maps = feats["stage3_map"].values[e].reshape(20, -1)
        expected = metrics.nc(maps, feats["map_label"].values, K=10)
        assert float(m["NC1"].sel(layer="stage3_map").values[e]) == pytest.approx(expected["NC1"], rel=1e-10)
    np.testing.assert_array_equal(m["accuracy"].values, feats["accuracy"].values)
    assert "provenance" in m.attrs and m.attrs["split"] == "train"


def test_test_split_metrics(pipeline):
    feats = xr.open_zarr(pipeline["features"])
    m = xr.open_zarr(pipeline["test_metrics"])
    assert list(m.layer.values) == list(LAYERS)
    expected = metrics.nc(feats["test_stage2"].values[1], feats["test_label"].values, K=10)
    assert float(m["NC1"].sel(layer="stage2").values[1]) == pytest.approx(expected["NC1"], rel=1e-10)


def test_test_split_subsampled_by_the_features_setting(pipeline):
    """--test-per-class: a balanced subset of the run's own test split, drawn with the run's seed;
    the training split, the classifier and every test feature of a kept sample are as before."""
    full, sub = xr.open_zarr(pipeline["features"]), xr.open_zarr(pipeline["subset"])
    assert sub.sizes["test_sample"] == 30 and sub.sizes["sample"] == full.sizes["sample"]
    np.testing.assert_array_equal(np.bincount(sub["test_label"].values), [3] * 10)
    rows = [int(np.flatnonzero(full["test_sample_index"].values == i)[0]) for i in sub["test_sample_index"].values]
    np.testing.assert_array_equal(sub["test_label"].values, full["test_label"].values[rows])
    for layer in LAYERS:
        np.testing.assert_allclose(sub[f"test_{layer}"].values, full[f"test_{layer}"].values[:, rows], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sub["penultimate"].values, full["penultimate"].values)
    assert sub.attrs["provenance"]["params"]["test_per_class"] == 3


def test_features_log_a_line_per_checkpoint(pipeline, tmp_path, capsys):
    assert main(["features", "--run", str(pipeline["run"]), "--out", str(tmp_path / "f.zarr"), "--no-progress"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("features run:")]
    assert [line.split(" (")[0] for line in lines] == ["features run: checkpoint 1/3", "features run: checkpoint 2/3", "features run: checkpoint 3/3"]
    assert all("ETA" in line for line in lines) and lines[-1].endswith("ETA 0:00:00")


def test_bad_thread_counts_and_subsets_are_refused(pipeline, tmp_path, capsys):
    out = tmp_path / "f.zarr"
    for argv, says in [(["--threads", "-1"], "threads must be >= 0"), (["--test-per-class", "3"], "needs the test split"),
                       (["--test", "--test-per-class", "9"], "fewer than the 9 per class that test_per_class asks for")]:
        assert main(["features", "--run", str(pipeline["run"]), "--out", str(out), *argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, err
        assert not out.exists()
    assert main(["metrics", "--features", str(pipeline["features"]), "--out", str(tmp_path / "m.zarr"), "--threads", "-2"]) == 2
    assert "threads must be >= 0" in capsys.readouterr().err


def test_features_of_an_unfinished_run_is_refused(pipeline, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    rundir.meta_path(run).write_text(rundir.meta_path(pipeline["run"]).read_text())
    assert main(["features", "--run", str(run), "--out", str(tmp_path / "f.zarr")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training is not complete" in err
    assert not (tmp_path / "f.zarr").exists()
    assert main(["metrics", "--features", str(tmp_path / "missing.zarr"), "--out", str(tmp_path / "m.zarr")]) == 2
    assert not (tmp_path / "m.zarr").exists()
