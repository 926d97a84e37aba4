"""The ``nb101`` family: the NAS-Bench-101 network (Ying et al., ICML 2019) on CIFAR-10 inputs.

A cell is a DAG of at most 7 vertices (first = input, last = output) with at most 9 edges,
given by an upper-triangular 0/1 adjacency matrix and one op per vertex; interior ops are
``conv3x3-bn-relu``, ``conv1x1-bn-relu`` and ``maxpool3x3``. The network is nasbench-pytorch's
``Network`` (stem conv 3x3 to 128 channels, 3 stacks of 3 cells with 128/256/512 channels,
max-pool 2x2 between stacks, global average pooling, linear to 10), on a (1, 3, 32, 32) input.

Specs are pruned on construction, as NAS-Bench-101's ``ModelSpec`` does: vertices that lie on
no input -> output path are removed; the 9-edge limit applies to the pruned cell, as in
NAS-Bench-101 (NASLib's 56-tuples often list more edges before pruning). A spec keeps the
vertex order it was given; ``canonical`` gives the order NAS-Bench-101 itself used (its
enumeration's first member of the isomorphism class), and the network and graph of a spec are
always built from that form. So isomorphic specs give the same network, graph and hash, and
the parameter count is NAS-Bench-101's (nasbench-pytorch splits the output channels unevenly
in vertex order, so another vertex order can change widths: 527 of the 30,001 cells of
``nb101_nasbenchvis_30k.csv`` are listed in such an order).

Keys: NASLib's string of a 56-tuple, the 7x7 adjacency row by row then 7 op ids
(``0=input, 1=output, 2=maxpool3x3, 3=conv1x1-bn-relu, 4=conv3x3-bn-relu``). NASLib's keys
are its 7-vertex samples, mostly unpruned, and it has no 56-tuple of a smaller (pruned) cell;
so ``key`` pads a pruned cell of
``n < 7`` vertices with ``7 - n`` vertices that have no edges and op id 2, inserted before the
output vertex (pruning removes them again, so ``parse(key(spec)) == spec``). ``parse`` also
takes NASLib's ``n*n + n`` tuples of smaller cells and the ``"<matrix>|<ops>"`` form of the
NAS-Bench-101 CSV (``"0100...|input|conv3x3-bn-relu|...|output"``, see ``csv_key``).

Examples:
    >>> from cg_ir.families.nb101 import FAMILY
    >>> spec = FAMILY.parse("0110000100010000|input|conv3x3-bn-relu|maxpool3x3|output")
    >>> spec.num_vertices, spec.num_edges
    (4, 4)
    >>> FAMILY.key(spec)[-20:]  # ops; three padding vertices (id 2) before the output
    '0, 4, 2, 2, 2, 2, 1)'
    >>> FAMILY.parse(FAMILY.key(spec)) == spec
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.errors import CgIrError, InvalidSpecError
from cg_ir.families import _nb101_cell as cell
from cg_ir.families._base import Family

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "FAMILY",
    "MAX_EDGES",
    "MAX_VERTICES",
    "NASLIB_OPS",
    "OPS",
    "NB101Family",
    "NB101Spec",
    "module_hash",
]

OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
"""The interior ops."""
NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
"""Op names by NASLib op id."""
MAX_VERTICES = 7
MAX_EDGES = 9
_PAD_OP = 2  # NASLib id of the op written on padding vertices (they have no edges)
_SAMPLE_TRIES = 10_000
_NASLIB_IDS = ", ".join(f"{i}={name}" for i, name in enumerate(NASLIB_OPS))


def _matrix(matrix: object) -> cell.Matrix:
    rows = matrix.tolist() if isinstance(matrix, np.ndarray) else matrix
    if (
        isinstance(rows, str)
        or not isinstance(rows, Sequence)
        or not all(isinstance(r, Sequence) and not isinstance(r, str) for r in rows)
    ):
        raise InvalidSpecError(
            f"the adjacency matrix must be a square list of rows; got {matrix!r}"
        )
    n = len(rows)
    if any(len(r) != n for r in rows):
        raise InvalidSpecError(
            f"the adjacency matrix must be square (n x n); got {n} rows of lengths "
            f"{[len(r) for r in rows]}"
        )
    if n < 2:
        raise InvalidSpecError(f"a cell needs at least an input and an output vertex; got {n}")
    if n > MAX_VERTICES:
        raise InvalidSpecError(
            f"the cell has {n} vertices; NAS-Bench-101 allows at most {MAX_VERTICES}"
        )
    out = []
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            if v not in (0, 1) or isinstance(v, float):
                raise InvalidSpecError(f"matrix[{i}][{j}] = {v!r}; entries must be 0 or 1")
            if v and j <= i:
                raise InvalidSpecError(
                    f"matrix[{i}][{j}] = 1 is on or below the diagonal: the matrix must be "
                    "strictly upper-triangular (edges go from a vertex to a later one)"
                )
        out.append(tuple(int(v) for v in row))
    return tuple(out)


def _ops(ops: object, n: int) -> tuple[str, ...]:
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise InvalidSpecError(f"ops must be a list of op names, got {ops!r}")
    if len(ops) != n:
        raise InvalidSpecError(
            f"ops lists {len(ops)} ops for a {n}x{n} matrix; give one op per vertex"
        )
    if ops[0] != "input":
        raise InvalidSpecError(f"ops[0] must be 'input' (the first vertex), got {ops[0]!r}")
    if ops[-1] != "output":
        raise InvalidSpecError(f"ops[{n - 1}] must be 'output' (the last vertex), got {ops[-1]!r}")
    for v, op in enumerate(ops[1:-1], start=1):
        if op not in OPS:
            raise InvalidSpecError(f"ops[{v}] = {op!r} is not an interior op; choose from {OPS}")
    return tuple(str(op) for op in ops)


@dataclass(frozen=True)
class NB101Spec:
    """One NAS-Bench-101 cell, stored pruned (in the vertex order given).

    Args:
        matrix: n x n adjacency (n <= 7), strictly upper-triangular, 0/1; ``matrix[i][j]``
            is the edge from vertex i to vertex j. Lists, tuples or a numpy array.
        ops: n op names: ``"input"``, then interior ops from ``OPS``, then ``"output"``.

    Raises:
        InvalidSpecError: the message names the broken rule (shape, entries, triangle, ops,
            output not reachable from the input, more than 9 edges after pruning).
    """

    matrix: cell.Matrix
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        matrix = _matrix(self.matrix)
        ops = _ops(self.ops, len(matrix))
        pruned = cell.prune(matrix, ops)
        if pruned is None:
            raise InvalidSpecError(
                "the output vertex is not reachable from the input vertex; a cell needs a "
                "path of edges from the input to the output"
            )
        matrix, ops = pruned
        edges = sum(map(sum, matrix))
        if edges > MAX_EDGES:
            raise InvalidSpecError(
                f"the pruned cell has {edges} edges; NAS-Bench-101 allows at most {MAX_EDGES}"
            )
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "ops", ops)

    @property
    def num_vertices(self) -> int:
        """Vertices of the pruned cell, input and output included."""
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        """Edges of the pruned cell."""
        return sum(map(sum, self.matrix))


def module_hash(spec: NB101Spec) -> str:
    """NAS-Bench-101's module hash of ``spec`` (its key in the NAS-Bench-101 data).

    Examples:
        >>> module_hash(NB101Spec([[0, 1], [0, 0]], ["input", "output"]))
        '043721b9c7fe8c5fad811d47d83132ec'
    """
    return cell.module_hash(spec.matrix, spec.ops)


def _parse_tuple(key: str) -> NB101Spec:
    try:
        values = [int(v) for v in key.strip()[1:-1].split(",") if v.strip()]
    except ValueError:
        raise InvalidSpecError(f"nb101 key {key!r} holds a value that is not an integer") from None
    n = next((n for n in range(2, MAX_VERTICES + 1) if n * n + n == len(values)), None)
    if n is None:
        raise InvalidSpecError(
            f"nb101 key {key!r} has {len(values)} values; NASLib's tuple has n*n adjacency "
            f"entries then n op ids (56 for 7 vertices)"
        )
    ops = []
    for v, op in enumerate(values[n * n :]):
        if not 0 <= op < len(NASLIB_OPS):
            raise InvalidSpecError(
                f"nb101 key {key!r}: op id {op} of vertex {v} is not one of {_NASLIB_IDS}"
            )
        ops.append(NASLIB_OPS[op])
    matrix = [values[i * n : (i + 1) * n] for i in range(n)]
    return NB101Spec(matrix, ops)  # type: ignore[arg-type]  # normalised in __post_init__


def _parse_csv(key: str) -> NB101Spec:
    bits, *ops = key.strip().split("|")
    n = len(ops)
    if len(bits) != n * n or set(bits) - {"0", "1"}:
        raise InvalidSpecError(
            f"nb101 key {key!r}: the matrix part {bits!r} must be {n * n} characters 0/1 "
            f"(row-major {n}x{n}, one row per op listed)"
        )
    matrix = [[int(c) for c in bits[i * n : (i + 1) * n]] for i in range(n)]
    return NB101Spec(matrix, ops)  # type: ignore[arg-type]  # normalised in __post_init__


def _padded(spec: NB101Spec, pad_ops: Sequence[str]) -> tuple[list[list[int]], list[str]]:
    """``spec`` on 7 vertices: unconnected vertices with ``pad_ops`` go before the output."""
    pad = len(pad_ops)
    matrix = [[*row[:-1], *[0] * pad, row[-1]] for row in spec.matrix[:-1]]
    matrix += [[0] * (len(spec.ops) + pad) for _ in range(pad + 1)]
    return matrix, [*spec.ops[:-1], *pad_ops, spec.ops[-1]]


class NB101Family(Family[NB101Spec]):
    """The NAS-Bench-101 space of the module docstring (423,624 cells: too many to enumerate)."""

    name = "nb101"
    size = 423_624

    def parse(self, key: str) -> NB101Spec:
        """The spec of a NASLib tuple string or a ``"<matrix>|<ops>"`` CSV key (pruned).

        Raises:
            InvalidSpecError: malformed key or invalid cell; the message says what is wrong.
        """
        if not isinstance(key, str):
            raise InvalidSpecError(f"an nb101 key is a string, got {key!r}")
        text = key.strip()
        if text.startswith("(") and text.endswith(")"):
            return _parse_tuple(text)
        if "|" in text:
            return _parse_csv(text)
        raise InvalidSpecError(
            f"cannot parse nb101 key {key!r}: expected NASLib's 56-tuple '(0, 1, ..., 4, 1)' or "
            "'<matrix 0/1 string>|input|...|output'"
        )

    def key(self, spec: NB101Spec) -> str:
        """NASLib's 56-tuple string of ``spec`` (padded to 7 vertices, see the module doc)."""
        matrix, ops = _padded(spec, [NASLIB_OPS[_PAD_OP]] * (MAX_VERTICES - spec.num_vertices))
        ids = (NASLIB_OPS.index(op) for op in ops)
        return str((*(v for row in matrix for v in row), *ids))

    def csv_key(self, spec: NB101Spec) -> str:
        """The ``"<matrix>|<ops>"`` form of the NAS-Bench-101 CSV (no padding)."""
        bits = "".join(str(v) for row in spec.matrix for v in row)
        return "|".join((bits, *spec.ops))

    def canonical(self, spec: NB101Spec) -> NB101Spec:
        """The isomorphic spec in NAS-Bench-101's own vertex order (see the module doc)."""
        matrix, ops = cell.canonical_form(spec.matrix, spec.ops)
        return spec if matrix is spec.matrix else NB101Spec(matrix, ops)

    def module_hash(self, spec: NB101Spec) -> str:
        """NAS-Bench-101's module hash of ``spec``."""
        return module_hash(spec)

    def input_shape(self, spec: NB101Spec) -> tuple[int, int, int, int]:
        """One 32x32 RGB image: ``(1, 3, 32, 32)``."""
        return (1, 3, 32, 32)

    def to_module(self, spec: NB101Spec) -> torch.nn.Module:
        """nasbench-pytorch's ``Network`` of the canonical form of ``spec``.

        nasbench-pytorch gives every unused input/op slot a ``Placeholder`` holding a scalar
        parameter that never enters the forward pass; NAS-Bench-101 does not count them, so
        they are frozen (``requires_grad=False``) and trainable parameters equal the graph's.
        """
        from nasbench_pytorch.model import Network
        from nasbench_pytorch.model.model import Placeholder

        matrix, ops = cell.canonical_form(spec.matrix, spec.ops)
        network: torch.nn.Module = Network(
            (np.array(matrix), list(ops)),
            num_labels=10,
            stem_out_channels=128,
            num_stacks=3,
            num_modules_per_stack=3,
        )
        for module in network.modules():
            if isinstance(module, Placeholder):
                module.a.requires_grad_(False)
        return network

    def trace_cg(self, spec: NB101Spec) -> ComputationGraph:
        """The graph traced with torch.fx from ``to_module(spec)``.

        nasbench-pytorch's ``truncate`` branches on a shape, so it is kept whole (autowrapped)
        and lowered as a channel slice.
        """
        from nasbench_pytorch.model.model import truncate

        from cg_ir.fx import from_module

        return from_module(
            self.to_module(spec), self.input_shape(spec), autowrap_functions=(truncate,)
        )

    def to_cg(self, spec: NB101Spec) -> ComputationGraph:
        """The graph built structurally, without torch (equal to ``trace_cg``)."""
        from cg_ir.families._nb101_fast import build_cg

        return build_cg(*cell.canonical_form(spec.matrix, spec.ops))

    def sample(self, rng: np.random.Generator) -> NB101Spec:
        """A random cell by rejection sampling as NASLib does, in canonical form.

        Draws a 7x7 upper-triangular matrix with fair-coin edges and uniform interior ops
        until NAS-Bench-101 accepts the pruned cell.
        """
        for _ in range(_SAMPLE_TRIES):
            matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
            interior = [OPS[int(i)] for i in rng.integers(len(OPS), size=MAX_VERTICES - 2)]
            try:
                spec = NB101Spec(matrix, ("input", *interior, "output"))  # type: ignore[arg-type]
            except InvalidSpecError:
                continue
            return self.canonical(spec)
        raise CgIrError(f"no valid nb101 cell in {_SAMPLE_TRIES} random draws")

    def mutate(self, spec: NB101Spec, rng: np.random.Generator) -> NB101Spec:
        """Flip one edge or change one interior op; the result is canonical, with another graph.

        The cell is padded to 7 vertices (random ops on the new, unconnected vertices, so an
        added edge can bring them in). Every single change (21 edge flips, 10 op changes) is
        tried in random order until one gives a valid cell whose graph has another canonical
        hash; only if none does (the 2-vertex cell input -> output, whose every single change
        is invalid) are pairs of changes tried the same way.

        Raises:
            CgIrError: no single change nor pair of changes qualified.
        """
        own = self.to_cg(spec).canonical_hash()
        pad = MAX_VERTICES - spec.num_vertices
        matrix0, ops0 = _padded(spec, [OPS[int(i)] for i in rng.integers(len(OPS), size=pad)])
        moves = [(i, j, "") for j in range(1, MAX_VERTICES) for i in range(j)]
        moves += [(v, 0, op) for v in range(1, MAX_VERTICES - 1) for op in OPS if op != ops0[v]]
        for size in (1, 2):
            combos = list(itertools.combinations(range(len(moves)), size))
            for index in rng.permutation(len(combos)):
                matrix = [row[:] for row in matrix0]
                ops = ops0[:]
                for i, j, op in (moves[m] for m in combos[int(index)]):
                    if op:
                        ops[i] = op
                    else:
                        matrix[i][j] ^= 1
                try:
                    candidate = self.canonical(NB101Spec(matrix, ops))  # type: ignore[arg-type]
                except InvalidSpecError:
                    continue
                if self.to_cg(candidate).canonical_hash() != own:
                    return candidate
        raise CgIrError(
            f"no change nor pair of changes of nb101 spec {self.key(spec)} gives another valid "
            "graph"
        )


FAMILY = NB101Family()
