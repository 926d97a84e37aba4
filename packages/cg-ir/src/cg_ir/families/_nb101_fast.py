"""Structural builder of ``nb101`` graphs: the torch.fx graph of nasbench-pytorch's ``Network``.

It follows ``Network.forward`` and ``Cell.forward`` of nasbench-pytorch 1.3 node by node, in
the order torch.fx records them, with their module paths as names:

- a vertex adds up its inputs (``zeros_like`` + ``+=``; the zero start folds away, leaving a
  chain of binary adds in input order: earlier vertices, then the input's 1x1 projection);
- an input from an earlier vertex with more channels is cut to the vertex's width (``truncate``,
  a ``slice`` node); the input is always projected (1x1 conv-BN-ReLU) to the vertex's width;
- the output concatenates the vertices feeding it in vertex order, plus (``add``) the input's
  projection when the input feeds the output directly.

The graph is built from the given vertex order: callers pass the canonical form.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.families._nb101_cell import Matrix, vertex_channels

__all__ = ["build_cg"]

_STEM = 128
_STACKS = 3
_CELLS_PER_STACK = 3
_RESOLUTION = 32
_CLASSES = 10


# Node factories are cached: graphs share their (immutable) nodes, so building and validating
# them costs a dictionary look-up per node instead of a construction. Each takes the module
# path of its cell first.
@cache
def _conv_bn_relu(
    path: str, suffix: str, c_in: int, c_out: int, size: int, kernel: int
) -> tuple[Node, ...]:
    x: Shape = (c_in, size, size)
    y: Shape = (c_out, size, size)
    pad = kernel // 2
    prefix = f"{path}.{suffix}.conv_bn_relu" if suffix else f"{path}.conv_bn_relu"
    return (
        Node(
            "conv",
            x,
            y,
            (kernel, kernel),
            (1, 1),
            (pad, pad),
            (1, 1),
            1,
            c_in,
            c_out,
            name=f"{prefix}.0",
        ),
        Node("batch_norm", y, y, affine=True, name=f"{prefix}.1"),
        Node("relu", y, y, name=f"{prefix}.2"),
    )


@cache
def _max_pool(path: str, suffix: str, c: int, size: int) -> tuple[Node, ...]:
    s: Shape = (c, size, size)
    return (Node("max_pool", s, s, (3, 3), (1, 1), (1, 1), (1, 1), name=f"{path}.{suffix}"),)


@cache
def _function_node(path: str, op: str, c_in: int, c_out: int, size: int) -> tuple[Node, ...]:
    """A function call in a cell (add, concat, slice), named after the cell."""
    return (Node(op, (c_in, size, size), (c_out, size, size), name=path),)


_Factory = Callable[..., tuple[Node, ...]]
_Plan = tuple[tuple[tuple[_Factory, tuple[object, ...]], ...], tuple[tuple[int, int], ...]]


@lru_cache(maxsize=8192)
def _cell_plan(matrix: Matrix, ops: tuple[str, ...], c_in: int, c_out: int, size: int) -> _Plan:
    """How to make one cell: node factory calls (path left out) and edges between their nodes.

    Local node indices count the nodes the calls make, in order; -1 is the cell input.
    """
    n = len(matrix)
    out = n - 1
    channels = vertex_channels(c_in, c_out, matrix)
    steps: list[tuple[_Factory, tuple[object, ...]]] = []
    edges: list[tuple[int, int]] = []
    count = 0

    def emit(source: int, factory: _Factory, *args: object) -> int:
        # every factory makes a chain of nodes; returns the index of its last node
        nonlocal count
        steps.append((factory, args))
        length = 1 if factory is not _conv_bn_relu else 3
        edges.append((source, count))
        edges.extend((count + k, count + k + 1) for k in range(length - 1))
        count += length
        return count - 1

    def nary(op: str, sources: list[int], c: int) -> int:
        nonlocal count
        steps.append((_function_node, (op, c, c, size)))
        edges.extend((src, count) for src in sources)
        count += 1
        return count - 1

    def project(target: int) -> int:
        return emit(-1, _conv_bn_relu, f"input_op.{target}", c_in, channels[target], size, 1)

    value = [-1] * n
    for t in range(1, out):
        fan_in = []
        for src in range(1, t):
            if matrix[src][t]:
                if channels[src] == channels[t]:
                    fan_in.append(value[src])
                else:
                    fan_in.append(
                        emit(value[src], _function_node, "slice", channels[src], channels[t], size)
                    )
        if matrix[0][t]:
            fan_in.append(project(t))
        total = fan_in[0]
        for addend in fan_in[1:]:
            total = nary("add", [total, addend], channels[t])
        suffix = f"vertex_op.{t}"
        if ops[t] == "maxpool3x3":
            value[t] = emit(total, _max_pool, f"{suffix}.maxpool", channels[t], size)
        else:
            kernel = 3 if ops[t] == "conv3x3-bn-relu" else 1
            suffix += f".conv{kernel}x{kernel}"
            value[t] = emit(total, _conv_bn_relu, suffix, channels[t], channels[t], size, kernel)
    feeders = [value[v] for v in range(1, out) if matrix[v][out]]
    if not feeders:
        project(out)
    else:
        result = feeders[0] if len(feeders) == 1 else nary("concat", feeders, c_out)
        if matrix[0][out]:
            nary("add", [result, project(out)], c_out)
    return tuple(steps), tuple(edges)


def build_cg(matrix: Matrix, ops: tuple[str, ...]) -> ComputationGraph:
    """The graph of nasbench-pytorch's ``Network`` (stem 128, 3 x 3 cells) for this cell."""
    image: Shape = (3, _RESOLUTION, _RESOLUTION)
    nodes = [Node("input", image, image), *_conv_bn_relu("layers.0", "", 3, _STEM, _RESOLUTION, 3)]
    edges = [(0, 1), (1, 2), (2, 3)]
    current = 3
    layer, c, size = 1, _STEM, _RESOLUTION
    for stack in range(_STACKS):
        if stack:
            half = size // 2
            nodes.append(
                Node(
                    "max_pool",
                    (c, size, size),
                    (c, half, half),
                    (2, 2),
                    (2, 2),
                    (0, 0),
                    (1, 1),
                    name=f"layers.{layer}",
                )
            )
            edges.append((current, len(nodes) - 1))
            current, layer, size = len(nodes) - 1, layer + 1, half
        for index in range(_CELLS_PER_STACK):
            c_out = c * 2 if stack and not index else c
            steps, cell_edges = _cell_plan(matrix, ops, c, c_out, size)
            base = len(nodes)
            path = f"layers.{layer}"
            for factory, args in steps:
                nodes.extend(factory(path, *args))
            edges.extend((current if s < 0 else base + s, base + d) for s, d in cell_edges)
            current, layer, c = len(nodes) - 1, layer + 1, c_out
    pooled: Shape = (c, 1, 1)
    logits: Shape = (_CLASSES, 1, 1)
    for node in (
        Node("global_avg_pool", (c, size, size), pooled),
        Node(
            "linear",
            pooled,
            logits,
            in_channels=c,
            out_channels=_CLASSES,
            bias=True,
            name="classifier",
        ),
        Node("output", logits, logits),
    ):
        edges.append((current, len(nodes)))
        current = len(nodes)
        nodes.append(node)
    return ComputationGraph(nodes, edges)
