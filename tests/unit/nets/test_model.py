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


# ------------------------------------------------------------------ the linear head (issue 21)
@pytest.mark.parametrize("bias,stem", [(True, "3x3"), (False, "imagenet")])
def test_head_of_depth_one_is_the_old_classifier_bitwise(bias, stem, tmp_path):
    """Depth 1 is the classifier of the code before the head option (tests/support/old_resnet.py):
    the same parameters in the same order under the same names, the same initial weights from the
    seed, and bitwise the same logits, features and weights after SGD steps; an old checkpoint loads."""
    from deepcollapse.nets import checkpoint
    from tests.support.old_resnet import OldResNet18

    kwargs = dict(num_classes=10, in_channels=1, width=0.0625, stem=stem, bias=bias)
    torch.manual_seed(7)
    old = OldResNet18(**kwargs)
    torch.manual_seed(7)
    new = ResNet18(**kwargs, head_depth=1)
    assert list(old.state_dict()) == list(new.state_dict()) and not any(k.startswith("head") for k in new.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    steps = [torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4) for m in (old, new)]
    for _ in range(3):
        for model, opt in zip((old, new), steps):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    old.eval(), new.eval()
    with torch.no_grad():
        (_, p_old, z_old), (_, p_new, z_new) = old.features(x), new.features(x)
    assert torch.equal(p_old, p_new) and torch.equal(z_old, z_new)
    assert torch.equal(new.effective_classifier(), new.fc.weight.double())
    # a checkpoint of the old model restores into the new one (strict: every name, every shape)
    path = tmp_path / "epoch-0001.pt"
    checkpoint.save(path, {"model": old.state_dict()})
    fresh = ResNet18(**kwargs)
    checkpoint.restore(fresh, checkpoint.load(path), path)
    assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), fresh.state_dict().values()))


def test_head_of_depth_three_is_linear_without_hidden_biases():
    model = ResNet18(num_classes=10, in_channels=1, width=0.0625, bias=True, head_depth=3, head_width=8).eval()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith(("head", "fc"))}
    assert shapes == {"head.0.weight": (8, 32), "head.1.weight": (8, 8), "fc.weight": (10, 8), "fc.bias": (10,)}
    x = torch.randn(5, 1, 28, 28)
    with torch.no_grad():
        _, penultimate, logits = model.features(x)
        torch.testing.assert_close(logits, model(x), rtol=0, atol=0)
    # no nonlinearity: the logits are the product of the layers applied to the features, plus fc's bias
    expected = penultimate.double() @ model.effective_classifier().T + model.fc.bias.double()
    torch.testing.assert_close(logits.double(), expected, rtol=1e-6, atol=1e-6)
    W1, W2, W3 = (p.detach().double() for p in (model.head[0].weight, model.head[1].weight, model.fc.weight))
    torch.testing.assert_close(model.effective_classifier(), W3 @ W2 @ W1, rtol=1e-12, atol=0)


def test_head_config_keys():
    cfg = from_mapping(TrainConfig, {"head_depth": 3, "head_width": 16})
    assert (cfg.head_depth, cfg.head_width) == (3, 16)
    assert (TrainConfig().head_depth, TrainConfig().head_width) == (1, 64)
    with pytest.raises(InputError, match="head_depth must be an integer >= 1 and <= 64, got 0"):
        from_mapping(TrainConfig, {"head_depth": 0})
