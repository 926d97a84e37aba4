"""Hand-built example graphs of schema v2 (tokens, attention, owned tensors), for tests."""

from __future__ import annotations

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node

__all__ = ["attention_graph"]


def attention_graph() -> ComputationGraph:
    """A tiny vision transformer: patch embedding, position embedding, one attention block.

    The image (3, 32, 32) becomes 16 tokens of 16 features (``(16, 16)``); two heads of 8
    features attend (scores ``(2, 16, 16)``); the token mean feeds a 10-way linear head.

    Examples:
        >>> g = attention_graph()
        >>> g.op_histogram()["matmul"], g.params, g.output_shape
        (2, 4362, (10, 1, 1))
    """
    tokens, heads, scores = (16, 16), (2, 16, 8), (2, 16, 16)
    nodes = [
        Node("input", (3, 32, 32), (3, 32, 32)),  # 0
        Node("conv", (3, 32, 32), (16, 4, 4), (8, 8), (8, 8), (0, 0), (1, 1), 1, 3, 16, True),
        Node("reshape", (16, 4, 4), (16, 16)),  # 2: flatten(2)
        Node("transpose", (16, 16), tokens),  # 3: transpose(1, 2) -> (L, C)
        Node("parameter", (1, 16, 16), (1, 16, 16), name="pos_embed"),  # 4
        Node("add", tokens, tokens),  # 5
        Node("layer_norm", tokens, tokens, in_channels=16, affine=True),  # 6
    ]
    edges = [(0, 1), (1, 2), (2, 3), (3, 5), (4, 5), (5, 6)]

    def head(source: int, transposed: bool) -> int:
        """A projection split into heads: linear, reshape, transpose; returns its last node."""
        first = len(nodes)
        out = (2, 8, 16) if transposed else heads
        nodes.extend(
            [
                Node("linear", tokens, tokens, in_channels=16, out_channels=16, bias=True),
                Node("reshape", tokens, (16, 2, 8)),
                Node("transpose", (16, 2, 8), out),
            ]
        )
        edges.extend([(source, first), (first, first + 1), (first + 1, first + 2)])
        return first + 2

    q, k, v = head(6, False), head(6, True), head(6, False)
    at = len(nodes)
    nodes.extend(
        [
            Node("matmul", heads, scores, in_channels=8),  # q @ k^T
            Node("scale", scores, scores),
            Node("softmax", scores, scores),
            Node("matmul", scores, heads, in_channels=16),  # attention @ v
            Node("transpose", heads, (16, 2, 8)),
            Node("reshape", (16, 2, 8), tokens),
            Node("reduce_mean", tokens, (16, 1, 1)),
            Node("linear", (16, 1, 1), (10, 1, 1), in_channels=16, out_channels=10, bias=True),
            Node("output", (10, 1, 1), (10, 1, 1)),
        ]
    )
    edges.extend([(q, at), (k, at), (at, at + 1), (at + 1, at + 2), (at + 2, at + 3), (v, at + 3)])
    edges.extend((at + i, at + i + 1) for i in range(3, 8))
    return ComputationGraph(nodes, edges)
