"""The ``nb201`` family: the NAS-Bench-201 network (Dong & Yang, ICLR 2020) on CIFAR-10 inputs.

A cell is a DAG on 4 nodes (0 = cell input, 3 = cell output) whose 6 edges each carry one op;
node ``j`` is the sum of its incoming edges. A spec is the 6 op ids in NASLib's edge order
``(0->1), (0->2), (0->3), (1->2), (1->3), (2->3)`` with ids ``0=skip_connect, 1=none,
2=nor_conv_3x3, 3=nor_conv_1x1, 4=avg_pool_3x3``; 5^6 = 15,625 specs, all enumerable.

The network (NAS-Bench-201's macro skeleton, C=16, N=5): stem conv 3x3 (3->16, no bias) + BN;
three stages of 5 cells with 16, 32 and 64 channels on 32, 16 and 8 pixels, joined by two
residual reduction blocks (ReLU-conv3x3/2-BN -> ReLU-conv3x3-BN, shortcut avg-pool 2x2/2 + conv
1x1 without bias, then ``shortcut + body``); BN + ReLU, global average pooling, linear 64->10.
``nor_conv_kxk`` is ReLU -> conv kxk (no bias) -> BN (affine); ``avg_pool_3x3`` is
``AvgPool2d(3, 1, 1, count_include_pad=False)``; ``skip_connect`` is the identity.

Pruning (the module computes the pruned cell, so its parameter count equals the graph's):

- ``none`` edges vanish (they add zeros);
- a node that the cell input cannot reach through the remaining edges is dropped, and so is
  every op whose result never reaches the cell output (a dead end);
- node sums are chains of binary adds in edge order (no ``0 + x``), ``skip_connect`` folds away;
- **zero cells**: when no path joins the cell input to its output, the cell's output is all
  zeros. The whole cell then becomes one ``cg_ir.nn.Zero`` module, i.e. one ``zero`` node fed by
  the cell input, so every graph keeps a single input and a single output and the stages after
  it stay in the graph (they compute on zeros, as the real network does). 341 specs have
  such cells (every cell of a spec is the same).

Keys: NASLib's string of the 6-tuple, ``"(2, 2, 0, 4, 2, 0)"``; ``parse`` also accepts the
official arch string ``"|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|..."``.

Examples:
    >>> from cg_ir.families.nb201 import FAMILY
    >>> spec = FAMILY.parse("(0, 2, 3, 2, 3, 1)")
    >>> spec.names[:2], FAMILY.key(spec)
    (('skip_connect', 'nor_conv_3x3'), '(0, 2, 3, 2, 3, 1)')
    >>> FAMILY.parse(FAMILY.arch_str(spec)) == spec
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.errors import CgIrError, InvalidSpecError
from cg_ir.families._base import Family

if TYPE_CHECKING:
    import torch

    from cg_ir._graph import ComputationGraph

__all__ = [
    "CHANNELS",
    "CELLS_PER_STAGE",
    "CLASSES",
    "EDGES",
    "FAMILY",
    "OP_NAMES",
    "NB201Family",
    "NB201Spec",
    "live_edges",
]

OP_NAMES = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
"""Op names by NASLib op id."""
EDGES = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
"""(source, target) cell nodes of each spec position (NASLib's edge order)."""
NONE = 1  # op id of "none"
CHANNELS = (16, 32, 64)
CELLS_PER_STAGE = 5
CLASSES = 10
RESOLUTION = 32

# position in NASLib's order of the i-th edge of the official arch string (grouped by target)
_ARCH_ORDER = (0, 1, 3, 2, 4, 5)
_MUTATION_TRIES = len(EDGES) * (len(OP_NAMES) - 1)


def _op_id(position: int, op: object) -> int:
    if isinstance(op, str):
        if op not in OP_NAMES:
            raise InvalidSpecError(
                f"edge {position} {EDGES[position]}: unknown op {op!r}; choose from {OP_NAMES}"
            )
        return OP_NAMES.index(op)
    if isinstance(op, bool) or not isinstance(op, int | np.integer):
        raise InvalidSpecError(
            f"edge {position} {EDGES[position]}: op {op!r} is neither an op id nor an op name"
        )
    if not 0 <= op < len(OP_NAMES):
        raise InvalidSpecError(
            f"edge {position} {EDGES[position]}: op id {op} is out of range; ids are "
            + ", ".join(f"{i}={name}" for i, name in enumerate(OP_NAMES))
        )
    return int(op)


@dataclass(frozen=True)
class NB201Spec:
    """One NAS-Bench-201 cell: the op of each edge, in NASLib's edge order ``EDGES``.

    Args:
        ops: 6 op ids (``0=skip_connect, 1=none, 2=nor_conv_3x3, 3=nor_conv_1x1,
            4=avg_pool_3x3``) or op names; stored as ids.

    Raises:
        InvalidSpecError: not 6 ops, or an unknown op id or name.
    """

    ops: tuple[int, ...]

    def __post_init__(self) -> None:
        ops = self.ops
        if isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) != len(EDGES):
            raise InvalidSpecError(
                f"an nb201 spec has one op per edge {EDGES}, i.e. {len(EDGES)} ops; got {ops!r}"
            )
        object.__setattr__(self, "ops", tuple(_op_id(i, op) for i, op in enumerate(ops)))

    @property
    def names(self) -> tuple[str, ...]:
        """The op names, in edge order."""
        return tuple(OP_NAMES[op] for op in self.ops)


