"""The numeric node-feature layout used by ``to_pyg`` and by cg-predict's encoders.

Bump ``FEATURE_SCHEMA_VERSION`` whenever ``FEATURE_COLUMNS`` or a scale changes: cached
datasets key on it. Each node gives an op id (``vocabulary().id(op)``, 0 = out of vocabulary)
and a float vector with the columns below, each divided by its scale so that ImageNet-sized
networks stay near [0, 1] (the paper's GENNAPE code divides H, W by 256 and C by 512).

Shapes of any rank are projected onto the three shape columns (channels, height, width) of
each side: a (C, H, W) feature map as it is; a vector ``(N,)`` as ``(N, 1, 1)``; a rank-2
tensor ``(a, b)`` as ``(b, a, 1)``, so that the features of ``(L, C)`` tokens land in the
channel column; a tensor ``(a, b, *rest)`` of rank 4 or more as ``(a, b, prod(rest))``. The
rank columns keep the projection honest.

Version 1 had the first 18 columns only (every shape was (C, H, W)).
"""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cg_ir._node import Shape
from cg_ir._vocab import vocabulary

if TYPE_CHECKING:
    from cg_ir._graph import ComputationGraph

__all__ = [
    "FEATURE_COLUMNS",
    "FEATURE_SCHEMA_VERSION",
    "node_features",
    "op_ids",
    "projected_shape",
]

FEATURE_SCHEMA_VERSION = 2

FEATURE_COLUMNS: tuple[tuple[str, float], ...] = (
    ("in_channels_tensor", 512.0),
    ("in_height", 256.0),
    ("in_width", 256.0),
    ("out_channels_tensor", 512.0),
    ("out_height", 256.0),
    ("out_width", 256.0),
    ("kernel_h", 7.0),
    ("kernel_w", 7.0),
    ("stride_h", 4.0),
    ("stride_w", 4.0),
    ("padding_h", 4.0),
    ("padding_w", 4.0),
    ("dilation_h", 4.0),
    ("dilation_w", 4.0),
    ("log2_groups", 10.0),
    ("bias", 1.0),
    ("affine", 1.0),
    ("weighted", 1.0),
    ("in_rank", 4.0),
    ("out_rank", 4.0),
)
"""(name, scale) of every column of ``node_features``, in order."""

_SCALES = np.array([scale for _, scale in FEATURE_COLUMNS], dtype=np.float32)


def op_ids(graph: ComputationGraph) -> npt.NDArray[np.int64]:
    """The vocabulary id of every node's op."""
    vocab = vocabulary()
    return np.array([vocab.id(node.op) for node in graph.nodes], dtype=np.int64)


def projected_shape(shape: Shape) -> tuple[int, int, int]:
    """The (channels, height, width) columns of a shape of any rank (see the module notes).

    Examples:
        >>> projected_shape((64, 8, 8)), projected_shape((197, 768)), projected_shape((2, 4, 8, 8))
        ((64, 8, 8), (768, 197, 1), (2, 4, 64))
    """
    if len(shape) == 3:
        return shape[0], shape[1], shape[2]
    if len(shape) == 1:
        return shape[0], 1, 1
    if len(shape) == 2:
        return shape[1], shape[0], 1
    return shape[0], shape[1], prod(shape[2:])


def node_features(graph: ComputationGraph) -> npt.NDArray[np.float32]:
    """A ``(num_nodes, len(FEATURE_COLUMNS))`` float32 matrix, scaled as documented."""
    rows = [
        (
            *projected_shape(n.input_shape),
            *projected_shape(n.output_shape),
            *n.kernel_size,
            *n.stride,
            *n.padding,
            *n.dilation,
            np.log2(n.groups) if n.groups > 0 else 0.0,
            float(n.bias),
            float(n.affine),
            float(n.is_weighted),
            len(n.input_shape),
            len(n.output_shape),
        )
        for n in graph.nodes
    ]
    return np.asarray(rows, dtype=np.float32) / _SCALES
