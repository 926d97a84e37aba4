"""The computation graph: an immutable, validated DAG of primitive operators."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from cg_ir import _hash
from cg_ir._node import BINARY_OPS, Node, Shape
from cg_ir._validate import validate_graph
from cg_ir._vocab import VOCAB_VERSION

if TYPE_CHECKING:
    import networkx as nx
    from torch_geometric.data import Data

__all__ = ["ComputationGraph"]

_COMMUTATIVE_OPS = frozenset({"add", "mul", "maximum", "minimum"})


class ComputationGraph:
    """A network as a DAG of primitive operators; edges are tensors and carry no features.

    Nodes are listed in topological order, the first is the single ``input`` node and the last
    the single ``output`` node. Besides the input, only ``parameter`` and ``constant`` nodes (the
    tensors a network owns, entering as operands) are sources. The graph is validated on
    construction (acyclic, one sink, shapes consistent along every edge, known ops) and cannot
    be changed afterwards. The order of a node's incoming edges is the order of its inputs (it
    matters for concat, sub, div and matmul).

    Examples:
        >>> from cg_ir import ComputationGraph, Node
        >>> g = ComputationGraph(
        ...     [Node("input", (3, 8, 8), (3, 8, 8)),
        ...      Node("relu", (3, 8, 8), (3, 8, 8)),
        ...      Node("output", (3, 8, 8), (3, 8, 8))],
        ...     [(0, 1), (1, 2)])
        >>> g.num_nodes, g.num_edges, g.params, g.flops
        (3, 2, 0, 192)
    """

    __slots__ = ("_colors", "_edges", "_hash", "_nodes", "_preds", "_succs")

    def __init__(self, nodes: Iterable[Node], edges: Iterable[tuple[int, int]]) -> None:
        node_tuple = tuple(nodes)
        edge_tuple = tuple(edges)
        if not all(type(node) is Node for node in node_tuple):
            node_tuple = tuple(n if isinstance(n, Node) else Node(*n) for n in node_tuple)
        if not all(type(e) is tuple for e in edge_tuple):
            edge_tuple = tuple((int(s), int(d)) for s, d in edge_tuple)
        validate_graph(node_tuple, edge_tuple)
        self._nodes = node_tuple
        self._edges = edge_tuple
        self._preds: tuple[tuple[int, ...], ...] | None = None
        self._succs: tuple[tuple[int, ...], ...] | None = None
        self._colors: list[bytes] | None = None
        self._hash: str | None = None

    # -- structure -----------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        return self._nodes

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return self._edges

    @property
    def num_nodes(self) -> int:
        return len(self._nodes)

    @property
    def num_edges(self) -> int:
        return len(self._edges)

    @property
    def input_shape(self) -> Shape:
        return self._nodes[0].output_shape

    @property
    def output_shape(self) -> Shape:
        return self._nodes[-1].output_shape

    def predecessors(self, index: int) -> tuple[int, ...]:
        """Producers of node ``index``'s inputs, in input order."""
        return self._adjacency()[0][index]

    def successors(self, index: int) -> tuple[int, ...]:
        return self._adjacency()[1][index]

    def _adjacency(self) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
        if self._preds is None or self._succs is None:
            preds: list[list[int]] = [[] for _ in self._nodes]
            succs: list[list[int]] = [[] for _ in self._nodes]
            for s, d in self._edges:
                preds[d].append(s)
                succs[s].append(d)
            self._preds = tuple(map(tuple, preds))
            self._succs = tuple(map(tuple, succs))
        return self._preds, self._succs

    # -- cost ----------------------------------------------------------------------------
    def node_params(self) -> list[int]:
        """Trainable parameters of every node (see ``Node.params``)."""
        return [node.params for node in self._nodes]

    def node_flops(self) -> list[int]:
        """FLOPs of every node at batch size 1 (see ``Node.flops``)."""
        preds = self._adjacency()[0]
        return [
            node.flops * (len(preds[i]) - 1) if node.op in BINARY_OPS else node.flops
            for i, node in enumerate(self._nodes)
        ]

    @property
    def params(self) -> int:
        return sum(self.node_params())

    @property
    def flops(self) -> int:
        return sum(self.node_flops())

    def op_histogram(self) -> dict[str, int]:
        """How many nodes of each op, most frequent first."""
        return dict(Counter(node.op for node in self._nodes).most_common())

    # -- identity ------------------------------------------------------------------------
    def _node_colors(self) -> list[bytes]:
        if self._colors is None:
            preds, succs = self._adjacency()
            self._colors = _hash.node_colors(self._nodes, preds, succs)
        return self._colors

    def canonical_hash(self) -> str:
        """A hex digest equal for isomorphic graphs, whatever their node order.

        Node names are ignored. Non-isomorphic graphs that the colour refinement of
        ``cg_ir._hash`` cannot tell apart hash equal (see that module for the limits).
        """
        if self._hash is None:
            self._hash = _hash.graph_digest(self._node_colors(), VOCAB_VERSION)
        return self._hash

    def canonical_order(self) -> list[int]:
        """Node indices in canonical order: by depth from the input, then by colour."""
        depth = [0] * self.num_nodes
        preds = self._adjacency()[0]
        for i in range(1, self.num_nodes):
            # parameter and constant nodes are sources like the input: depth 0
            depth[i] = 1 + max((depth[p] for p in preds[i]), default=-1)
        colors = self._node_colors()
        # the input first: parameter and constant sources share its depth
        return sorted(range(self.num_nodes), key=lambda i: (depth[i], i != 0, colors[i]))

    def canonical(self) -> ComputationGraph:
        """The same graph with nodes in canonical order and names dropped."""
        order = self.canonical_order()
        position = {old: new for new, old in enumerate(order)}
        nodes = [self._nodes[i]._replace(name="") for i in order]
        by_dst: dict[int, list[int]] = {}
        for s, d in self._edges:
            by_dst.setdefault(position[d], []).append(position[s])
        for d, sources in by_dst.items():
            if nodes[d].op in _COMMUTATIVE_OPS:  # elsewhere the input order changes the result
                sources.sort()
        edges = [(s, d) for d in sorted(by_dst) for s in by_dst[d]]
        return ComputationGraph(nodes, edges)

    def same_structure(self, other: ComputationGraph) -> bool:
        """True when both graphs have identical node features and edges in canonical order."""
        a, b = self.canonical(), other.canonical()
        return [n.features() for n in a.nodes] == [n.features() for n in b.nodes] and (
            a.edges == b.edges
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ComputationGraph):
            return NotImplemented
        return self._nodes == other._nodes and self._edges == other._edges

    def __hash__(self) -> int:
        return hash((self._nodes, self._edges))

    def __repr__(self) -> str:
        return (
            f"ComputationGraph(num_nodes={self.num_nodes}, num_edges={self.num_edges}, "
            f"params={self.params}, flops={self.flops})"
        )

    # -- conversion ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        from cg_ir._serialize import graph_to_dict

        return graph_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ComputationGraph:
        from cg_ir._serialize import graph_from_dict

        return graph_from_dict(data)

    def to_json(self, indent: int | None = None) -> str:
        """Serialize to JSON (schema and vocabulary versions included); see ``from_json``."""
        from cg_ir._serialize import graph_to_json

        return graph_to_json(self, indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> ComputationGraph:
        """Read a graph written by ``to_json``; the round trip is exact."""
        from cg_ir._serialize import graph_from_json

        return graph_from_json(text)

    def to_networkx(self) -> nx.MultiDiGraph:
        """A ``networkx.MultiDiGraph`` with the node fields as node attributes."""
        from cg_ir._export import to_networkx

        return to_networkx(self)

    def to_pyg(self) -> Data:
        """A ``torch_geometric.data.Data`` (needs the ``pyg`` extra); see ``cg_ir.features``."""
        from cg_ir._export import to_pyg

        return to_pyg(self)
