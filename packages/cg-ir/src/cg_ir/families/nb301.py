"""The ``nb301`` family: the DARTS space of NAS-Bench-301 (Siems et al., 2020) on CIFAR-10.

A spec is two DARTS cells, ``normal`` and ``reduce``, each 8 ``(input_node, op_id)`` pairs:
two per intermediate node 2..5, in node order. Inputs 0 and 1 are the outputs of the cells
two back and one back; inputs 2.. are earlier intermediate nodes of the same cell. Op ids are
``0=max_pool_3x3, 1=avg_pool_3x3, 2=skip_connect, 3=sep_conv_3x3, 4=sep_conv_5x5,
5=dil_conv_3x3, 6=dil_conv_5x5``. Node ``i`` is ``op_a(h_a) + op_b(h_b)`` and the cell's
output is the channel concat of nodes 2..5. The two inputs of a node must differ, as in
DARTS (which keeps the two strongest distinct predecessors) and NB-301's configuration space;
all 725 keys of NAS-Bench-Suite-Zero obey it. Since node 2 can only read inputs 0 and 1, every
cell then uses both of its inputs, so no cell and no preprocessing layer is ever dead.

The network (``_nb301_module``) is the DARTS evaluation network ``NetworkCIFAR`` at a small
macro size, chosen for cheap graphs: C=16 initial channels (NB-301 trained C=32; at C=32
this module's parameter counts are 0.6-1.1% above the ``params`` proxy of
``zc_nasbench301.json``, which NASLib measured on its own DARTS network), 8 cells,
reductions at cells 2 and 5 (``layers // 3`` and ``2 * layers // 3``), stem multiplier 3
(conv 3x3 3->48 without bias + BN), no auxiliary head, no drop path, global average pooling
and a linear 256->10 classifier. Ops follow DARTS:

- ``sep_conv_kxk``: ReLU, depthwise conv k (stride s), pointwise 1x1, BN, ReLU, depthwise conv
  k, pointwise 1x1, BN; ``dil_conv_kxk``: ReLU, depthwise conv k dilation 2, pointwise, BN.
  Depthwise convs lower to ``depthwise_conv`` primitives, pointwise ones to ``conv``.
- pools: 3x3, stride s, padding 1 (``avg_pool`` with ``count_include_pad=False``) and nothing
  after them: DARTS adds a BN after pooling only in its search network.
- ``skip_connect``: the identity (folds away), or ``FactorizedReduce`` where it has stride 2.
- Cell preprocessing: ReLU-conv1x1-BN, or ``FactorizedReduce`` for input 0 when the previous
  cell reduced. Every BN is affine; no conv has a bias.

Deviation from DARTS: ``FactorizedReduce`` is ReLU, then two 1x1 stride-2 convs (C_out/2
channels each) whose outputs are concatenated, then BN. DARTS feeds the second conv
``x[:, :, 1:, 1:]`` (the grid shifted by one pixel); a spatial crop has no cg-ir primitive
and no parameters or FLOPs, so here both convs read the unshifted ReLU output. Parameters,
FLOPs, shapes and the graph (less the parameter-free crop) are DARTS's; only which pixels the
second conv samples differs.

Keys: NASLib's compact string, ``"[[(0, 0), (1, 5), ...8 pairs], [(1, 0), ...8 pairs]]"``;
``key`` writes exactly that form (pair order kept), so ``key(parse(k)) == k`` for every key of
``zc_nasbench301.json``.

Examples:
    >>> from cg_ir.families.nb301 import FAMILY
    >>> key = ("[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
    ...        "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]")
    >>> spec = FAMILY.parse(key)
    >>> spec.names("normal")[:2]
    (('max_pool_3x3', 0), ('dil_conv_3x3', 1))
    >>> FAMILY.key(spec) == key
    True
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np

from cg_ir.errors import CgIrError, InvalidSpecError
from cg_ir.families._base import Family

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "CHANNELS",
    "CLASSES",
    "FAMILY",
    "LAYERS",
    "NB301Family",
    "NB301Spec",
    "OP_NAMES",
    "RESOLUTION",
    "STEM_MULTIPLIER",
    "CellPlan",
    "cell_plans",
]

OP_NAMES = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""Op names by NASLib op id."""
NODES = 4
"""Intermediate nodes per cell (2..5)."""
PAIRS = 2 * NODES
CHANNELS = 16
LAYERS = 8
STEM_MULTIPLIER = 3
CLASSES = 10
RESOLUTION = 32

Pair = tuple[int, int]
CellType = Literal["normal", "reduce"]
_CELL_TYPES: tuple[CellType, CellType] = ("normal", "reduce")
_KEY_FORM = "'[[(0, 0), (1, 5), ... 8 pairs], [(1, 0), ... 8 pairs]]'"
_OP_LIST = ", ".join(f"{i}={name}" for i, name in enumerate(OP_NAMES))


