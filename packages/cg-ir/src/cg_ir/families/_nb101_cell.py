"""NAS-Bench-101 cell algorithms on plain tuples: pruning, canonical form, hash, channels.

Written from the descriptions in NAS-Bench-101 (Ying et al., ICML 2019) and its reference
code's behaviour; the tests check ``module_hash`` against the hashes of the NAS-Bench-101 data
and the canonical form against its parameter counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

__all__ = [
    "HASH_OPS",
    "Matrix",
    "canonical_form",
    "live_vertices",
    "module_hash",
    "prune",
    "vertex_channels",
]

Matrix = tuple[tuple[int, ...], ...]

HASH_OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
"""NAS-Bench-101's op order: labels of ``module_hash`` and of its enumeration of cells."""


def live_vertices(matrix: Sequence[Sequence[int]]) -> list[int]:
    """Vertices on some input -> output path (input and output included when joined)."""
    n = len(matrix)
    from_input = [False] * n
    from_input[0] = True
    for j in range(1, n):
        from_input[j] = any(from_input[i] and matrix[i][j] for i in range(j))
    to_output = [False] * n
    to_output[n - 1] = True
    for i in range(n - 2, -1, -1):
        to_output[i] = any(to_output[j] and matrix[i][j] for j in range(i + 1, n))
    return [v for v in range(n) if from_input[v] and to_output[v]]


def prune(matrix: Matrix, ops: tuple[str, ...]) -> tuple[Matrix, tuple[str, ...]] | None:
    """Drop the vertices off every input -> output path; None when the output is cut off."""
    keep = live_vertices(matrix)
    if not keep or keep[-1] != len(matrix) - 1 or keep[0] != 0:
        return None
    if len(keep) == len(matrix):
        return matrix, ops
    return tuple(tuple(matrix[i][j] for j in keep) for i in keep), tuple(ops[v] for v in keep)


def _topological_orders(n: int, preds: list[list[int]]) -> list[tuple[int, ...]]:
    """Every order of the interior vertices 1..n-2 in which each comes after its predecessors."""
    orders: list[tuple[int, ...]] = []
    stack: list[tuple[int, ...]] = [()]
    while stack:
        prefix = stack.pop()
        if len(prefix) == n - 2:
            orders.append(prefix)
            continue
        placed = set(prefix)
        for v in range(n - 2, 0, -1):
            if v not in placed and all(u in placed for u in preds[v]):
                stack.append((*prefix, v))
    return orders


@lru_cache(maxsize=65536)
def canonical_form(matrix: Matrix, ops: tuple[str, ...]) -> tuple[Matrix, tuple[str, ...]]:
    """The vertex order in which NAS-Bench-101 listed (and trained) this cell.

    NAS-Bench-101 enumerated cells by vertex count, then by the integer whose bits are the
    upper-triangle entries, then by op labels, and kept the first cell of each isomorphism
    class; so the representative is the relabeling (interior vertices permuted, edges still
    going forward) with the smallest (edge bits, op labels). It matters beyond naming: the
    network splits the output channels unevenly over the vertices feeding the output in
    vertex order, so isomorphic cells in other orders can get other widths.
    """
    n = len(matrix)
    preds = [[u for u in range(1, v) if matrix[u][v]] for v in range(n)]
    edges = [(i, j) for i in range(n) for j in range(i + 1, n) if matrix[i][j]]
    best: tuple[int, tuple[int, ...]] | None = None
    best_order: tuple[int, ...] = ()
    position = [0] * n
    position[n - 1] = n - 1
    for interior in _topological_orders(n, preds):
        for new, old in enumerate(interior, start=1):
            position[old] = new
        bits = 0  # the upper triangle column by column, least significant bit first
        for i, j in edges:
            a, b = position[i], position[j]
            bits |= 1 << (a + b * (b - 1) // 2)
        key = (bits, tuple(HASH_OPS.index(ops[v]) for v in interior))
        if best is None or key < best:
            best, best_order = key, interior
    order = (0, *best_order, n - 1)  # new position -> old vertex
    if order == tuple(range(n)):
        return matrix, ops
    relabeled = tuple(tuple(matrix[i][j] for j in order) for i in order)
    return relabeled, tuple(ops[v] for v in order)


def module_hash(matrix: Matrix, ops: tuple[str, ...]) -> str:
    """NAS-Bench-101's ``hash_module`` of a pruned cell (an MD5 hex digest).

    Vertex labels are -1 (input), -2 (output) and the ``HASH_OPS`` index; each vertex starts
    from the hash of (out-degree, in-degree, label) and is refined ``n`` times with the sorted
    hashes of its in- and out-neighbours; the digest is the hash of the sorted vertex hashes.
    """
    n = len(matrix)
    labels = [-1, *(HASH_OPS.index(op) for op in ops[1:-1]), -2]
    preds = [[i for i in range(n) if matrix[i][j]] for j in range(n)]
    succs = [[j for j in range(n) if matrix[i][j]] for i in range(n)]

    def md5(text: str) -> str:
        return hashlib.md5(text.encode("utf-8")).hexdigest()

    hashes = [md5(str((len(succs[v]), len(preds[v]), labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [
            md5(
                "".join(sorted(hashes[w] for w in preds[v]))
                + "|"
                + "".join(sorted(hashes[w] for w in succs[v]))
                + "|"
                + hashes[v]
            )
            for v in range(n)
        ]
    return md5(str(sorted(hashes)))


def vertex_channels(c_in: int, c_out: int, matrix: Matrix) -> tuple[int, ...]:
    """Channels of every vertex of a cell mapping ``c_in`` to ``c_out`` channels.

    The vertices feeding the output split ``c_out`` evenly, the first ones (in vertex order)
    taking one extra channel each for the remainder; every other interior vertex gets the
    largest width among its interior successors.
    """
    n = len(matrix)
    channels = [0] * n
    channels[0], channels[-1] = c_in, c_out
    feeders = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    if feeders:
        share, extra = divmod(c_out, len(feeders))
        for rank, v in enumerate(feeders):
            channels[v] = share + (1 if rank < extra else 0)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max((channels[d] for d in range(v + 1, n - 1) if matrix[v][d]), default=0)
    return tuple(channels)