@cache
def live_edges(ops: tuple[int, ...]) -> tuple[tuple[int, int, int], ...] | None:
    """The (source, target, op id) edges that survive pruning, in edge order; None for a zero cell.

    An edge survives when its op is not ``none``, the cell input reaches its source and its
    target reaches the cell output (both through non-``none`` edges).
    """
    real = {edge for edge, op in zip(EDGES, ops, strict=True) if op != NONE}
    from_input = [True, False, False, False]
    for j in range(1, 4):
        from_input[j] = any(from_input[i] and (i, j) in real for i in range(j))
    to_output = [False, False, False, True]
    for i in range(2, -1, -1):
        to_output[i] = any(to_output[j] and (i, j) in real for j in range(i + 1, 4))
    if not to_output[0]:
        return None
    # grouped by target, sources ascending: the order in which the cell adds them up
    order = sorted(range(len(EDGES)), key=lambda e: (EDGES[e][1], EDGES[e][0]))
    return tuple(
        (EDGES[e][0], EDGES[e][1], ops[e])
        for e in order
        if ops[e] != NONE and from_input[EDGES[e][0]] and to_output[EDGES[e][1]]
    )


def _parse_tuple(key: str) -> NB201Spec:
    body = key.strip()
    if not (body.startswith("(") and body.endswith(")")):
        raise InvalidSpecError(
            f"cannot parse nb201 key {key!r}: expected NASLib's 6-tuple like "
            "'(0, 2, 3, 2, 3, 1)' or an arch string like '|nor_conv_3x3~0|+|...|'"
        )
    try:
        ops = [int(v) for v in body[1:-1].split(",") if v.strip()]
    except ValueError:
        raise InvalidSpecError(
            f"nb201 key {key!r} holds a value that is not an integer op id"
        ) from None
    return NB201Spec(tuple(ops))


def _parse_arch_str(key: str) -> NB201Spec:
    nodes = key.strip().split("+")
    if len(nodes) != 3:
        raise InvalidSpecError(
            f"nb201 arch string {key!r} has {len(nodes)} node groups; expected 3 joined by '+', "
            "like '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...~0|...~1|...~2|'"
        )
    in_arch_order: list[str] = []
    for target, group in enumerate(nodes, start=1):
        items = [item for item in group.strip().split("|") if item]
        sources = []
        for item in items:
            name, sep, source = item.partition("~")
            if not sep or not source.isdigit():
                raise InvalidSpecError(
                    f"nb201 arch string {key!r}: {item!r} is not of the form 'op~source'"
                )
            sources.append(int(source))
            in_arch_order.append(name)
        if sources != list(range(target)):
            raise InvalidSpecError(
                f"nb201 arch string {key!r}: node {target} lists sources {sources}, "
                f"expected {list(range(target))}"
            )
    ops = [0] * len(EDGES)
    for name, position in zip(in_arch_order, _ARCH_ORDER, strict=True):
        ops[position] = _op_id(position, name)
    return NB201Spec(tuple(ops))


