"""The ``cbm-mobilenet`` family: Channel-Bench-Macro's MobileNet-style width space on CIFAR-10.

A spec is 7 digits ``d_i`` in 1-4 (``cg_ir.families._cbm.CbmSpec``); layer ``i`` has
``c_i = d_i * b_i / 4`` channels with base widths ``BASES`` = (128, 768, 768, 768, 256, 1536,
1024). The network on 3x32x32 inputs: a stem (3x3 conv stride 2, 3 -> c1, BN, ReLU); four
inverted-residual blocks ``(in, hidden, out, stride)`` = (c1, c2, c1, 1), (c1, c3, c1, 1),
(c1, c4, c5, 2), (c5, c6, c5, 1), each a 1x1 conv (in -> hidden), BN, ReLU, a 3x3 depthwise
conv (strided), BN, ReLU, a 1x1 conv (hidden -> out), BN, plus the block's input when the
stride is 1 and channels stay (no activation after the add); a head (1x1 conv c5 -> c7, BN,
ReLU), global average pooling and a linear layer c7 -> 10. Convs are bias-free; the parameter
count of every network equals the ``params`` of ``channel-bench-macro/Results_MobileNet.json``.

``to_cg`` builds the graph from the widths without torch; it equals ``trace_cg``. All 4^7 =
16,384 specs are enumerable.

Keys: the digit string, e.g. ``"4432214"``, as in the benchmark file.

Examples:
    >>> from cg_ir.families.cbm_mobilenet import FAMILY
    >>> spec = FAMILY.parse("4432214")
    >>> FAMILY.widths(spec), FAMILY.key(spec)
    ((128, 768, 576, 384, 128, 384, 1024), '4432214')
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

__all__ = ["BASES", "FAMILY", "CbmMobileNetFamily", "blocks"]

BASES = (128, 768, 768, 768, 256, 1536, 1024)


def blocks(widths: tuple[int, ...]) -> tuple[Block, ...]:
    """The four inverted-residual blocks ``(in, hidden, out, stride)`` for layer widths ``c``.

    Examples:
        >>> blocks((32, 192, 192, 192, 64, 384, 256))[2]
        (32, 192, 64, 2)
    """
    c1, c2, c3, c4, c5, c6, _ = widths
    return ((c1, c2, c1, 1), (c1, c3, c1, 1), (c1, c4, c5, 2), (c5, c6, c5, 1))


class CbmMobileNetFamily(CbmFamily):
    """The MobileNet-style width space of the module docstring."""

    name = "cbm-mobilenet"
    bases = BASES

    def to_module(self, spec: CbmSpec) -> torch.nn.Module:
        """The network as a freshly initialised torch module."""
        from cg_ir.families._cbm_module import CbmMobileNet

        widths = self.widths(spec)
        return CbmMobileNet(widths[0], blocks(widths), widths[6], CLASSES)

    def to_cg(self, spec: CbmSpec) -> ComputationGraph:
        """The graph built from the widths without torch (equal to ``trace_cg``)."""
        widths = self.widths(spec)
        b, x = stem_graph(widths[0])
        for i, block in enumerate(blocks(widths)):
            x = _inverted_residual(b, x, block, f"blocks.{i}")
        x = b.unary(b.conv_bn(x, "head", widths[6], 1), "relu", "head.2")
        return classifier_graph(b, x)


def _inverted_residual(b: GraphBuilder, x: int, block: Block, name: str) -> int:
    c_in, mid, c_out, stride = block
    body = f"{name}.body"
    out = b.unary(conv_bn_at(b, x, body, 0, mid, 1), "relu", f"{body}.2")
    out = conv_bn_at(b, out, body, 3, mid, 3, stride, depthwise=True)
    out = conv_bn_at(b, b.unary(out, "relu", f"{body}.5"), body, 6, c_out, 1)
    if stride == 1 and c_in == c_out:
        out = b.elementwise("add", name, out, x)
    return out


FAMILY = CbmMobileNetFamily()
