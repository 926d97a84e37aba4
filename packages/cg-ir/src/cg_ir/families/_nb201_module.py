"""The PyTorch network of an ``nb201`` spec, already pruned (imported only when torch is).

Module paths here are the ``name`` fields that ``_nb201_fast`` writes into its nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cg_ir.nn import Zero

__all__ = ["NB201Cell", "NB201Network", "ReLUConvBN", "ResNetBasicBlock"]

_CONV3, _CONV1, _AVG = 2, 3, 4  # op ids of nb201.OP_NAMES


class ReLUConvBN(nn.Sequential):
    """ReLU -> conv (no bias) -> BN (affine), NAS-Bench-201's ``nor_conv`` and block halves."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class ResNetBasicBlock(nn.Module):
    """NAS-Bench-201's reduction block: halves the resolution and doubles the channels."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        body: torch.Tensor = self.conv_b(self.conv_a(x))
        residual: torch.Tensor = self.downsample(x)
        return residual + body


def _edge_op(op: int, channels: int) -> nn.Module:
    if op == _CONV3:
        return ReLUConvBN(channels, channels, 3, 1)
    if op == _CONV1:
        return ReLUConvBN(channels, channels, 1, 1)
    if op == _AVG:
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    return nn.Identity()


class NB201Cell(nn.Module):
    """A pruned cell: node ``j`` adds up its surviving incoming edges, in edge order.

    Args:
        edges: the surviving (source, target, op id) edges, grouped by target
            (``cg_ir.families.nb201.live_edges``); node 3 must be reachable.
        channels: channels of every node.
    """

    def __init__(self, edges: Sequence[tuple[int, int, int]], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict(
            {f"e{source}{target}": _edge_op(op, channels) for source, target, op in edges}
        )
        self._plan = tuple((source, target, f"e{source}{target}") for source, target, _ in edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: dict[int, torch.Tensor] = {0: x}
        for source, target, name in self._plan:
            result = self.edges[name](nodes[source])
            # a chain of binary adds; python's sum() would start with 0 + x
            nodes[target] = nodes[target] + result if target in nodes else result
        return nodes[3]


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro skeleton around one (pruned) cell.

    Args:
        edges: ``live_edges`` of the spec, or None when the cell output is cut off from its
            input (each cell is then a ``Zero`` module).
        channels: channels of the three stages.
        cells_per_stage: cells in each stage.
        classes: outputs of the classifier.
    """

    def __init__(
        self,
        edges: Sequence[tuple[int, int, int]] | None,
        channels: Sequence[int],
        cells_per_stage: int,
        classes: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, channels[0], 3, padding=1, bias=False), nn.BatchNorm2d(channels[0])
        )
        cells: list[nn.Module] = []
        for stage, c in enumerate(channels):
            if stage:
                cells.append(ResNetBasicBlock(channels[stage - 1], c))
            for _ in range(cells_per_stage):
                cells.append(Zero() if edges is None else NB201Cell(edges, c))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(channels[-1]), nn.ReLU())
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        logits: torch.Tensor = self.classifier(torch.flatten(x, 1))
        return logits
