"""Layer layout of an OFA MobileNetV3 subnet and its computation graph built without torch.

``block_layouts`` turns a spec's ``ks``/``e``/``d`` into the list of MBConv blocks; the torch
module (``_ofa_module``) and the structural graph builder (``build_graph``) both read it, so
the two cannot disagree on a channel count. ``build_graph`` emits exactly the nodes and edges
that ``cg_ir.fx.from_module`` lowers the module to (tests check ``same_structure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from cg_ir._graph import ComputationGraph
from cg_ir.families._builder import GraphBuilder

__all__ = [
    "CLASSES",
    "FEATURE_MIX",
    "FINAL_EXPAND",
    "FIRST_BLOCK",
    "STAGES",
    "STEM",
    "BlockLayout",
    "block_layouts",
    "build_graph",
    "make_divisible",
]

STEM = 16
FINAL_EXPAND = 960
FEATURE_MIX = 1280
CLASSES = 1000


class Stage(NamedTuple):
    width: int
    stride: int
    act: str
    se: bool


# width 1.0: the five elastic stages of OFA's MobileNetV3-Large
STAGES = (
    Stage(24, 2, "relu", False),
    Stage(40, 2, "relu", True),
    Stage(80, 2, "hswish", False),
    Stage(112, 1, "hswish", True),
    Stage(160, 2, "hswish", True),
)


class BlockLayout(NamedTuple):
    """One MBConv block: channels in/expanded/out, depthwise kernel and stride, activation.

    ``se_mid`` is the squeeze-excite bottleneck width (0: no SE); ``residual`` says whether the
    block adds its input (stride 1 and as many channels out as in).
    """

    c_in: int
    mid: int
    c_out: int
    kernel: int
    stride: int
    act: str
    se_mid: int
    residual: bool


# expand ratio 1, no SE, identity shortcut: fixed in every subnet
FIRST_BLOCK = BlockLayout(STEM, STEM, STEM, 3, 1, "relu", 0, True)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` the way MobileNet does (never below 90%).

    Examples:
        >>> make_divisible(96 // 4), make_divisible(20), make_divisible(10)
        (24, 24, 16)
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def block_layouts(
    ks: Sequence[int], e: Sequence[int], d: Sequence[int], slots: int = 4
) -> list[BlockLayout]:
    """The blocks of the five stages; stage ``i`` uses its first ``d[i]`` of ``slots`` slots."""
    blocks = []
    c_in = STEM
    for s, stage in enumerate(STAGES):
        for i in range(d[s]):
            slot = s * slots + i
            mid = make_divisible(round(c_in * e[slot]))
            se_mid = make_divisible(mid // 4) if stage.se else 0
            stride = stage.stride if i == 0 else 1
            residual = stride == 1 and c_in == stage.width
            blocks.append(
                BlockLayout(c_in, mid, stage.width, ks[slot], stride, stage.act, se_mid, residual)
            )
            c_in = stage.width
    return blocks


_ACT_OPS = {"relu": "relu", "hswish": "hardswish"}


def _block(b: GraphBuilder, x: int, layout: BlockLayout, name: str) -> int:
    act = _ACT_OPS[layout.act]
    out = x
    if layout.mid != layout.c_in:
        out = b.conv_bn(out, f"{name}.expand", layout.mid, 1)
        out = b.unary(out, act, f"{name}.expand.2")
    out = b.conv_bn(out, f"{name}.depthwise", layout.mid, layout.kernel, layout.stride, True)
    out = b.unary(out, act, f"{name}.depthwise.2")
    if layout.se_mid:
        s = b.global_avg_pool(out, f"{name}.se.pool")
        s = b.conv(s, f"{name}.se.reduce", layout.se_mid, 1, bias=True)
        s = b.unary(s, "relu", f"{name}.se.act")
        s = b.conv(s, f"{name}.se.expand", layout.mid, 1, bias=True)
        s = b.unary(s, "hardsigmoid", f"{name}.se.gate")
        out = b.elementwise("mul", f"{name}.se", out, s)
    out = b.conv_bn(out, f"{name}.project", layout.c_out, 1)
    return b.elementwise("add", name, x, out) if layout.residual else out


def build_graph(blocks: Sequence[BlockLayout], resolution: int) -> ComputationGraph:
    """The computation graph of the subnet with these stage ``blocks`` at ``resolution``."""
    b = GraphBuilder((3, resolution, resolution))
    x = b.conv_bn(0, "first_conv", STEM, 3, 2)
    x = b.unary(x, "hardswish", "first_conv.2")
    for i, layout in enumerate((FIRST_BLOCK, *blocks)):
        x = _block(b, x, layout, f"blocks.{i}")
    x = b.conv_bn(x, "final_expand", FINAL_EXPAND, 1)
    x = b.unary(x, "hardswish", "final_expand.2")
    x = b.global_avg_pool(x, "pool")
    x = b.conv(x, "feature_mix.0", FEATURE_MIX, 1)
    x = b.unary(x, "hardswish", "feature_mix.1")
    return b.finish(b.linear(x, "classifier.1", CLASSES))