def _op_id(where: str, op: object) -> int:
    if isinstance(op, str):
        if op not in OP_NAMES:
            raise InvalidSpecError(f"{where}: unknown op {op!r}; choose from {OP_NAMES}")
        return OP_NAMES.index(op)
    if isinstance(op, bool) or not isinstance(op, int | np.integer):
        raise InvalidSpecError(f"{where}: op {op!r} is neither an op id nor an op name")
    if not 0 <= op < len(OP_NAMES):
        raise InvalidSpecError(f"{where}: unknown op id {op}; ids are {_OP_LIST}")
    return int(op)


def _cell(cell_type: str, pairs: object) -> tuple[Pair, ...]:
    """The validated pairs of one cell (see ``NB301Spec``)."""
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or len(pairs) != PAIRS:
        got = len(pairs) if isinstance(pairs, Sequence) and not isinstance(pairs, str) else None
        raise InvalidSpecError(
            f"{cell_type} cell: expected {PAIRS} (input_node, op_id) pairs, two per intermediate "
            f"node 2..{NODES + 1}; got " + (f"{got} pairs" if got is not None else repr(pairs))
        )
    out: list[Pair] = []
    for position, pair in enumerate(pairs):
        node = 2 + position // 2
        where = f"{cell_type} cell, pair {position} (node {node})"
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise InvalidSpecError(f"{where}: expected an (input_node, op_id) pair, got {pair!r}")
        source, op = pair
        if isinstance(source, bool) or not isinstance(source, int | np.integer):
            raise InvalidSpecError(f"{where}: input node {source!r} is not an integer")
        if not 0 <= source < node:
            raise InvalidSpecError(
                f"{where}: input node {source} is not < {node}; node {node} reads the cell "
                f"inputs 0, 1 or the earlier nodes 2..{node - 1}"
                if node > 2
                else f"{where}: input node {source} is not < 2; node 2 reads the cell inputs 0 or 1"
            )
        out.append((int(source), _op_id(where, op)))
        if position % 2 and out[-1][0] == out[-2][0]:
            raise InvalidSpecError(
                f"{cell_type} cell, node {node}: both pairs read input {source}; a DARTS node "
                "adds two distinct inputs (as in NAS-Bench-301's space)"
            )
    return tuple(out)


@dataclass(frozen=True)
class NB301Spec:
    """One NAS-Bench-301 (DARTS) architecture: a normal and a reduction cell.

    Args:
        normal: 8 ``(input_node, op_id)`` pairs, two per intermediate node 2..5 in node order;
            the op may also be given by name (stored as its id).
        reduce: the same for the reduction cells.

    Raises:
        InvalidSpecError: not 8 pairs, an input node not below its node, both inputs of a
            node equal, or an unknown op.
    """

    normal: tuple[Pair, ...]
    reduce: tuple[Pair, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "normal", _cell("normal", self.normal))
        object.__setattr__(self, "reduce", _cell("reduce", self.reduce))

    def cell(self, cell_type: CellType) -> tuple[Pair, ...]:
        """The pairs of the ``"normal"`` or ``"reduce"`` cell."""
        return self.reduce if cell_type == "reduce" else self.normal

    def names(self, cell_type: CellType) -> tuple[tuple[str, int], ...]:
        """The cell as a DARTS genotype list: ``(op_name, input_node)`` pairs."""
        return tuple((OP_NAMES[op], source) for source, op in self.cell(cell_type))


class CellPlan(NamedTuple):
    """Where a cell sits in the network and the shapes around it.

    ``in0``/``in1`` are the (C, H, W) of the outputs of the cells two back and one back (the
    stem for the first cells), ``channels`` the per-node channels C; the cell outputs
    ``4 * channels`` at half the resolution of ``in1`` when it reduces.
    """

    position: int
    reduction: bool
    reduction_prev: bool
    in0: tuple[int, int, int]
    in1: tuple[int, int, int]
    channels: int

    @property
    def size(self) -> int:
        """Spatial size of the cell's nodes."""
        return self.in1[1] // 2 if self.reduction else self.in1[1]

    @property
    def out(self) -> tuple[int, int, int]:
        """Shape of the cell's output: the concat of its 4 nodes."""
        return (NODES * self.channels, self.size, self.size)


