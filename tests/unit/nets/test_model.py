"""ResNet18 architecture and training configuration."""

from __future__ import annotations

import pytest
import torch

from deepcollapse.config import from_mapping
from deepcollapse.errors import InputError
from deepcollapse.nets.config import PAPER_CHECKPOINTS, TrainConfig
from deepcollapse.nets.resnet import ResNet18


def _torchvision_names(name: str) -> str:
    name = name.replace("stem.0.", "conv1.").replace("stem.1.", "bn1.")
    for i in range(1, 5):
        name = name.replace(f"stage{i}.", f"layer{i}.")
    return name


def test_imagenet_stem_is_torchvision_resnet18():
    """Same parameters under other names, and the same function once the weights are copied."""
    import torchvision

    ours = ResNet18(num_classes=1000, in_channels=3, width=1.0, stem="imagenet", bias=True).eval()
    ref = torchvision.models.resnet18(weights=None).eval()
    ref_state = ref.state_dict()
    mapped = {name: ref_state[_torchvision_names(name)] for name in ours.state_dict()}
    assert len(mapped) == len(ref_state)
    ours.load_state_dict(mapped)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=0, atol=1e-5)
    assert sum(p.numel() for p in ours.parameters()) == 11_689_512


def test_stage_features_and_penultimate():
    model = ResNet18(num_classes=10, in_channels=1, width=0.25, stem="3x3", bias=False).eval()
    assert model.fc.bias is None
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        maps, penultimate, logits = model.features(x)
        torch.testing.assert_close(logits, model(x), rtol=0, atol=0)
    shapes = {k: tuple(v.shape) for k, v in maps.items()}
    assert shapes == {"stage1": (3, 16, 28, 28), "stage2": (3, 32, 14, 14), "stage3": (3, 64, 7, 7), "stage4": (3, 128, 4, 4)}
    torch.testing.assert_close(penultimate, maps["stage4"].mean(dim=(2, 3)))
    torch.testing.assert_close(logits, penultimate @ model.fc.weight.T)


def test_paper_recipe_defaults():
    cfg = TrainConfig()
    assert (cfg.lr, cfg.momentum, cfg.weight_decay, cfg.lr_step, cfg.lr_gamma) == (0.05, 0.9, 5e-4, 40, 0.1)
    assert (cfg.batch_size, cfg.epochs, cfg.loss, cfg.bias, cfg.stem, cfg.width) == (128, 200, "mse", False, "3x3", 1.0)
    assert cfg.checkpoints == PAPER_CHECKPOINTS and cfg.checkpoints[-1] == 200


def test_classifier_bias_follows_the_loss_unless_given():
    """The paper's pairing: MSE without classifier bias, cross-entropy with it; explicit values win."""
    assert from_mapping(TrainConfig, {"loss": "mse"}).bias is False
    assert from_mapping(TrainConfig, {"loss": "ce"}).bias is True
    assert from_mapping(TrainConfig, {"loss": "ce", "bias": False}).bias is False
    assert from_mapping(TrainConfig, {"loss": "mse", "bias": True}).bias is True


def test_config_validation():
    cfg = from_mapping(TrainConfig, {"epochs": 6, "checkpoints": [5, 0, 2, 2]})
    assert cfg.checkpoints == (0, 2, 5, 6)  # sorted, unique, final epoch added
    with pytest.raises(InputError, match="unknown key 'learning_rate'"):
        from_mapping(TrainConfig, {"learning_rate": 0.1})
    with pytest.raises(InputError, match="epoch 10 is outside 0..epochs=5"):
        from_mapping(TrainConfig, {"epochs": 5, "checkpoints": [0, 10]})
    with pytest.raises(InputError, match="'sgd' is not one of 'mse', 'ce'"):
        from_mapping(TrainConfig, {"loss": "sgd"})
    with pytest.raises(InputError, match="lr must be a positive number, got 0.0"):
        from_mapping(TrainConfig, {"lr": 0.0})
    with pytest.raises(InputError, match="device"):
        from_mapping(TrainConfig, {"device": "tpu"})


def test_public_api_names_are_callables():
    from deepcollapse import nets

    for name in ("train", "extract_features", "layer_metrics", "ResNet18", "TrainConfig"):
        assert callable(getattr(nets, name)), name
    assert nets.PREEMPTED_EXIT_STATUS == 75
