"""Structural builder of ``nb301`` graphs: the torch.fx graph of ``NB301Network``, without torch.

Nodes come out in the order torch.fx records them for ``_nb301_module.NB301Network`` and with
its module paths as names (function nodes, add and concat, take the path of the module whose
``forward`` calls them). The nodes of an edge op depend only on the cell position, the pair's
index, its op and whether it reads a cell input, so each such segment is built once and
cached (under 900 of them); a graph is the stem, then per cell its two cached preprocessing
segments, eight cached edge-op segments with their adds and the concat, then the head, spliced
into one node list. A whole-cell cache would not pay: a new spec nearly always has new cells,
and splicing a cell twice costs more than building it once. Shared ``Node`` objects also keep
validation cheap (see ``cg_ir._validate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.families.nb301 import CLASSES, RESOLUTION, cell_plans

__all__ = ["build_cg"]

_MAX, _AVG, _SKIP, _SEP3, _SEP5, _DIL3, _DIL5 = range(7)

_PLANS = cell_plans()

_Segment = tuple[tuple[Node, ...], tuple[tuple[int, int], ...]]
"""Nodes and edges of a piece of graph; local indices, -1 = the piece's input, last = result."""


class _Builder:
    """Appends nodes and their incoming edges (indices into its own node list)."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.edges: list[tuple[int, int]] = []

    def add(self, node: Node, *sources: int) -> int:
        index = len(self.nodes)
        self.nodes.append(node)
        self.edges.extend((s, index) for s in sources)
        return index

    def chain(self, nodes: Sequence[Node], source: int) -> int:
        for node in nodes:
            source = self.add(node, source)
        return source

    def splice(self, segment: _Segment, source: int) -> int:
        """Append a segment fed by ``source``; its result (``source`` if it is empty)."""
        nodes, edges = segment
        if not nodes:
            return source
        base = len(self.nodes)
        self.nodes.extend(nodes)
        self.edges.extend((source if s < 0 else base + s, base + d) for s, d in edges)
        return len(self.nodes) - 1

    def segment(self) -> _Segment:
        return tuple(self.nodes), tuple(self.edges)


def _conv(
    name: str,
    shape: Shape,
    c_out: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int = 1,
    depthwise: bool = False,
) -> Node:
    c, h, w = shape
    size_h = (h + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    size_w = (w + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    return Node(
        "depthwise_conv" if depthwise else "conv",
        shape,
        (c_out, size_h, size_w),
        (kernel, kernel),
        (stride, stride),
        (padding, padding),
        (dilation, dilation),
        c if depthwise else 1,
        c,
        c_out,
        False,
        False,
        name,
    )


def _bn(name: str, shape: Shape) -> Node:
    return Node("batch_norm", shape, shape, affine=True, name=name)


def _relu(name: str, shape: Shape) -> Node:
    return Node("relu", shape, shape, name=name)


def _factorized_reduce(prefix: str, shape: Shape, c_out: int) -> _Segment:
    b = _Builder()
    relu = b.add(_relu(f"{prefix}.relu", shape), -1)
    one = b.add(_conv(f"{prefix}.conv_1", shape, c_out // 2, 1, 2, 0), relu)
    two = b.add(_conv(f"{prefix}.conv_2", shape, c_out // 2, 1, 2, 0), relu)
    half = b.nodes[one].output_shape
    out: Shape = (c_out, half[1], half[2])
    cat = b.add(Node("concat", out, out, name=prefix), one, two)
    b.add(_bn(f"{prefix}.bn", out), cat)
    return b.segment()


def _relu_conv_bn(prefix: str, shape: Shape, c_out: int) -> _Segment:
    out: Shape = (c_out, shape[1], shape[2])
    b = _Builder()
    b.chain(
        [
            _relu(f"{prefix}.0", shape),
            _conv(f"{prefix}.1", shape, c_out, 1, 1, 0),
            _bn(f"{prefix}.2", out),
        ],
        -1,
    )
    return b.segment()


def _op_nodes(prefix: str, op: int, shape: Shape, stride: int) -> _Segment:
    """The nodes of one edge op (none for an identity skip)."""
    c, h, w = shape
    b = _Builder()
    if op in (_MAX, _AVG):
        out: Shape = (c, (h + 2 - 3) // stride + 1, (w + 2 - 3) // stride + 1)
        kind, dilation = ("max_pool", (1, 1)) if op == _MAX else ("avg_pool", (0, 0))
        b.add(Node(kind, shape, out, (3, 3), (stride, stride), (1, 1), dilation, name=prefix), -1)
    elif op == _SKIP:
        return ((), ()) if stride == 1 else _factorized_reduce(prefix, shape, c)
    elif op in (_DIL3, _DIL5):
        kernel = 3 if op == _DIL3 else 5
        dw = _conv(f"{prefix}.1", shape, c, kernel, stride, kernel - 1, 2, depthwise=True)
        out = dw.output_shape
        b.chain(
            [
                _relu(f"{prefix}.0", shape),
                dw,
                _conv(f"{prefix}.2", out, c, 1, 1, 0),
                _bn(f"{prefix}.3", out),
            ],
            -1,
        )
    else:
        kernel = 3 if op == _SEP3 else 5
        pad = kernel // 2
        dw = _conv(f"{prefix}.1", shape, c, kernel, stride, pad, depthwise=True)
        out = dw.output_shape
        b.chain(
            [
                _relu(f"{prefix}.0", shape),
                dw,
                _conv(f"{prefix}.2", out, c, 1, 1, 0),
                _bn(f"{prefix}.3", out),
                _relu(f"{prefix}.4", out),
                _conv(f"{prefix}.5", out, c, kernel, 1, pad, depthwise=True),
                _conv(f"{prefix}.6", out, c, 1, 1, 0),
                _bn(f"{prefix}.7", out),
            ],
            -1,
        )
    return b.segment()


@cache
def _edge(position: int, j: int, op: int, from_cell_input: bool) -> _Segment:
    """Edge op ``j`` of the cell at ``position``; in a reduction cell those on inputs stride."""
    plan = _PLANS[position]
    size = plan.in1[1] if from_cell_input else plan.size
    stride = 2 if plan.reduction and from_cell_input else 1
    return _op_nodes(f"cells.{position}.ops.{j}", op, (plan.channels, size, size), stride)


@cache
def _fixed(position: int) -> tuple[_Segment, _Segment, Node, Node]:
    """Preprocessing of both inputs, and the add and concat nodes of a cell."""
    plan = _PLANS[position]
    c, p = plan.channels, f"cells.{position}"
    pre0 = (_factorized_reduce if plan.reduction_prev else _relu_conv_bn)(
        f"{p}.preprocess0", plan.in0, c
    )
    node_shape = (c, plan.size, plan.size)
    return (
        pre0,
        _relu_conv_bn(f"{p}.preprocess1", plan.in1, c),
        Node("add", node_shape, node_shape, name=p),
        Node("concat", plan.out, plan.out, name=p),
    )


def _splice_cell(
    b: _Builder, pairs: tuple[tuple[int, int], ...], position: int, s0: int, s1: int
) -> int:
    """Append the cell at ``position`` reading ``s0``, ``s1``; return its output."""
    pre0, pre1, add, concat = _fixed(position)
    states = [b.splice(pre0, s0), b.splice(pre1, s1)]
    for i in range(0, len(pairs), 2):
        (source_a, op_a), (source_b, op_b) = pairs[i], pairs[i + 1]
        a = b.splice(_edge(position, i, op_a, source_a < 2), states[source_a])
        tip = b.splice(_edge(position, i + 1, op_b, source_b < 2), states[source_b])
        states.append(b.add(add, a, tip))
    return b.add(concat, *states[2:])


_IMAGE: Shape = (3, RESOLUTION, RESOLUTION)
_STEM_OUT = _PLANS[0].in1
_STEM = (
    Node("input", _IMAGE, _IMAGE),
    _conv("stem.0", _IMAGE, _STEM_OUT[0], 3, 1, 1),
    _bn("stem.1", _STEM_OUT),
)
_FEATURES = _PLANS[-1].out
_POOLED: Shape = (_FEATURES[0], 1, 1)
_LOGITS: Shape = (CLASSES, 1, 1)
_HEAD = (
    Node("global_avg_pool", _FEATURES, _POOLED, name="global_pooling"),
    Node(
        "linear",
        _POOLED,
        _LOGITS,
        in_channels=_FEATURES[0],
        out_channels=CLASSES,
        bias=True,
        name="classifier",
    ),
    Node("output", _LOGITS, _LOGITS),
)


def build_cg(
    normal: tuple[tuple[int, int], ...], reduce: tuple[tuple[int, int], ...]
) -> ComputationGraph:
    """The graph of the network with these (validated) normal and reduction cells."""
    b = _Builder()
    s0 = s1 = b.chain(_STEM[1:], b.add(_STEM[0]))
    for plan in _PLANS:
        cell = reduce if plan.reduction else normal
        s0, s1 = s1, _splice_cell(b, cell, plan.position, s0, s1)
    b.chain(_HEAD, s1)
    return ComputationGraph(b.nodes, b.edges)
