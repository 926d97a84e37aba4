"""Invariants of a computation graph, checked on construction."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

from cg_ir._node import (
    ADAPTIVE_POOL_OPS,
    ELEMENTWISE_OPS,
    NARY_OPS,
    PAD_OPS,
    POOL_OPS,
    REDUCE_OPS,
    SOURCE_OPS,
    UPSAMPLE_OPS,
    Node,
    Shape,
)
from cg_ir._vocab import vocabulary
from cg_ir.errors import InvalidGraphError

__all__ = ["validate_graph"]

_IMAGE_OPS = (
    frozenset({"conv", "depthwise_conv", "filter"})
    | POOL_OPS
    | ADAPTIVE_POOL_OPS
    | UPSAMPLE_OPS
    | PAD_OPS
)
"""Ops that only act on (C, H, W) feature maps."""
_SHAPE_KEEPING_OPS = ELEMENTWISE_OPS | SOURCE_OPS | frozenset({"output", "roll"})


def _fail(index: int, node: Node, problem: str) -> InvalidGraphError:
    label = f"{node.op} {node.name!r}" if node.name else node.op
    return InvalidGraphError(f"node {index} ({label}): {problem}")


def _pool_extent(size: int, k: int, s: int, p: int, d: int = 1) -> tuple[int, int]:
    """Output sizes of a sliding window with floor and with ceil rounding."""
    span = size + 2 * p - d * (k - 1) - 1
    return span // s + 1, -(-span // s) + 1


def _broadcasts_to(shape: Shape, target: Shape) -> bool:
    """Torch's broadcasting, right-aligned; extra leading axes of ``shape`` must be 1."""
    extra = len(shape) - len(target)
    if extra > 0 and any(d != 1 for d in shape[:extra]):
        return False
    return all(a == b or a == 1 for a, b in zip(shape[::-1], target[::-1], strict=False))


def _concatenates_to(inputs: list[Shape], target: Shape) -> bool:
    """Whether ``inputs`` joined along one axis give ``target``."""
    if any(len(s) != len(target) for s in inputs):
        return False
    for axis in range(len(target)):
        others_equal = all(
            s[:axis] + s[axis + 1 :] == target[:axis] + target[axis + 1 :] for s in inputs
        )
        if others_equal and sum(s[axis] for s in inputs) == target[axis]:
            return True
    return False


def _check_matmul(i: int, node: Node, inputs: list[Shape]) -> None:
    if len(inputs) != 2:
        raise _fail(i, node, f"matmul takes two inputs (a, b), got {len(inputs)}")
    a, b = inputs
    k = node.in_channels
    if a != node.input_shape:
        raise _fail(i, node, f"receives a={a} but declares input_shape {node.input_shape}")
    if len(b) < 2 or b[-2] != k or node.output_shape[-1] != b[-1]:
        raise _fail(i, node, f"b={b} does not give ({k}, N) -> {node.output_shape}")
    batch = node.output_shape[:-2]
    if not (_broadcasts_to(a[:-2], batch) and _broadcasts_to(b[:-2], batch)):
        raise _fail(i, node, f"batch axes of a={a} and b={b} do not broadcast to {batch}")


def _check_inputs(i: int, node: Node, inputs: list[Shape]) -> None:
    """The checks that relate a node to the shapes of the tensors it receives."""
    op = node.op
    if op in SOURCE_OPS:
        if inputs:
            raise _fail(i, node, f"a {op} node is a source but has predecessors")
        return
    if not inputs:
        raise _fail(
            i,
            node,
            "has no predecessor; only input, parameter and constant nodes are sources",
        )
    if op == "matmul":
        _check_matmul(i, node, inputs)
        return
    if op == "gather":  # an owned tensor looked up by others (a bias table by an index)
        if inputs[0] != node.input_shape:
            raise _fail(
                i, node, f"receives {inputs[0]} but declares input_shape {node.input_shape}"
            )
        return
    if op in NARY_OPS:
        if len(inputs) < 2:
            raise _fail(i, node, f"{op} needs at least 2 inputs, got {len(inputs)}")
        if op == "concat":
            if not _concatenates_to(inputs, node.output_shape):
                raise _fail(
                    i, node, f"concat of {inputs} along one axis does not give {node.output_shape}"
                )
        elif not all(_broadcasts_to(s, node.output_shape) for s in inputs):
            raise _fail(i, node, f"{op} inputs {inputs} do not broadcast to {node.output_shape}")
        return
    if len(inputs) != 1:
        raise _fail(i, node, f"{op} takes one input, got {len(inputs)}")
    if inputs[0] != node.input_shape:
        raise _fail(i, node, f"receives {inputs[0]} but declares input_shape {node.input_shape}")


def _check_windows(i: int, node: Node, exact: bool) -> None:
    """Spatial output sizes of a conv (floor rounding) or pooling window (floor or ceil)."""
    _, h_in, w_in = node.input_shape
    _, h_out, w_out = node.output_shape
    for axis, size, out in ((0, h_in, h_out), (1, w_in, w_out)):
        sizes = _pool_extent(
            size,
            node.kernel_size[axis],
            node.stride[axis],
            node.padding[axis],
            max(node.dilation[axis], 1),
        )
        if exact and out != sizes[0]:
            raise _fail(i, node, f"spatial output {node.output_shape} should have {sizes[0]}")
        if out not in sizes:
            raise _fail(i, node, f"pooled size {out} is not one of {sizes}")


