"""A small helper that structural graph builders use to append nodes the way torch.fx lowers.

Each method appends one node fed by the given node indices and returns its index; attributes
follow the lowering contract of ``cg_ir.fx.from_module`` (convs with "same"-style padding
``k // 2`` and dilation 1, norms with ``affine``, global pooling and elementwise ops without
attributes), so a builder that calls them in the module's order emits the traced graph.
"""

from __future__ import annotations

from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape

__all__ = ["GraphBuilder"]


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class GraphBuilder:
    """Nodes and edges of a graph under construction, starting with its ``input`` node.

    Examples:
        >>> b = GraphBuilder((3, 8, 8))
        >>> x = b.conv_bn(0, "stem", 4, 3, stride=2)
        >>> b.finish(b.unary(x, "relu", "act")).nodes[-2].output_shape
        (4, 4, 4)
    """

    def __init__(self, shape: Shape) -> None:
        self.nodes = [Node("input", shape, shape)]
        self.edges: list[tuple[int, int]] = []

    def shape(self, index: int) -> Shape:
        """The output shape of node ``index``."""
        return self.nodes[index].output_shape

    def add(self, node: Node, *sources: int) -> int:
        """Append ``node`` with edges from ``sources`` (in input order)."""
        index = len(self.nodes)
        self.nodes.append(node)
        self.edges.extend((s, index) for s in sources)
        return index

    def conv(
        self,
        src: int,
        name: str,
        c_out: int,
        kernel: int,
        stride: int = 1,
        depthwise: bool = False,
        bias: bool = False,
    ) -> int:
        """A square conv with padding ``kernel // 2`` (depthwise: groups = channels)."""
        c_in, h, w = self.shape(src)
        out = (c_out, _conv_out(h, kernel, stride), _conv_out(w, kernel, stride))
        node = Node(
            "depthwise_conv" if depthwise else "conv",
            (c_in, h, w),
            out,
            kernel_size=(kernel, kernel),
            stride=(stride, stride),
            padding=(kernel // 2, kernel // 2),
            dilation=(1, 1),
            groups=c_in if depthwise else 1,
            in_channels=c_in,
            out_channels=c_out,
            bias=bias,
            name=name,
        )
        return self.add(node, src)

    def unary(self, src: int, op: str, name: str, affine: bool = False) -> int:
        """A shape-keeping op: activation, or a norm (``affine`` for its scale and shift)."""
        shape = self.shape(src)
        return self.add(Node(op, shape, shape, affine=affine, name=name), src)

    def conv_bn(
        self, src: int, name: str, c_out: int, kernel: int, stride: int = 1, depthwise: bool = False
    ) -> int:
        """Conv without bias (``name.0``) then affine BatchNorm (``name.1``)."""
        x = self.conv(src, f"{name}.0", c_out, kernel, stride, depthwise)
        return self.unary(x, "batch_norm", f"{name}.1", affine=True)

    def elementwise(self, op: str, name: str, *sources: int) -> int:
        """``add`` or ``mul`` of the sources; the output has the first source's shape."""
        shape = self.shape(sources[0])
        return self.add(Node(op, shape, shape, name=name), *sources)

    def global_avg_pool(self, src: int, name: str) -> int:
        """Average over H and W to ``(C, 1, 1)``."""
        c, h, w = self.shape(src)
        return self.add(Node("global_avg_pool", (c, h, w), (c, 1, 1), name=name), src)

    def linear(self, src: int, name: str, c_out: int, bias: bool = True) -> int:
        """A linear layer on a ``(C, 1, 1)`` tensor (pooled features)."""
        c = self.shape(src)[0]
        node = Node(
            "linear",
            (c, 1, 1),
            (c_out, 1, 1),
            in_channels=c,
            out_channels=c_out,
            bias=bias,
            name=name,
        )
        return self.add(node, src)

    def finish(self, src: int) -> ComputationGraph:
        """Append the ``output`` node after ``src`` and validate the graph."""
        shape = self.shape(src)
        self.add(Node("output", shape, shape), src)
        return ComputationGraph(self.nodes, self.edges)
