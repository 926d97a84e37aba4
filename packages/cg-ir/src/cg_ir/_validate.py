"""Invariants of a computation graph, checked on construction."""

from __future__ import annotations

from collections.abc import Sequence

from cg_ir._node import (
    ADAPTIVE_POOL_OPS,
    ELEMENTWISE_OPS,
    NARY_OPS,
    POOL_OPS,
    UPSAMPLE_OPS,
    Node,
    Shape,
)
from cg_ir._vocab import vocabulary
from cg_ir.errors import InvalidGraphError

__all__ = ["validate_graph"]


def _fail(index: int, node: Node, problem: str) -> InvalidGraphError:
    label = f"{node.op} {node.name!r}" if node.name else node.op
    return InvalidGraphError(f"node {index} ({label}): {problem}")


def _pool_extent(size: int, k: int, s: int, p: int, d: int = 1) -> tuple[int, int]:
    """Output sizes of a sliding window with floor and with ceil rounding."""
    span = size + 2 * p - d * (k - 1) - 1
    return span // s + 1, -(-span // s) + 1


def _broadcasts_to(shape: Shape, target: Shape) -> bool:
    return all(a == b or a == 1 for a, b in zip(shape, target, strict=True))


def _check_inputs(i: int, node: Node, inputs: list[Shape]) -> None:
    """The checks that relate a node to the shapes of the tensors it receives."""
    op = node.op
    if op == "input":
        if inputs:
            raise _fail(i, node, "the input node has predecessors")
        return
    if not inputs:
        raise _fail(i, node, "has no predecessor, but only the input node may be a source")
    if op in NARY_OPS:
        if len(inputs) < 2:
            raise _fail(i, node, f"{op} needs at least 2 inputs, got {len(inputs)}")
        if op == "concat":
            if any(s[1:] != node.output_shape[1:] for s in inputs):
                raise _fail(i, node, f"concat inputs {inputs} differ in H, W")
            if sum(s[0] for s in inputs) != node.output_shape[0]:
                raise _fail(i, node, f"concat of {inputs} does not give {node.output_shape}")
        elif not all(_broadcasts_to(s, node.output_shape) for s in inputs):
            raise _fail(i, node, f"{op} inputs {inputs} do not broadcast to {node.output_shape}")
        return
    if len(inputs) != 1:
        raise _fail(i, node, f"{op} takes one input, got {len(inputs)}")
    if inputs[0] != node.input_shape:
        raise _fail(i, node, f"receives {inputs[0]} but declares input_shape {node.input_shape}")


def _check_node(i: int, node: Node) -> None:  # noqa: C901 - one case per op
    """The checks of a node on its own: known op, positive shapes, consistent attributes."""
    op = node.op
    if op not in vocabulary():
        known = ", ".join(vocabulary().ops)
        raise _fail(
            i, node, f"unknown op {op!r}; the vocabulary {vocabulary().version} has {known}"
        )
    if any(d < 1 for d in (*node.input_shape, *node.output_shape)):
        raise _fail(i, node, "tensor dimensions must be positive")
    c_in, h_in, w_in = node.input_shape
    c_out, h_out, w_out = node.output_shape
    if op in NARY_OPS:
        if node.input_shape != node.output_shape:
            raise _fail(i, node, f"{op} must have input_shape == output_shape")
    elif op in ("conv", "depthwise_conv"):
        if node.in_channels != c_in or node.out_channels != c_out:
            raise _fail(i, node, "in/out_channels disagree with the tensor shapes")
        if node.groups < 1 or c_in % node.groups or c_out % node.groups:
            raise _fail(i, node, f"groups={node.groups} must divide {c_in} and {c_out}")
        if (op == "depthwise_conv") != (node.groups == c_in > 1):
            raise _fail(i, node, "depthwise_conv needs groups == in_channels > 1; conv must not")
        for axis, size, out in ((0, h_in, h_out), (1, w_in, w_out)):
            floor, _ = _pool_extent(
                size,
                node.kernel_size[axis],
                node.stride[axis],
                node.padding[axis],
                node.dilation[axis],
            )
            if out != floor:
                raise _fail(i, node, f"spatial output {node.output_shape} should have {floor}")
    elif op == "linear":
        per_position = node.in_channels == c_in and (h_out, w_out) == (h_in, w_in)
        flattened = node.in_channels == c_in * h_in * w_in and (h_out, w_out) == (1, 1)
        if not (per_position or flattened) or node.out_channels != c_out:
            raise _fail(
                i,
                node,
                f"linear {node.in_channels}->{node.out_channels} does not "
                f"map {node.input_shape} to {node.output_shape}",
            )
    elif op in ELEMENTWISE_OPS or op in ("output", "input"):
        if node.input_shape != node.output_shape:
            raise _fail(i, node, f"{op} must keep the shape")
    elif op in POOL_OPS:
        if c_in != c_out:
            raise _fail(i, node, "pooling must keep the channels")
        for axis, size, out in ((0, h_in, h_out), (1, w_in, w_out)):
            sizes = _pool_extent(
                size,
                node.kernel_size[axis],
                node.stride[axis],
                node.padding[axis],
                max(node.dilation[axis], 1),
            )
            if out not in sizes:
                raise _fail(i, node, f"pooled size {out} is not one of {sizes}")
    elif op in ADAPTIVE_POOL_OPS or op in UPSAMPLE_OPS:
        if c_in != c_out:
            raise _fail(i, node, f"{op} must keep the channels")
        if op.startswith("global") and (h_out, w_out) != (1, 1):
            raise _fail(i, node, "global pooling must output 1x1")
    elif op == "slice":
        if node.input_shape[1:] != node.output_shape[1:] or c_out > c_in:
            raise _fail(i, node, "slice keeps H, W and takes at most the input's channels")


# Nodes are immutable and shared between graphs (fast paths reuse them), so a node that
# passed its own checks once never needs them again.
_valid_nodes: set[Node] = set()


def validate_graph(nodes: Sequence[Node], edges: Sequence[tuple[int, int]]) -> None:
    """Raise InvalidGraphError unless (nodes, edges) is a well-formed computation graph.

    Nodes must be listed in a topological order (every edge goes forward), which also proves
    the graph acyclic; node 0 is the single ``input`` and the last node the single ``output``.
    """
    n = len(nodes)
    if n < 2:
        raise InvalidGraphError(f"a computation graph needs an input and an output node, got {n}")
    inputs: list[list[Shape]] = [[] for _ in range(n)]
    has_successor = [False] * n
    for src, dst in edges:
        if not (0 <= src < n and 0 <= dst < n):
            raise InvalidGraphError(f"edge ({src}, {dst}) refers to a node outside 0..{n - 1}")
        if src >= dst:
            raise InvalidGraphError(
                f"edge ({src}, {dst}) goes backwards: nodes must be listed in topological order "
                "(a graph that cannot be ordered so has a cycle)"
            )
        inputs[dst].append(nodes[src].output_shape)
        has_successor[src] = True
    last = n - 1
    for i, node in enumerate(nodes):
        if node not in _valid_nodes:
            _check_node(i, node)
            if len(_valid_nodes) < 1_000_000:
                _valid_nodes.add(node)
        if (node.op == "input") != (i == 0) or (node.op == "output") != (i == last):
            raise _fail(i, node, "exactly one input node (first) and one output node (last)")
        if i < last and not has_successor[i]:
            raise _fail(i, node, "has no successor, but only the output node may be a sink")
        _check_inputs(i, node, inputs[i])
