"""Structural builder of ``nb201`` graphs: the torch.fx graph of ``NB201Network``, without torch.

Nodes come out in the order torch.fx records them for ``_nb201_module.NB201Network`` and with
its module paths as names. Every ``Node`` is built once per (cell position, edge, op) and
shared between graphs, which keeps building (and validating, see ``cg_ir._validate``) cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.families.nb201 import CELLS_PER_STAGE, CHANNELS, CLASSES, RESOLUTION

__all__ = ["build_cg"]

_CONV3, _CONV1, _AVG = 2, 3, 4  # op ids of nb201.OP_NAMES
_Segment = tuple[tuple[Node, ...], tuple[tuple[int, int], ...]]


def _stage_shape(stage: int) -> Shape:
    size = RESOLUTION >> stage
    return (CHANNELS[stage], size, size)


# (stage, is_reduction_block) of every entry of NB201Network.cells
_LAYOUT = tuple(
    (stage, reduction)
    for stage in range(len(CHANNELS))
    for reduction in ([True] if stage else []) + [False] * CELLS_PER_STAGE
)


def _conv(name: str, shape: Shape, out: Shape, kernel: int, stride: int) -> Node:
    return Node(
        "conv",
        shape,
        out,
        (kernel, kernel),
        (stride, stride),
        (kernel // 2, kernel // 2),
        (1, 1),
        1,
        shape[0],
        out[0],
        False,
        False,
        name,
    )


def _bn(name: str, shape: Shape) -> Node:
    return Node("batch_norm", shape, shape, affine=True, name=name)


def _relu_conv_bn(prefix: str, shape: Shape, out: Shape, kernel: int, stride: int) -> list[Node]:
    return [
        Node("relu", shape, shape, name=f"{prefix}.0"),
        _conv(f"{prefix}.1", shape, out, kernel, stride),
        _bn(f"{prefix}.2", out),
    ]


@cache
def _edge_chain(position: int, source: int, target: int, op: int) -> tuple[Node, ...]:
    """The nodes of one edge op (empty for skip_connect, which folds away)."""
    shape = _stage_shape(_LAYOUT[position][0])
    prefix = f"cells.{position}.edges.e{source}{target}"
    if op == _CONV3:
        return tuple(_relu_conv_bn(prefix, shape, shape, 3, 1))
    if op == _CONV1:
        return tuple(_relu_conv_bn(prefix, shape, shape, 1, 1))
    if op == _AVG:
        return (Node("avg_pool", shape, shape, (3, 3), (1, 1), (1, 1), name=prefix),)
    return ()


@cache
def _add(position: int) -> Node:
    shape = _stage_shape(_LAYOUT[position][0])
    return Node("add", shape, shape, name=f"cells.{position}")


@cache
def _zero(position: int) -> Node:
    shape = _stage_shape(_LAYOUT[position][0])
    return Node("zero", shape, shape, name=f"cells.{position}")


@cache
def _reduction(position: int) -> _Segment:
    """ResNetBasicBlock: local node i is the segment's i-th node, -1 its input."""
    stage = _LAYOUT[position][0]
    shape, out = _stage_shape(stage - 1), _stage_shape(stage)
    half = (shape[0], out[1], out[2])
    p = f"cells.{position}"
    nodes = (
        *_relu_conv_bn(f"{p}.conv_a", shape, out, 3, 2),
        *_relu_conv_bn(f"{p}.conv_b", out, out, 3, 1),
        Node("avg_pool", shape, half, (2, 2), (2, 2), (0, 0), name=f"{p}.downsample.0"),
        _conv(f"{p}.downsample.1", half, out, 1, 1),
        Node("add", out, out, name=p),
    )
    edges = ((-1, 0), (0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (-1, 6), (6, 7), (7, 8), (5, 8))
    return nodes, edges


_IMAGE: Shape = (3, RESOLUTION, RESOLUTION)
_FIRST = _stage_shape(0)
_LAST = _stage_shape(len(CHANNELS) - 1)
_POOLED: Shape = (_LAST[0], 1, 1)
_LOGITS: Shape = (CLASSES, 1, 1)
_STEM = (
    Node("input", _IMAGE, _IMAGE),
    _conv("stem.0", _IMAGE, _FIRST, 3, 1),
    _bn("stem.1", _FIRST),
)
_HEAD = (
    _bn("lastact.0", _LAST),
    Node("relu", _LAST, _LAST, name="lastact.1"),
    Node("global_avg_pool", _LAST, _POOLED, name="global_pooling"),
    Node(
        "linear",
        _POOLED,
        _LOGITS,
        in_channels=_LAST[0],
        out_channels=CLASSES,
        bias=True,
        name="classifier",
    ),
    Node("output", _LOGITS, _LOGITS),
)


def build_cg(live: Sequence[tuple[int, int, int]] | None) -> ComputationGraph:
    """The graph of the network whose cell keeps the edges ``live`` (None: zero cells)."""
    nodes = list(_STEM)
    edges = [(0, 1), (1, 2)]
    current = 2
    for position, (_, reduction) in enumerate(_LAYOUT):
        base = len(nodes)
        if reduction:
            block, local = _reduction(position)
            nodes.extend(block)
            edges.extend((current if s < 0 else base + s, base + d) for s, d in local)
            current = base + len(block) - 1
        elif live is None:
            nodes.append(_zero(position))
            edges.append((current, base))
            current = base
        else:
            value = {0: current}
            for source, target, op in live:
                tip = value[source]
                for node in _edge_chain(position, source, target, op):
                    edges.append((tip, len(nodes)))
                    tip = len(nodes)
                    nodes.append(node)
                if target in value:
                    edges.append((value[target], len(nodes)))
                    edges.append((tip, len(nodes)))
                    tip = len(nodes)
                    nodes.append(_add(position))
                value[target] = tip
            current = value[3]
    for node in _HEAD:
        edges.append((current, len(nodes)))
        current = len(nodes)
        nodes.append(node)
    return ComputationGraph(nodes, edges)
