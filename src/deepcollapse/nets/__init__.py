"""Practical networks: ResNet18, its training with checkpoints, per-checkpoint features, NC metrics per layer.

    from deepcollapse.nets import TrainConfig, train, extract_features, layer_metrics
    cfg = TrainConfig(dataset="digits", width=0.125, epochs=5, checkpoints=(0, 1, 5))
    train(cfg, "results/runs/demo")                                   # resumable
    extract_features("results/runs/demo", "results/features/demo.zarr")
    layer_metrics("results/features/demo.zarr", "results/metrics/demo.zarr")

Imports are lazy so that `import deepcollapse.nets.config` does not pull in torch.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "TrainConfig": ".config",
    "PAPER_CHECKPOINTS": ".config",
    "ResNet18": ".resnet",
    "STAGES": ".resnet",
    "train": ".trainer",
    "read_run": ".trainer",
    "Preempted": ".trainer",
    "TrainingDiverged": ".trainer",
    "PREEMPTED_EXIT_STATUS": ".trainer",
    "extract_features": ".features",
    "layer_metrics": ".layerwise",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name], __name__), name)


__all__ = sorted(_EXPORTS)
