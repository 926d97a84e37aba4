"""The PyTorch network of one Once-for-All MobileNetV3 subnet (imported only when torch is).

Written from the layer layout of the OFA subnets (mit-han-lab/once-for-all, ``MobileNetV3``
with ``MBConvLayer`` blocks): what is built here has the same layers, shapes and parameters as
the network ``OFAMobileNetV3.get_active_subnet()`` returns, so the data file's ``params``
column is its parameter count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cg_ir.families._ofa_layout import (
    CLASSES,
    FEATURE_MIX,
    FINAL_EXPAND,
    FIRST_BLOCK,
    STEM,
    BlockLayout,
)

__all__ = ["OfaMobileNetV3"]


def _act(name: str) -> nn.Module:
    return nn.Hardswish() if name == "hswish" else nn.ReLU()


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]


class SqueezeExcite(nn.Module):
    """OFA's SE: pool, 1x1 reduce (bias), ReLU, 1x1 expand (bias), hard sigmoid, scale."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale: torch.Tensor = self.gate(self.expand(self.act(self.reduce(self.pool(x)))))
        return x * scale


class InvertedResidual(nn.Module):
    """MBConv: [1x1 expand + BN + act], kxk depthwise + BN + act, [SE], 1x1 project + BN."""

    def __init__(self, block: BlockLayout) -> None:
        super().__init__()
        self.residual = block.residual
        self.expand: nn.Module | None = None
        if block.mid != block.c_in:  # expand ratio 1 (the first block) has no expansion
            self.expand = nn.Sequential(*_conv_bn(block.c_in, block.mid, 1, 1), _act(block.act))
        self.depthwise = nn.Sequential(
            *_conv_bn(block.mid, block.mid, block.kernel, block.stride, groups=block.mid),
            _act(block.act),
        )
        self.se = SqueezeExcite(block.mid, block.se_mid) if block.se_mid else None
        self.project = nn.Sequential(*_conv_bn(block.mid, block.c_out, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x if self.expand is None else self.expand(x)
        out = self.depthwise(out)
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return x + out if self.residual else out


class OfaMobileNetV3(nn.Module):
    """One OFA MobileNetV3 subnet: stem, MBConv blocks, final expand, pool, feature mix, linear.

    Args:
        blocks: the stage blocks in order (the first block is added here).
        dropout: the classifier's dropout rate (OFA trains with 0.1; it has no parameters).
    """

    def __init__(self, blocks: Sequence[BlockLayout], dropout: float = 0.1) -> None:
        super().__init__()
        self.first_conv = nn.Sequential(*_conv_bn(3, STEM, 3, 2), nn.Hardswish())
        self.blocks = nn.Sequential(*(InvertedResidual(b) for b in (FIRST_BLOCK, *blocks)))
        last = blocks[-1].c_out if blocks else FIRST_BLOCK.c_out
        self.final_expand = nn.Sequential(*_conv_bn(last, FINAL_EXPAND, 1, 1), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        # OFA's feature-mix layer: a 1x1 conv without bias or BN on the pooled features
        self.feature_mix = nn.Sequential(
            nn.Conv2d(FINAL_EXPAND, FEATURE_MIX, 1, bias=False), nn.Hardswish()
        )
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_MIX, CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.final_expand(self.blocks(self.first_conv(x)))
        x = self.feature_mix(self.pool(x))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits
