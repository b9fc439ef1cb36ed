"""ResNet18 (He et al. 2016) with access to every stage's features.

The architecture is torchvision's `resnet18` (BasicBlock, [2, 2, 2, 2], same initialisation),
rewritten so that

* the stem is selectable: ``"3x3"`` (a 3x3 stride-1 convolution, no max-pool: the usual choice for
  28/32-pixel images and the default) or ``"imagenet"`` (torchvision's 7x7 stride-2 convolution
  followed by a 3x3 stride-2 max-pool);
* the input channels follow the data (1 for MNIST, 3 for CIFAR10);
* the widths are 64·w, 128·w, 256·w, 512·w for a width multiplier w (w = 1 is ResNet18);
* the classifier bias can be switched off (the paper's MSE runs have none);
* the classifier may be a linear head of depth L (Garrod & Keating 2025, Fig. 3): L - 1 hidden
  linear layers without bias or nonlinearity (`head`, absent at L = 1), then `fc`, so that the
  logits are an affine function of the penultimate features, W_L ... W_1 h + b
  (`effective_classifier`).  At L = 1 the model is the plain classifier: same parameters, same
  names, same initial weights;
* `features(x)` returns the output of each of the four stages (stage1..stage4, one per
  ResBlock group) and the penultimate features (the global-average-pooled stage4 output, which
  is what the classifier sees).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

STAGES = ("stage1", "stage2", "stage3", "stage4")


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def stage_widths(width: float) -> tuple[int, int, int, int]:
    base = max(1, int(round(64 * width)))
    return (base, 2 * base, 4 * base, 8 * base)


class ResNet18(nn.Module):
    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        width: float = 1.0,
        stem: Literal["3x3", "imagenet"] = "3x3",
        bias: bool = True,
        head_depth: int = 1,
        head_width: int = 64,
    ):
        super().__init__()
        widths = stage_widths(width)
        self.widths = widths
        if stem == "3x3":
            conv = nn.Conv2d(in_channels, widths[0], 3, stride=1, padding=1, bias=False)
            self.stem = nn.Sequential(conv, nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        elif stem == "imagenet":
            conv = nn.Conv2d(in_channels, widths[0], 7, stride=2, padding=3, bias=False)
            self.stem = nn.Sequential(conv, nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        else:
            raise ValueError(f"unknown stem {stem!r}")
        stages, in_planes = [], widths[0]
        for i, planes in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)))
            in_planes = planes
        self.stage1, self.stage2, self.stage3, self.stage4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        if head_depth < 1:
            raise ValueError(f"head_depth must be >= 1, got {head_depth}")
        # The hidden layers have no bias: biases between linear layers would only add up to one
        # more bias of the logits (nothing a single affine map lacks), and without them the logits
        # are exactly (W_L ... W_1) h + b, the deep linear model whose rank the head is there to show.
        # At depth 1 no `head` module exists: the parameters, their names and the order in which
        # the seeded generator initialises them are today's classifier's.
        hidden = [nn.Linear(widths[3] if i == 0 else head_width, head_width, bias=False) for i in range(head_depth - 1)]
        self.head = nn.Sequential(*hidden) if hidden else None
        self.fc = nn.Linear(head_width if hidden else widths[3], num_classes, bias=bias)
        self._init_weights()

    def _init_weights(self) -> None:  # torchvision's resnet initialisation
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.logits(torch.flatten(self.pool(x), 1))

    def logits(self, penultimate: torch.Tensor) -> torch.Tensor:
        """The head: logits of the pooled penultimate features."""
        return self.fc(penultimate if self.head is None else self.head(penultimate))

    @torch.no_grad()
    def effective_classifier(self) -> torch.Tensor:
        """W_L ... W_1 (K, 512w) in float64: the linear map of the head (the logits are this times
        the penultimate features plus `fc.bias`); at depth 1, `fc.weight` itself."""
        W = self.fc.weight.double()
        for layer in reversed(list(self.head or ())):
            W = W @ layer.weight.double()
        return W

    def features(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """(unpooled stage outputs {stage1..stage4: (B, C, H, W)}, penultimate (B, 512w), logits (B, K))."""
        maps = {}
        x = self.stem(x)
        for name in STAGES:
            x = getattr(self, name)(x)
            maps[name] = x
        penultimate = torch.flatten(self.pool(x), 1)
        return maps, penultimate, self.logits(penultimate)
