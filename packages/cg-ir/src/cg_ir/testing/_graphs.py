"""Random valid computation graphs built directly from primitive nodes (no torch needed).

A graph grows one node at a time; each new node reads one or more earlier tensors with shapes
that fit (unary ops on any tensor, add/mul on equal or SE-broadcast shapes, concat on equal
H, W). The last node created is the result: nodes it does not depend on are dropped (as
torch.fx's dead-code elimination would), and an ``output`` node is appended. Every parameter
is chosen valid by construction, so nothing is filtered and shrinking leads to short chains.
"""

from __future__ import annotations

from hypothesis import strategies as st

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir.errors import InvalidArgumentError

__all__ = ["graphs", "reorderings"]

_UNARY = (
    "conv",
    "depthwise_conv",
    "linear",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "relu",
    "relu6",
    "hardswish",
    "hardsigmoid",
    "sigmoid",
    "silu",
    "gelu",
    "tanh",
    "max_pool",
    "avg_pool",
    "global_avg_pool",
    "global_max_pool",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "upsample_nearest",
    "upsample_bilinear",
    "slice",
    "zero",
)
_ELEMENTWISE = frozenset(
    {"layer_norm", "relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu", "tanh"}
)
# weights: mostly unary ops (convolutions doubled), sometimes a merge
_UNARY_CHOICES = (*_UNARY, "conv", "conv", "depthwise_conv")
_KINDS = ("unary",) * 5 + ("add", "mul", "concat")
_MAX_SIDE = 24