def _check_linear(i: int, node: Node) -> None:
    shape_in, shape_out = node.input_shape, node.output_shape
    k, n = node.in_channels, node.out_channels
    image = len(shape_in) == 3 and len(shape_out) == 3 and shape_out[0] == n
    per_position = image and k == shape_in[0] and shape_out[1:] == shape_in[1:]
    flattened = image and k == prod(shape_in) and shape_out[1:] == (1, 1)
    last_axis = shape_in[-1] == k and shape_out[:-1] == shape_in[:-1] and shape_out[-1] == n
    if not (per_position or flattened or last_axis):
        raise _fail(i, node, f"linear {k}->{n} does not map {shape_in} to {shape_out}")


def _check_conv(i: int, node: Node) -> None:
    c_in, c_out = node.input_shape[0], node.output_shape[0]
    if node.in_channels != c_in or node.out_channels != c_out:
        raise _fail(i, node, "in/out_channels disagree with the tensor shapes")
    if node.groups < 1 or c_in % node.groups or c_out % node.groups:
        raise _fail(i, node, f"groups={node.groups} must divide {c_in} and {c_out}")
    if node.op != "filter" and (node.op == "depthwise_conv") != (node.groups == c_in > 1):
        raise _fail(i, node, "depthwise_conv needs groups == in_channels > 1; conv must not")
    _check_windows(i, node, exact=True)


def _check_pad(i: int, node: Node) -> None:
    (c_in, h_in, w_in), (c_out, h_out, w_out) = node.input_shape, node.output_shape
    top, left = node.padding
    if c_in != c_out or top < 0 or left < 0 or h_out < h_in + top or w_out < w_in + left:
        raise _fail(
            i,
            node,
            f"padding (top, left)={node.padding} does not take {node.input_shape} "
            f"to {node.output_shape}",
        )


def _check_node(i: int, node: Node) -> None:  # noqa: C901 - one case per op family
    """The checks of a node on its own: known op, positive shapes, consistent attributes."""
    op = node.op
    if op not in vocabulary():
        known = ", ".join(vocabulary().ops)
        raise _fail(
            i, node, f"unknown op {op!r}; the vocabulary {vocabulary().version} has {known}"
        )
    shape_in, shape_out = node.input_shape, node.output_shape
    if not shape_in or not shape_out or any(d < 1 for d in (*shape_in, *shape_out)):
        raise _fail(i, node, "tensor shapes need at least one axis, all of positive size")
    if op in _IMAGE_OPS and (len(shape_in) != 3 or len(shape_out) != 3):
        raise _fail(i, node, f"{op} acts on (C, H, W) feature maps, got {shape_in}")
    if op in NARY_OPS:
        if shape_in != shape_out:
            raise _fail(i, node, f"{op} must have input_shape == output_shape")
    elif op == "matmul":
        if len(shape_in) < 2 or len(shape_out) < 2 or node.in_channels != shape_in[-1]:
            raise _fail(i, node, f"matmul of a={shape_in} must contract its last axis")
        if shape_out[-2] != shape_in[-2]:
            raise _fail(i, node, f"matmul output {shape_out} must keep a's rows {shape_in[-2]}")
    elif op in ("conv", "depthwise_conv", "filter"):
        _check_conv(i, node)
    elif op == "linear":
        _check_linear(i, node)
    elif op in _SHAPE_KEEPING_OPS:
        if shape_in != shape_out:
            raise _fail(i, node, f"{op} must keep the shape")
    elif op in POOL_OPS:
        if shape_in[0] != shape_out[0]:
            raise _fail(i, node, "pooling must keep the channels")
        _check_windows(i, node, exact=False)
    elif op in ADAPTIVE_POOL_OPS or op in UPSAMPLE_OPS:
        if shape_in[0] != shape_out[0]:
            raise _fail(i, node, f"{op} must keep the channels")
        if op.startswith("global") and shape_out[1:] != (1, 1):
            raise _fail(i, node, "global pooling must output 1x1")
    elif op in PAD_OPS:
        _check_pad(i, node)
    elif op == "slice":
        if len(shape_in) != len(shape_out) or any(
            o > s for s, o in zip(shape_in, shape_out, strict=True)
        ):
            raise _fail(i, node, f"slice of {shape_in} cannot give {shape_out}")
    elif op == "reshape":
        if prod(shape_in) != prod(shape_out):
            raise _fail(i, node, f"reshape of {shape_in} to {shape_out} changes the size")
    elif op == "expand":
        if not _broadcasts_to(shape_in, shape_out):
            raise _fail(i, node, f"{shape_in} does not broadcast to {shape_out}")
    elif op == "transpose":
        if sorted(shape_in) != sorted(shape_out):
            raise _fail(i, node, f"{shape_out} is not a permutation of the axes of {shape_in}")
    elif op in REDUCE_OPS and prod(shape_out) > prod(shape_in):
        raise _fail(i, node, f"{op} of {shape_in} cannot give more elements: {shape_out}")


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
