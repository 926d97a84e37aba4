"""The ``cbm-resnet`` family: Channel-Bench-Macro's ResNet-style width space on CIFAR-10.

A spec is 7 digits ``d_i`` in 1-4 (``cg_ir.families._cbm.CbmSpec``); layer ``i`` has
``c_i = d_i * b_i / 4`` channels with base widths ``BASES`` = (256, 256, 256, 512, 512, 512,
512). The network on 3x32x32 inputs: a stem (3x3 conv stride 2, 3 -> c1, BN, ReLU); five basic
blocks ``(in, mid, out, stride)`` = (c1, c2, c1, 1), (c1, c3, c1, 1), (c1, c4, c5, 2),
(c5, c6, c5, 1), (c5, c7, c5, 1), each a 3x3 conv (in -> mid, strided), BN, ReLU, a 3x3 conv
(mid -> out), BN, plus the block's input when the stride is 1 and channels stay (all but the
third block), then ReLU; global average pooling and a linear layer c5 -> 10. Convs are
bias-free; the parameter count of every network equals the ``params`` of
``channel-bench-macro/Results_ResNet.json``.

``to_cg`` builds the graph from the widths without torch; it equals ``trace_cg``. All 4^7 =
16,384 specs are enumerable.

Keys: the digit string, e.g. ``"4432214"``, as in the benchmark file.

Examples:
    >>> from cg_ir.families.cbm_resnet import FAMILY
    >>> spec = FAMILY.parse("4432214")
    >>> FAMILY.widths(spec), FAMILY.key(spec)
    ((256, 256, 192, 256, 256, 128, 512), '4432214')
    >>> FAMILY.size
    16384
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cg_ir.families._builder import GraphBuilder
from cg_ir.families._cbm import (
    CLASSES,
    Block,
    CbmFamily,
    CbmSpec,
    classifier_graph,
    conv_bn_at,
    stem_graph,
)

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = ["BASES", "FAMILY", "CbmResNetFamily", "blocks"]

BASES = (256, 256, 256, 512, 512, 512, 512)


def blocks(widths: tuple[int, ...]) -> tuple[Block, ...]:
    """The five basic blocks ``(in, mid, out, stride)`` for layer widths ``c``.

    Examples:
        >>> blocks((64, 64, 64, 128, 128, 128, 128))[2]
        (64, 128, 128, 2)
    """
    c1, c2, c3, c4, c5, c6, c7 = widths
    return ((c1, c2, c1, 1), (c1, c3, c1, 1), (c1, c4, c5, 2), (c5, c6, c5, 1), (c5, c7, c5, 1))


class CbmResNetFamily(CbmFamily):
    """The ResNet-style width space of the module docstring."""

    name = "cbm-resnet"
    bases = BASES

    def to_module(self, spec: CbmSpec) -> torch.nn.Module:
        """The network as a freshly initialised torch module."""
        from cg_ir.families._cbm_module import CbmResNet

        widths = self.widths(spec)
        return CbmResNet(widths[0], blocks(widths), CLASSES)

    def to_cg(self, spec: CbmSpec) -> ComputationGraph:
        """The graph built from the widths without torch (equal to ``trace_cg``)."""
        widths = self.widths(spec)
        b, x = stem_graph(widths[0])
        for i, block in enumerate(blocks(widths)):
            x = _basic_block(b, x, block, f"blocks.{i}")
        return classifier_graph(b, x)


def _basic_block(b: GraphBuilder, x: int, block: Block, name: str) -> int:
    c_in, mid, c_out, stride = block
    body = f"{name}.body"
    out = b.unary(conv_bn_at(b, x, body, 0, mid, 3, stride), "relu", f"{body}.2")
    out = conv_bn_at(b, out, body, 3, c_out, 3)
    if stride == 1 and c_in == c_out:
        out = b.elementwise("add", name, out, x)
    return b.unary(out, "relu", f"{name}.act")


FAMILY = CbmResNetFamily()
