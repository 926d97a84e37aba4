"""Isomorphism-invariant node colours, graph hash and canonical node order.

Each node gets a forward colour (its features and the sorted colours of its predecessors,
computed in topological order: a digest of everything upstream) and a backward colour (the
same downstream, in reverse order). The pair is the node's colour. Two passes over the edges
suffice because the graph is a DAG listed in topological order.

Limits: like the Weisfeiler-Lehman test, the colours can coincide for non-isomorphic graphs
whose nodes see identical unfolded neighbourhoods in both directions; such pairs hash equal.
Colliding colours inside one graph are usually automorphic nodes, whose order does not
change the canonical form; otherwise ties are broken by the original node order, so the
canonical form of such a graph may depend on the order it was built in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from cg_ir._node import Node

__all__ = ["canonical_order", "graph_digest", "node_colors"]


@lru_cache(maxsize=65536)
def _label(features: tuple[object, ...]) -> bytes:
    return hashlib.blake2b(repr(features).encode(), digest_size=16).digest()


def _combine(own: bytes, neighbours: list[bytes]) -> bytes:
    neighbours.sort()
    return hashlib.blake2b(own + b"".join(neighbours), digest_size=16).digest()


def node_colors(
    nodes: Sequence[Node],
    predecessors: Sequence[Sequence[int]],
    successors: Sequence[Sequence[int]],
) -> list[bytes]:
    """One isomorphism-invariant colour per node."""
    labels = [_label(node.features()) for node in nodes]
    forward: list[bytes] = []
    for i, own in enumerate(labels):
        forward.append(_combine(own, [forward[p] for p in predecessors[i]]))
    backward: list[bytes] = [b""] * len(nodes)
    for i in range(len(nodes) - 1, -1, -1):
        backward[i] = _combine(labels[i], [backward[s] for s in successors[i]])
    return [f + b for f, b in zip(forward, backward, strict=True)]


def canonical_order(colors: Sequence[bytes]) -> list[int]:
    """Node indices sorted by colour (ties in original order)."""
    return sorted(range(len(colors)), key=colors.__getitem__)


def graph_digest(colors: Sequence[bytes], version: str) -> str:
    """Hex digest of the multiset of node colours, tagged with the vocabulary version."""
    h = hashlib.sha256(version.encode())
    for color in sorted(colors):
        h.update(color)
    return h.hexdigest()
