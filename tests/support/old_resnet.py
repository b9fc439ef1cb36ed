"""ResNet18 as it was before the linear-head option (issue 21; src/deepcollapse/nets/resnet.py at
3330a8b), copied verbatim but for the docstrings: the reference that a head of depth 1 must equal
bitwise (parameters, their names and order, initial weights, forward pass, training steps)."""

from __future__ import annotations

import torch
from torch import nn

from deepcollapse.nets.resnet import STAGES, BasicBlock, stage_widths


class OldResNet18(nn.Module):
    def __init__(self, *, num_classes: int, in_channels: int = 3, width: float = 1.0, stem: str = "3x3", bias: bool = True):
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
        self.fc = nn.Linear(widths[3], num_classes, bias=bias)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stage4(self.stage3(self.stage2(self.stage1(x))))
        return self.fc(torch.flatten(self.pool(x), 1))

    def features(self, x: torch.Tensor):
        maps = {}
        x = self.stem(x)
        for name in STAGES:
            x = getattr(self, name)(x)
            maps[name] = x
        penultimate = torch.flatten(self.pool(x), 1)
        return maps, penultimate, self.fc(penultimate)
