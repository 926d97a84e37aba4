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

import torch

from cg_ir._layouts import channel_axis, feature_map_shape
from cg_ir._node import Shape

__all__ = [
    "GraphTensor",
    "Layout",
    "Opaque",
    "TensorMeta",
    "TensorSource",
    "Zeros",
    "channel_dim",
    "graph_tensors",
    "is_feature_map",
    "graph_shape",
    "layout_for",
    "layout_of",
    "recorded_shape",
]

Layout = Literal["nchw", "nhwc", "flat", "other", "any"]
"""How a tensor's torch shape holds its graph shape: ``(1, C, H, W)``, ``(1, H, W, C)``, a
flattened ``(1, C*H*W)``, ``other`` (a pending reshape: the torch shape differs from the graph
shape, whose elements it holds in the same order; a consumer that needs the new shape gets a
``reshape`` node, one that reshapes again folds it), or ``any``: the graph shape is
``recorded_shape`` of the torch shape, in torch's element order (tokens, heads, scores)."""


@dataclass(frozen=True, slots=True)
class TensorMeta:
    """A tensor's shape (batch axis included) and dtype recorded by shape propagation."""

    shape: tuple[int, ...]
    dtype: torch.dtype = torch.float32


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
class TensorSource:
    """A tensor the network owns: a parameter, a buffer or a constant made in ``forward``."""

    name: str
    shape: tuple[int, ...]
    trainable: bool


@dataclass(frozen=True, slots=True)
class Opaque:
    """A tensor not computed from the input, which folds into the op that consumes it.

    It is a parameter, buffer or constant read with ``get_attr``, or anything computed from
    such tensors alone (weight standardisation, a gathered bias table). ``shape`` is its
    torch shape; ``sources`` are the tensors it was computed from.
    """

    target: str
    shape: tuple[int, ...]
    sources: tuple[TensorSource, ...]
    dtype: torch.dtype = torch.float32  # index buffers stay integer when code runs on them

    @property
    def trainable_numel(self) -> int:
        """How many trainable values it was computed from."""
        return sum(prod(s.shape) for s in self.sources if s.trainable)


def graph_tensors(value: object) -> list[GraphTensor]:
    """The graph tensors inside ``value`` (nested tuples, lists and dicts included)."""
    if isinstance(value, GraphTensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in graph_tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in graph_tensors(v)]
    return []


def is_feature_map(t: GraphTensor) -> bool:
    """Whether ``t`` is held in a v1 layout: a feature map or a vector, not tokens or heads."""
    return t.layout in ("nchw", "nhwc", "flat")


def graph_shape(shape: tuple[int, ...], layout: Layout) -> Shape | None:
    """The (C, H, W) of a fresh tensor of torch ``shape`` in ``layout`` (None if it has none)."""
    return feature_map_shape(shape, layout)


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
    return channel_axis(t.layout, cg)


def recorded_shape(shape: tuple[int, ...]) -> Shape:
    """The graph shape of a tensor recorded as torch holds it, without the batch axis.

    The batch axis is the first axis of size 1 (at batch size 1 it leads, unless a permute
    moved it: timm's ``qkv`` of torch shape ``(3, 1, heads, N, d)``); a shape without one
    merged the batch into another axis (Swin's windows ``(nW, N, C)``) and is kept whole.
    Vectors are ``(N, 1, 1)`` as in v1.

    Examples:
        >>> recorded_shape((1, 197, 768)), recorded_shape((3, 1, 12, 197, 64))
        ((197, 768), (3, 12, 197, 64))
        >>> recorded_shape((64, 49, 96)), recorded_shape((1, 10)), recorded_shape((96,))
        ((64, 49, 96), (10, 1, 1), (96,))
    """
    if 1 not in shape:
        return shape
    axis = shape.index(1)
    kept = shape[:axis] + shape[axis + 1 :]
    if len(kept) == 1:
        return (kept[0], 1, 1)
    return kept if kept else (1, 1, 1)


def layout_for(shape: tuple[int, ...]) -> Layout:
    """The layout of a tensor of torch ``shape`` recorded by ``recorded_shape``.

    Examples:
        >>> layout_for((1, 10)), layout_for((1, 197, 768))
        ('flat', 'any')
    """
    return "flat" if len(shape) == 2 and shape[0] == 1 else "any"
