"""The cost estimate (`deepcollapse info --cost`) against what a real tiny run writes and keeps.

Tolerances, as docs/measurements.md states them: checkpoint files within 2 % (the weights are
exact; the fixed overhead per file is an allowance); the features store between 70 % and 100 % of
the estimate (the estimate is the size before zstd, an upper bound); the activations autograd keeps
for a batch within 15 % (BatchNorm's saved statistics and ReLU masks are not counted).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from deepcollapse import data
from deepcollapse.cli import main
from deepcollapse.config import from_mapping
from deepcollapse.data import registry
from deepcollapse.nets import checkpoint, extract_features, train
from deepcollapse.nets.config import TrainConfig
from deepcollapse.nets.cost import estimate
from deepcollapse.nets.runtime import build_model, loss_function

# 300 digits (30 per class), 100 test digits, width 1/8, batches of 32: 10 steps per epoch
TINY = {
    "dataset": "digits", "train_per_class": 30, "test_per_class": 10, "width": 0.125, "batch_size": 32,
    "epochs": 3, "checkpoints": [0, 1], "device": "cpu", "threads": 1, "seed": 7,
}


def disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[TrainConfig, Path, Path]:
    root = tmp_path_factory.mktemp("cost")
    config = from_mapping(TrainConfig, TINY)
    train(config, root / "run", progress=False)
    extract_features(root / "run", root / "features.zarr", test=True, progress=False)
    return config, root / "run", root / "features.zarr"


def test_steps_and_samples():
    cost = estimate(from_mapping(TrainConfig, TINY))
    assert (cost.train_samples, cost.test_samples, cost.steps_per_epoch, cost.steps) == (300, 100, 10, 30)
    # a last batch of one sample is dropped (BatchNorm): all 1,442 digits in batches of 1,441 make 1 step
    cost = estimate(from_mapping(TrainConfig, {**TINY, "train_per_class": None, "batch_size": 1441}))
    assert cost.train_samples == 1442 and cost.steps_per_epoch == 1
    # the paper's run: 60,000 images in batches of 128, 200 epochs
    paper = estimate(TrainConfig(dataset="fashion-mnist"))
    assert paper.steps == 200 * 469 and paper.checkpoints == 24 and paper.feature_floats == 64 + 128 + 256 + 512


def test_the_registry_sizes_are_the_converted_splits():
    images = data.convert("digits")
    spec = registry.spec("digits")
    assert (len(images.labels["train"]), len(images.labels["test"])) == (spec.train_size, spec.test_size)


def test_parameters_are_the_models(tiny):
    config, _, _ = tiny
    model = build_model(config, num_classes=10, in_channels=1)
    assert estimate(config).parameters == sum(p.numel() for p in model.parameters())


def test_a_linear_head_is_counted():
    """Depth 3, width m: (d m + m m + m K) weights and multiply-adds where depth 1 has d K."""
    d, m, K = 64, 48, 10
    plain = estimate(from_mapping(TrainConfig, {**TINY, "width": 0.125}))
    head = estimate(from_mapping(TrainConfig, {**TINY, "width": 0.125, "head_depth": 3, "head_width": m}))
    model = build_model(from_mapping(TrainConfig, {**TINY, "width": 0.125, "head_depth": 3, "head_width": m}), num_classes=K, in_channels=1)
    assert head.parameters == sum(p.numel() for p in model.parameters())
    assert head.parameters - plain.parameters == head.multiply_adds - plain.multiply_adds == d * m + m * m + m * K - d * K
    assert head.feature_floats == plain.feature_floats  # the store keeps the head's product, K x d, as at depth 1


def test_checkpoints_on_disk_within_2_percent(tiny):
    config, run, _ = tiny
    cost = estimate(config)
    files = checkpoint.kept_epochs(run)
    assert sorted(files) == [0, 1, 3] == list(config.checkpoints)
    with_momentum = [files[1].stat().st_size, files[3].stat().st_size]
    assert all(size == pytest.approx(cost.checkpoint_bytes, rel=0.02) for size in with_momentum)
    # the estimate's total counts a resume.pt too, which a finished run has deleted: one file more
    assert sum(p.stat().st_size for p in files.values()) == pytest.approx(cost.checkpoints_bytes - cost.checkpoint_bytes, rel=0.02)


def test_features_on_disk_within_the_upper_bound(tiny):
    config, _, features = tiny
    cost = estimate(config)
    estimated = cost.train_features_bytes + cost.test_features_bytes
    assert 0.7 * estimated <= disk(features) <= estimated


def test_activations_within_15_percent_of_what_autograd_keeps():
    """Measured: the storages of every tensor autograd saves for backward in one training forward
    pass of a batch, less the weights (saved by the convolutions, but counted as parameters)."""
    cases = [("digits", 0.125, "3x3", 1), ("fashion-mnist", 0.25, "3x3", 1), ("cifar10", 0.125, "imagenet", 1), ("digits", 0.125, "3x3", 4)]
    for dataset, width, stem, head_depth in cases:
        config = TrainConfig(dataset=dataset, width=width, stem=stem, batch_size=16, epochs=1, checkpoints=(0,), head_depth=head_depth, head_width=32)
        spec = registry.spec(dataset)
        model = build_model(config, num_classes=10, in_channels=spec.channels).train()
        storages: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = max(storages.get(storage.data_ptr(), 0), storage.nbytes())
            return t

        x = torch.randn(16, spec.channels, spec.height, spec.width)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss_function(config, 10)(model(x), torch.zeros(16, dtype=torch.long))
        weights = sum(4 * p.numel() for p in model.parameters())
        measured = sum(storages.values()) - weights
        assert estimate(config).activation_bytes == pytest.approx(measured, rel=0.15), dataset


def test_info_cost_prints_the_estimate_and_refuses_half_a_request(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("dataset: fashion-mnist\ntrain_per_class: 300\nepochs: 3\ncheckpoints: [0, 1, 2, 3]\n")
    assert main(["info", "--cost", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "steps: 72 (3 epochs x 24 batches of 128)" in out and "11,172,800 parameters" in out
    assert "disk, checkpoints:" in out and "disk, features:" in out and "memory, training:" in out
    assert main(["info", "--config", str(config)]) == 2
    assert main(["info", "--cost", "--config", str(config), "--key", "networks.train"]) == 2
    err = capsys.readouterr().err
    assert "--cost and --config go together" in err and "no key 'networks'" in err
