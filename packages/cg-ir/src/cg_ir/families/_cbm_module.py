"""The PyTorch networks of the Channel-Bench-Macro families (imported only when torch is).

Written from the description in the data README (Channel-Bench-Macro, xiusu/Channel-Bench-Macro):
every conv is bias-free and followed by BatchNorm, the classifier is a linear layer with bias,
so the trainable parameter count equals the benchmark files' ``params``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cg_ir.families._cbm import Block

__all__ = ["BasicBlock", "CbmMobileNet", "CbmResNet", "InvertedResidual"]


def _conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1
) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]


def _stem(c_out: int) -> nn.Sequential:
    return nn.Sequential(*_conv_bn(3, c_out, 3, 2), nn.ReLU())


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise (strided), 1x1 project, each with BN; ReLU after the first two.

    The input is added (no activation after the add) when the stride is 1 and channels stay.
    """

    def __init__(self, block: Block) -> None:
        super().__init__()
        c_in, mid, c_out, stride = block
        self.body = nn.Sequential(
            *_conv_bn(c_in, mid, 1),
            nn.ReLU(),
            *_conv_bn(mid, mid, 3, stride, groups=mid),
            nn.ReLU(),
            *_conv_bn(mid, c_out, 1),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out + x if self.residual else out


class BasicBlock(nn.Module):
    """3x3 conv (strided) + BN + ReLU, 3x3 conv + BN, [+ input], ReLU.

    The input is added when the stride is 1 and channels stay.
    """

    def __init__(self, block: Block) -> None:
        super().__init__()
        c_in, mid, c_out, stride = block
        self.body = nn.Sequential(
            *_conv_bn(c_in, mid, 3, stride), nn.ReLU(), *_conv_bn(mid, c_out, 3)
        )
        self.residual = stride == 1 and c_in == c_out
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        if self.residual:
            out = out + x
        activated: torch.Tensor = self.act(out)
        return activated


class CbmMobileNet(nn.Module):
    """Stem, inverted-residual blocks, 1x1 head conv + BN + ReLU, pooling, linear classifier.

    Args:
        stem: channels of the stride-2 stem conv.
        blocks: the blocks in order.
        head: channels of the head's 1x1 conv.
        classes: classifier outputs.
    """

    def __init__(self, stem: int, blocks: Sequence[Block], head: int, classes: int) -> None:
        super().__init__()
        self.stem = _stem(stem)
        self.blocks = nn.Sequential(*(InvertedResidual(b) for b in blocks))
        self.head = nn.Sequential(*_conv_bn(blocks[-1][2], head, 1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(head, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.head(self.blocks(self.stem(x))))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits


class CbmResNet(nn.Module):
    """Stem, basic blocks, pooling, linear classifier.

    Args:
        stem: channels of the stride-2 stem conv.
        blocks: the blocks in order.
        classes: classifier outputs.
    """

    def __init__(self, stem: int, blocks: Sequence[Block], classes: int) -> None:
        super().__init__()
        self.stem = _stem(stem)
        self.blocks = nn.Sequential(*(BasicBlock(b) for b in blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(blocks[-1][2], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.blocks(self.stem(x)))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits
