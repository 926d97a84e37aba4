"""The PyTorch network of a ``resnet`` family spec (imported only when torch is)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "CifarResNet"]


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)]


class _Residual(nn.Module):
    """``relu(body(x) + shortcut(x))``; the shortcut is a 1x1 conv + BN when shapes change."""

    def __init__(self, body: nn.Sequential, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = body
        self.shortcut: nn.Module = (
            nn.Sequential(*_conv_bn(c_in, c_out, 1, stride))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(self.body(x) + self.shortcut(x))
        return out


class BasicBlock(_Residual):
    """Two 3x3 convs (the first strided), each with BN; ReLU between and after the add."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int) -> None:
        body = nn.Sequential(
            *_conv_bn(c_in, width, 3, stride), nn.ReLU(), *_conv_bn(width, width, 3)
        )
        super().__init__(body, c_in, width, stride)


class Bottleneck(_Residual):
    """1x1 reduce, 3x3 (strided), 1x1 expand to ``4 * width``, each with BN (torchvision v1.5)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int) -> None:
        c_out = width * self.expansion
        body = nn.Sequential(
            *_conv_bn(c_in, width, 1),
            nn.ReLU(),
            *_conv_bn(width, width, 3, stride),
            nn.ReLU(),
            *_conv_bn(width, c_out, 1),
        )
        super().__init__(body, c_in, c_out, stride)


class CifarResNet(nn.Module):
    """3x3 stem, four stages of residual blocks, global average pooling, linear classifier.

    Args:
        block: ``"basic"`` or ``"bottleneck"``.
        depths: blocks per stage.
        widths: block width per stage (bottleneck blocks output four times as many channels).
        stem: channels of the stem conv.
        strides: stride of each stage's first block.
        classes: classifier outputs.
    """

    def __init__(
        self,
        block: str,
        depths: Sequence[int],
        widths: Sequence[int],
        stem: int,
        strides: Sequence[int],
        classes: int,
    ) -> None:
        super().__init__()
        kind = BasicBlock if block == "basic" else Bottleneck
        self.stem = nn.Sequential(*_conv_bn(3, stem, 3), nn.ReLU())
        layers: list[nn.Module] = []
        c_in = stem
        for depth, width, stride in zip(depths, widths, strides, strict=True):
            blocks = []
            for i in range(depth):
                blocks.append(kind(c_in, width, stride if i == 0 else 1))
                c_in = width * kind.expansion
            layers.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_in, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stages(self.stem(x)))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits
