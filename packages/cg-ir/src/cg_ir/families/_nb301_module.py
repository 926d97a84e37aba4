"""The PyTorch network of an ``nb301`` spec: DARTS' ``NetworkCIFAR`` (imported only with torch).

Written from the DARTS paper's description (Liu et al., ICLR 2019); see ``cg_ir.families.nb301``
for the macro choices and the one deviation (``FactorizedReduce`` without the pixel shift).
Module paths here are the ``name`` fields that ``_nb301_fast`` writes into its nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cg_ir.families.nb301 import CellPlan

__all__ = ["DilConv", "FactorizedReduce", "NB301Cell", "NB301Network", "SepConv", "edge_op"]

# op ids of cg_ir.families.nb301.OP_NAMES
_MAX, _AVG, _SKIP, _SEP3, _SEP5, _DIL3, _DIL5 = range(7)


def _relu_conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    """DARTS' ReLUConvBN with a 1x1 kernel: the cell preprocessing."""
    return nn.Sequential(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two 1x1 stride-2 convs of ``c_out // 2`` channels each.

    DARTS feeds ``conv_2`` the input shifted by one pixel; here both read the same tensor,
    since a spatial crop has no cg-ir primitive (see ``cg_ir.families.nb301``).
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        out: torch.Tensor = self.bn(torch.cat([self.conv_1(x), self.conv_2(x)], dim=1))
        return out


class SepConv(nn.Sequential):
    """Twice (ReLU, depthwise conv k, pointwise 1x1, BN); only the first depthwise strides."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        pad = kernel // 2
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, 1, pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise conv k with dilation 2, pointwise 1x1, BN."""

    def __init__(self, c: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride, kernel - 1, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


def edge_op(op: int, c: int, stride: int) -> nn.Module:
    """The module of op id ``op`` on ``c`` channels (DARTS' ``OPS`` table)."""
    if op == _MAX:
        return nn.MaxPool2d(3, stride, 1)
    if op == _AVG:
        return nn.AvgPool2d(3, stride, 1, count_include_pad=False)
    if op == _SKIP:
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if op in (_SEP3, _SEP5):
        return SepConv(c, 3 if op == _SEP3 else 5, stride)
    return DilConv(c, 3 if op == _DIL3 else 5, stride)


class NB301Cell(nn.Module):
    """One DARTS cell: preprocess both inputs, 4 nodes of two ops added, concat of the nodes.

    Args:
        pairs: the cell's 8 validated ``(input_node, op_id)`` pairs.
        plan: where the cell sits (shapes, reduction flags).
    """

    def __init__(self, pairs: Sequence[tuple[int, int]], plan: CellPlan) -> None:
        super().__init__()
        c = plan.channels
        self.preprocess0: nn.Module = (
            FactorizedReduce(plan.in0[0], c)
            if plan.reduction_prev
            else _relu_conv_bn(plan.in0[0], c)
        )
        self.preprocess1 = _relu_conv_bn(plan.in1[0], c)
        # in a reduction cell the ops reading the cell inputs stride 2
        self.ops = nn.ModuleList(
            edge_op(op, c, 2 if plan.reduction and source < 2 else 1) for source, op in pairs
        )
        self._sources = tuple(source for source, _ in pairs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(0, len(self._sources), 2):
            a = self.ops[i](states[self._sources[i]])
            b = self.ops[i + 1](states[self._sources[i + 1]])
            states.append(a + b)
        return torch.cat(states[2:], dim=1)


class NB301Network(nn.Module):
    """DARTS' ``NetworkCIFAR`` without auxiliary head and drop path.

    Args:
        normal: pairs of the normal cell.
        reduce: pairs of the reduction cell.
        plans: one ``CellPlan`` per cell (``cg_ir.families.nb301.cell_plans``).
        classes: outputs of the classifier.
    """

    def __init__(
        self,
        normal: Sequence[tuple[int, int]],
        reduce: Sequence[tuple[int, int]],
        plans: Sequence[CellPlan],
        classes: int,
    ) -> None:
        super().__init__()
        stem = plans[0].in1[0]
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem)
        )
        self.cells = nn.ModuleList(
            NB301Cell(reduce if plan.reduction else normal, plan) for plan in plans
        )
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(plans[-1].out[0], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        logits: torch.Tensor = self.classifier(torch.flatten(self.global_pooling(s1), 1))
        return logits