def cell_plans(
    channels: int = CHANNELS, layers: int = LAYERS, resolution: int = RESOLUTION
) -> tuple[CellPlan, ...]:
    """The cells of DARTS' ``NetworkCIFAR``, reducing at ``layers // 3`` and ``2 * layers // 3``."""
    stem = (STEM_MULTIPLIER * channels, resolution, resolution)
    in0, in1, c = stem, stem, channels
    plans = []
    reduction_prev = False
    for position in range(layers):
        reduction = position in (layers // 3, 2 * layers // 3)
        c = 2 * c if reduction else c
        plan = CellPlan(position, reduction, reduction_prev, in0, in1, c)
        plans.append(plan)
        in0, in1, reduction_prev = in1, plan.out, reduction
    return tuple(plans)


def _parse_literal(key: str) -> object:
    try:
        return ast.literal_eval(key.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise InvalidSpecError(
            f"cannot parse nb301 key {key!r}: expected NASLib's compact string {_KEY_FORM}"
        ) from None


def _key_cell(pairs: Sequence[Pair]) -> str:
    return "[" + ", ".join(f"({source}, {op})" for source, op in pairs) + "]"


class NB301Family(Family[NB301Spec]):
    """The NAS-Bench-301 (DARTS) space of the module docstring."""

    name = "nb301"
    size = None

    def parse(self, key: str) -> NB301Spec:
        """The spec of NASLib's compact string ``"[[(in, op), ...8], [(in, op), ...8]]"``.

        Raises:
            InvalidSpecError: malformed key or invalid cell; the message says which pair.
        """
        if not isinstance(key, str):
            raise InvalidSpecError(f"an nb301 key is a string, got {key!r}")
        value = _parse_literal(key)
        if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
            raise InvalidSpecError(
                f"nb301 key {key!r} is not a [normal, reduce] pair of cells; "
                f"expected NASLib's compact string {_KEY_FORM}"
            )
        return NB301Spec(*value)

    def key(self, spec: NB301Spec) -> str:
        """NASLib's compact string, e.g. ``"[[(0, 0), (1, 5), ...], [(1, 0), ...]]"``."""
        return f"[{_key_cell(spec.normal)}, {_key_cell(spec.reduce)}]"

    def input_shape(self, spec: NB301Spec) -> tuple[int, int, int, int]:
        """One CIFAR-10 image: ``(1, 3, 32, 32)``."""
        return (1, 3, RESOLUTION, RESOLUTION)

    def to_module(self, spec: NB301Spec) -> torch.nn.Module:
        """The DARTS ``NetworkCIFAR`` of ``spec`` (see the module docstring)."""
        from cg_ir.families._nb301_module import NB301Network

        return NB301Network(spec.normal, spec.reduce, cell_plans(), CLASSES)

    def to_cg(self, spec: NB301Spec) -> ComputationGraph:
        """The graph built structurally, without torch (equal to ``trace_cg``)."""
        from cg_ir.families._nb301_fast import build_cg

        return build_cg(spec.normal, spec.reduce)

    def sample(self, rng: np.random.Generator) -> NB301Spec:
        """DARTS-style: each node reads 2 distinct random earlier nodes through random ops."""
        cells = []
        for _ in _CELL_TYPES:
            pairs: list[Pair] = []
            for node in range(2, 2 + NODES):
                sources = rng.choice(node, size=2, replace=False)
                ops = rng.integers(len(OP_NAMES), size=2)
                pairs.extend((int(s), int(o)) for s, o in zip(sources, ops, strict=True))
            cells.append(tuple(pairs))
        return NB301Spec(*cells)

    def mutate(self, spec: NB301Spec, rng: np.random.Generator) -> NB301Spec:
        """One pair of one cell gets another op or another input, so that the graph changes.

        Every such neighbour (another op id, or another input that keeps the node's two inputs
        distinct) is tried in random order; the first whose graph has a different canonical
        hash is returned.

        Raises:
            CgIrError: no neighbour changes the graph (does not happen in this space).
        """
        own = self.to_cg(spec).canonical_hash()
        moves: list[tuple[int, int, Pair]] = []
        for c, cell_type in enumerate(_CELL_TYPES):
            pairs = spec.cell(cell_type)
            for position, (source, op) in enumerate(pairs):
                other = pairs[position ^ 1][0]  # the node's other input
                moves += [(c, position, (source, o)) for o in range(len(OP_NAMES)) if o != op]
                moves += [
                    (c, position, (s, op))
                    for s in range(2 + position // 2)
                    if s not in (source, other)
                ]
        for index in rng.permutation(len(moves)):
            c, position, pair = moves[int(index)]
            cells = [list(spec.normal), list(spec.reduce)]
            cells[c][position] = pair
            candidate = NB301Spec(tuple(cells[0]), tuple(cells[1]))
            if self.to_cg(candidate).canonical_hash() != own:
                return candidate
        raise CgIrError(f"no one-pair mutation of nb301 spec {self.key(spec)} changes its graph")


FAMILY = NB301Family()
