"""What a traced value is while the fx graph is lowered, and how tensor layouts map to shapes.

Every fx node's result becomes one of: a ``GraphTensor`` (a tensor computed from the network's
input, produced by a computation-graph node), ``Zeros`` (a known all-zero tensor outside the
graph, from ``zeros_like``; it folds away in ``add``), ``Opaque`` (a tensor not computed from the
input: a parameter, buffer or constant read with ``get_attr``), or a plain Python value
(sizes, devices, ints) that only shapes depend on. Tuples of these stay tuples.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod
from typing import Literal

from cg_ir._node import Shape

__all__ = [
    "GraphTensor",
    "Layout",
    "Opaque",
    "TensorMeta",
    "Zeros",
    "channel_dim",
    "graph_shape",
    "layout_of",
]

Layout = Literal["nchw", "nhwc", "flat", "other"]
"""How a tensor's torch shape holds its (C, H, W): ``(1, C, H, W)``, ``(1, H, W, C)``, a
flattened ``(1, C*H*W)``, or ``other`` (a passing shape, e.g. half way through two unsqueezes,
that only reshapes may consume)."""


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """A tensor's shape recorded by shape propagation (batch axis included)."""

    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GraphTensor:
    """A tensor produced by computation-graph node ``node``, held in ``layout``.

    The graph node's ``output_shape`` is the tensor's (C, H, W); ``shape`` is its torch shape.
    Reshapes and permutes change ``layout`` and ``shape`` but keep ``node``.
    """

    node: int
    layout: Layout
    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Zeros:
    """An all-zero tensor that no graph node computes (``zeros_like``); folds away in ``add``."""

    shape: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Opaque:
    """A tensor read with ``get_attr`` (parameter, buffer, constant): not part of the graph."""

    target: str


def graph_shape(shape: tuple[int, ...], layout: Layout) -> Shape | None:
    """The (C, H, W) of a fresh tensor of torch ``shape`` in ``layout`` (None if it has none).

    Examples:
        >>> graph_shape((1, 8, 4, 2), "nchw"), graph_shape((1, 4, 2, 8), "nhwc")
        ((8, 4, 2), (8, 4, 2))
        >>> graph_shape((1, 10), "flat"), graph_shape((1, 3, 5), "other")
        ((10, 1, 1), None)
    """
    if not shape or shape[0] != 1:
        return None
    if layout == "nchw" and len(shape) == 4:
        return shape[1], shape[2], shape[3]
    if layout == "nhwc" and len(shape) == 4:
        return shape[3], shape[1], shape[2]
    if layout == "flat" and len(shape) == 2:
        return shape[1], 1, 1
    return None


def layout_of(shape: tuple[int, ...], cg: Shape) -> Layout | None:
    """The layout in which torch ``shape`` holds the (C, H, W) ``cg`` after a reshape.

    A reshape keeps the element order, so it can flatten or unflatten a tensor but never move
    its channels last: only ``nchw`` and ``flat`` come out, ``other`` for a passing shape with
    as many elements, None when the reshape changes the (C, H, W) itself.
    """
    if not shape or shape[0] != 1 or prod(shape) != prod(cg):
        return None
    if shape == (1, *cg):
        return "nchw"
    if len(shape) == 2:
        return "flat"
    if len(shape) == 4:
        return None  # four axes that are not (C, H, W): the reshape changes the graph shape
    return "other"


def channel_dim(t: GraphTensor, cg: Shape) -> int | None:
    """The torch axis of ``t`` that holds its channels (None when no single axis does)."""
    if t.layout == "nchw":
        return 1
    if t.layout == "nhwc":
        return 3
    if t.layout == "flat" and cg[1:] == (1, 1):
        return 1
    return None