class NB201Family(Family[NB201Spec]):
    """The NAS-Bench-201 space of the module docstring."""

    name = "nb201"
    size = len(OP_NAMES) ** len(EDGES)

    def parse(self, key: str) -> NB201Spec:
        """The spec of a NASLib 6-tuple string or an official arch string.

        Raises:
            InvalidSpecError: malformed key or invalid op; the message says which edge.
        """
        if not isinstance(key, str):
            raise InvalidSpecError(f"an nb201 key is a string, got {key!r}")
        if key.strip().startswith("|"):
            return _parse_arch_str(key)
        return _parse_tuple(key)

    def key(self, spec: NB201Spec) -> str:
        """NASLib's string of the 6-tuple, e.g. ``"(0, 2, 3, 2, 3, 1)"``."""
        return str(spec.ops)

    def arch_str(self, spec: NB201Spec) -> str:
        """The official NAS-Bench-201 arch string of ``spec``."""
        names = spec.names
        groups = []
        for target in range(1, 4):
            items = [f"{names[EDGES.index((source, target))]}~{source}" for source in range(target)]
            groups.append("|" + "|".join(items) + "|")
        return "+".join(groups)

    def input_shape(self, spec: NB201Spec) -> tuple[int, int, int, int]:
        """One 32x32 RGB image: ``(1, 3, 32, 32)``."""
        return (1, 3, RESOLUTION, RESOLUTION)

    def to_module(self, spec: NB201Spec) -> torch.nn.Module:
        """The pruned network (``_nb201_module.NB201Network``), freshly initialised."""
        from cg_ir.families._nb201_module import NB201Network

        return NB201Network(live_edges(spec.ops), CHANNELS, CELLS_PER_STAGE, CLASSES)

    def to_cg(self, spec: NB201Spec) -> ComputationGraph:
        """The graph built structurally, without torch (equal to ``trace_cg``)."""
        from cg_ir.families._nb201_fast import build_cg

        return build_cg(live_edges(spec.ops))

    def sample(self, rng: np.random.Generator) -> NB201Spec:
        """Uniform over the 15,625 specs."""
        return NB201Spec(tuple(int(op) for op in rng.integers(len(OP_NAMES), size=len(EDGES))))

    def mutate(self, spec: NB201Spec, rng: np.random.Generator) -> NB201Spec:
        """One edge gets another op, chosen so that the graph changes.

        The 24 one-edge neighbours are tried in random order; the first whose graph has a
        different canonical hash is returned.

        Raises:
            CgIrError: no neighbour changes the graph (does not happen in this space).
        """
        own = self.to_cg(spec).canonical_hash()
        moves = [
            (e, op) for e in range(len(EDGES)) for op in range(len(OP_NAMES)) if op != spec.ops[e]
        ]
        for index in rng.permutation(len(moves))[:_MUTATION_TRIES]:
            edge, op = moves[int(index)]
            ops = list(spec.ops)
            ops[edge] = op
            candidate = NB201Spec(tuple(ops))
            if self.to_cg(candidate).canonical_hash() != own:
                return candidate
        raise CgIrError(
            f"no one-edge mutation of nb201 spec {self.key(spec)} changes its graph "
            f"({_MUTATION_TRIES} neighbours tried)"
        )

    def enumerate(self) -> Iterator[NB201Spec]:
        """All 15,625 specs in lexicographic order of their 6-tuples."""
        for ops in itertools.product(range(len(OP_NAMES)), repeat=len(EDGES)):
            yield NB201Spec(ops)


FAMILY = NB201Family()