def _window(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _pair(draw: st.DrawFn, values: st.SearchStrategy[int]) -> tuple[int, int]:
    first = draw(values)
    return (first, first) if draw(st.booleans()) else (first, draw(values))


def _conv(draw: st.DrawFn, shape: Shape, depthwise: bool) -> Node | None:
    c, h, w = shape
    kernel = _pair(draw, st.sampled_from((1, 3, 5)))
    stride = _pair(draw, st.integers(1, 2))
    dilation = _pair(draw, st.integers(1, 2))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    out_h = _window(h, kernel[0], stride[0], padding[0], dilation[0])
    out_w = _window(w, kernel[1], stride[1], padding[1], dilation[1])
    if out_h < 1 or out_w < 1:
        return None
    if depthwise:
        if c < 2:
            return None
        groups, out_c = c, c * draw(st.integers(1, 2))
    else:
        out_c = draw(st.integers(1, 24))
        common = [g for g in range(1, min(c, out_c) + 1) if c % g == 0 and out_c % g == 0]
        # groups == in_channels > 1 would make it a depthwise conv
        groups = draw(st.sampled_from([g for g in common if not g == c > 1] or [1]))
    op = "depthwise_conv" if depthwise else "conv"
    return Node(
        op,
        shape,
        (out_c, out_h, out_w),
        kernel,
        stride,
        padding,
        dilation,
        groups,
        c,
        out_c,
        draw(st.booleans()),
    )


def _pool(draw: st.DrawFn, op: str, shape: Shape) -> Node | None:
    c, h, w = shape
    kernel = _pair(draw, st.integers(1, 3))
    stride = _pair(draw, st.integers(1, 2))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    out = (
        c,
        _window(h, kernel[0], stride[0], padding[0], 1),
        _window(w, kernel[1], stride[1], padding[1], 1),
    )
    if min(out) < 1:
        return None
    dilation = (1, 1) if op == "max_pool" else (0, 0)
    return Node(op, shape, out, kernel, stride, padding, dilation)


def _unary(draw: st.DrawFn, op: str, shape: Shape) -> Node | None:  # noqa: C901 - one case per op
    c, h, w = shape
    if op in ("conv", "depthwise_conv"):
        return _conv(draw, shape, op == "depthwise_conv")
    if op in ("max_pool", "avg_pool"):
        return _pool(draw, op, shape)
    if op in _ELEMENTWISE:
        affine = op == "layer_norm" and draw(st.booleans())
        return Node(op, shape, shape, affine=affine)
    if op in ("batch_norm", "group_norm"):
        return Node(op, shape, shape, affine=draw(st.booleans()))
    if op == "linear":
        out = draw(st.integers(1, 24))
        if draw(st.booleans()):  # on every position (channels-last)
            return Node(
                op, shape, (out, h, w), in_channels=c, out_channels=out, bias=draw(st.booleans())
            )
        return Node(
            op,
            shape,
            (out, 1, 1),
            in_channels=c * h * w,
            out_channels=out,
            bias=draw(st.booleans()),
        )
    if op.startswith("global"):
        return Node(op, shape, (c, 1, 1))
    if op.startswith("adaptive"):
        return Node(op, shape, (c, draw(st.integers(1, h)), draw(st.integers(1, w))))
    if op.startswith("upsample"):
        if max(h, w) * 2 > _MAX_SIDE:
            return None
        return Node(op, shape, (c, 2 * h, 2 * w))
    if op == "slice":
        return Node(op, shape, (draw(st.integers(1, c)), h, w))
    return Node("zero", shape, shape)


def _broadcasts(shape: Shape, target: Shape) -> bool:
    return all(a == b or a == 1 for a, b in zip(shape, target, strict=True))


@st.composite
def graphs(draw: st.DrawFn, max_nodes: int = 30) -> ComputationGraph:
    """A random valid graph of at most ``max_nodes`` nodes (input and output included)."""
    if max_nodes < 3:
        raise InvalidArgumentError(
            f"max_nodes must be at least 3 (input, one op, output), got {max_nodes}"
        )
    side = draw(st.integers(1, 12))
    first: Shape = (
        draw(st.integers(1, 16)),
        side,
        side if draw(st.booleans()) else draw(st.integers(1, 12)),
    )
    nodes = [Node("input", first, first)]
    inputs: list[list[int]] = [[]]
    for _ in range(draw(st.integers(1, max_nodes - 2))):
        # operands are counted back from the newest node: shrinking gives plain chains
        back = draw(st.integers(0, min(len(nodes) - 1, 4)))
        a = len(nodes) - 1 - back
        shape = nodes[a].output_shape
        kind = draw(st.sampled_from(_KINDS))
        node: Node | None = None
        sources = [a]
        if kind == "unary":
            node = _unary(draw, draw(st.sampled_from(_UNARY_CHOICES)), shape)
        else:
            if kind == "concat":
                fits = [i for i, n in enumerate(nodes) if n.output_shape[1:] == shape[1:]]
            else:  # equal shapes, or an SE-style scale (C,1,1) against (C,H,W)
                fits = [
                    i
                    for i, n in enumerate(nodes)
                    if _broadcasts(n.output_shape, shape) or _broadcasts(shape, n.output_shape)
                ]
            partners = draw(st.lists(st.sampled_from(fits), min_size=1, max_size=2))
            sources += partners
            shapes = [nodes[i].output_shape for i in sources]
            if kind == "concat":
                out: Shape = (sum(s[0] for s in shapes), shape[1], shape[2])
            else:
                out = (
                    max(s[0] for s in shapes),
                    max(s[1] for s in shapes),
                    max(s[2] for s in shapes),
                )
                if not all(_broadcasts(s, out) for s in shapes):
                    out = shape
                    sources = [i for i in sources if _broadcasts(nodes[i].output_shape, out)]
                    sources = sources if len(sources) >= 2 else [a, a]
            node = Node(kind, out, out)
        if node is not None:
            nodes.append(node)
            inputs.append(sources)
    # keep what the newest node depends on (dead-code elimination), then add the output
    keep = {len(nodes) - 1}
    for i in range(len(nodes) - 1, -1, -1):
        if i in keep:
            keep.update(inputs[i])
    order = sorted(keep)
    position = {old: new for new, old in enumerate(order)}
    names = draw(st.booleans())
    kept = [
        nodes[i]._replace(name=f"layers.{k}" if names and 0 < k else "")
        for k, i in enumerate(order)
    ]
    edges = [(position[s], position[d]) for d in order for s in inputs[d]]
    last = kept[-1].output_shape
    kept.append(Node("output", last, last))
    edges.append((len(kept) - 2, len(kept) - 1))
    return ComputationGraph(kept, edges)


@st.composite
def reorderings(draw: st.DrawFn, graph: ComputationGraph) -> ComputationGraph:
    """The same graph with its nodes in another random topological order.

    Each node keeps the order of its inputs; input and output stay first and last (they are
    the only source and sink).
    """
    remaining = [len(graph.predecessors(i)) for i in range(graph.num_nodes)]
    ready = [0]
    order: list[int] = []
    while ready:
        pick = ready.pop(draw(st.integers(0, len(ready) - 1)))
        order.append(pick)
        for s in graph.successors(pick):
            remaining[s] -= 1
            if remaining[s] == 0:
                ready.append(s)
    position = {old: new for new, old in enumerate(order)}
    nodes = [graph.nodes[i] for i in order]
    edges = [(position[s], position[d]) for d in order for s in graph.predecessors(d)]
    return ComputationGraph(nodes, edges)
