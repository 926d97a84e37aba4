"""What an ONNX value is while the graph is lowered, and how layouts map to cg-ir shapes.

Every ONNX value (a node output, a graph input or an initializer) becomes a ``Tensor`` (computed
from the network's input by a computation-graph node) or a ``Const`` (known before the network
runs: an initializer, a ``Constant`` node, or anything computed from those and from tensor
shapes alone). Layouts follow the torch.fx path: a feature map ``(C, H, W)`` is held as
``(1, C, H, W)`` (``nchw``), ``(1, H, W, C)`` (``nhwc``) or flattened ``(1, C*H*W)`` (``flat``);
any other shape is ``other`` and is recorded without its batch axis. A tensor whose batch axis an
exporter moved or merged (the TorchScript export of ``nn.MultiheadAttention`` works on
``(L, N, E)`` and ``(N * heads, L, d)``) is ``raw``: at batch size 1 its axes of size 1 are dropped
(the batch axis wherever it went, and any other axis of size 1 with it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from cg_ir._layouts import channel_axis as layout_channel_axis
from cg_ir._layouts import feature_map_shape
from cg_ir._node import Shape

__all__ = ["Const", "Layout", "Tensor", "channel_axis", "graph_shape", "layout_after_reshape"]

Layout = Literal["nchw", "nhwc", "flat", "other", "raw"]


@dataclass(frozen=True, slots=True)
class Tensor:
    """A tensor made by computation-graph node ``node``; ``shape`` is its ONNX shape (batch 1)."""

    node: int
    layout: Layout
    shape: tuple[int, ...]


class Const:
    """A tensor known without running the network.

    ``trainable`` marks a float initializer (a learned weight: it becomes a ``parameter`` node
    when used as an operand, ``constant`` otherwise). ``shape_of`` is the tensor whose runtime
    shape the value was computed from (``Shape`` -> ``ConstantOfShape``), so that zeros made in
    the shape of a tensor stay connected to it. The values of an initializer are read only when
    needed (``array``): weights enter the graph through their shapes alone. ``roots`` are the
    initializers a computed constant was made from (Swin's bias table gathered by an index
    buffer): as an operand it is those initializers' source nodes and a ``gather``.
    """

    __slots__ = ("_load", "_value", "roots", "shape", "shape_of", "trainable")

    def __init__(
        self,
        value: npt.NDArray[Any] | Callable[[], npt.NDArray[Any]],
        shape: tuple[int, ...] | None = None,
        *,
        trainable: bool = False,
        shape_of: Tensor | None = None,
        roots: tuple[Const, ...] = (),
    ) -> None:
        self._load: Callable[[], npt.NDArray[Any]] | None = None
        self._value: npt.NDArray[Any] | None = None
        if callable(value):
            if shape is None:
                raise TypeError("a lazily loaded Const needs its shape")
            self._load = value
        else:
            self._value = np.asarray(value)
            shape = tuple(int(d) for d in self._value.shape)
        self.shape: tuple[int, ...] = tuple(shape)
        self.trainable = trainable
        self.shape_of = shape_of
        self.roots = roots

    def array(self) -> npt.NDArray[Any]:
        if self._value is None:
            assert self._load is not None
            self._value = np.asarray(self._load())
        return self._value

    def scalar(self) -> float | None:
        """The single value of a one-element constant (None if it has more elements)."""
        return float(self.array().reshape(-1)[0]) if prod(self.shape) == 1 else None


def graph_shape(shape: tuple[int, ...], layout: Layout) -> Shape | None:
    """The cg-ir shape of a tensor of ONNX ``shape`` held in ``layout`` (None if it has none).

    Examples:
        >>> graph_shape((1, 8, 4, 2), "nchw"), graph_shape((1, 4, 2, 8), "nhwc")
        ((8, 4, 2), (8, 4, 2))
        >>> graph_shape((1, 10), "flat"), graph_shape((1, 3, 5), "other")
        ((10, 1, 1), (3, 5))
        >>> graph_shape((5, 1, 3), "raw")
        (5, 3)
    """
    if layout == "raw" and shape:
        return tuple(d for d in shape if d != 1) or (1,)
    if layout == "other" and len(shape) >= 2 and shape[0] == 1:
        return shape[1:]
    return feature_map_shape(shape, layout)


def layout_after_reshape(shape: tuple[int, ...], cg: Shape) -> Layout | None:
    """The layout in which ONNX ``shape`` holds the cg-ir shape ``cg`` after a reshape.

    A reshape keeps the element order: it flattens or unflattens a feature map (``nchw``,
    ``flat``) and never moves channels last; None when it changes the cg-ir shape itself.

    Examples:
        >>> layout_after_reshape((1, 32), (8, 2, 2)), layout_after_reshape((1, 8, 1, 1), (8, 1, 1))
        ('flat', 'nchw')
        >>> layout_after_reshape((1, 2, 16), (8, 2, 2)) is None
        True
    """
    if not shape or shape[0] != 1 or prod(shape) != prod(cg):
        return None
    if shape == (1, *cg) and len(cg) == 3:
        return "nchw"
    if len(shape) == 2 and len(cg) == 3:
        return "flat"
    return None


def channel_axis(t: Tensor, cg: Shape) -> int | None:
    """The ONNX axis of ``t`` that holds its channels (None when no single axis does)."""
    return layout_channel_axis(t.layout, cg)
