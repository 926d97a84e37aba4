"""The numeric node-feature layout used by ``to_pyg`` and by cg-predict's encoders.

Bump ``FEATURE_SCHEMA_VERSION`` whenever ``FEATURE_COLUMNS`` or a scale changes: cached
datasets key on it. Each node gives an op id (``vocabulary().id(op)``, 0 = out of vocabulary)
and a float vector with the columns below, each divided by its scale so that ImageNet-sized
networks stay near [0, 1] (the paper's GENNAPE code divides H, W by 256 and C by 512).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cg_ir._vocab import vocabulary

if TYPE_CHECKING:
    from cg_ir._graph import ComputationGraph

__all__ = ["FEATURE_COLUMNS", "FEATURE_SCHEMA_VERSION", "node_features", "op_ids"]

FEATURE_SCHEMA_VERSION = 1

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
)
"""(name, scale) of every column of ``node_features``, in order."""

_SCALES = np.array([scale for _, scale in FEATURE_COLUMNS], dtype=np.float32)


def op_ids(graph: ComputationGraph) -> npt.NDArray[np.int64]:
    """The vocabulary id of every node's op."""
    vocab = vocabulary()
    return np.array([vocab.id(node.op) for node in graph.nodes], dtype=np.int64)


def node_features(graph: ComputationGraph) -> npt.NDArray[np.float32]:
    """A ``(num_nodes, len(FEATURE_COLUMNS))`` float32 matrix, scaled as documented."""
    rows = [
        (
            *n.input_shape,
            *n.output_shape,
            *n.kernel_size,
            *n.stride,
            *n.padding,
            *n.dilation,
            np.log2(n.groups) if n.groups > 0 else 0.0,
            float(n.bias),
            float(n.affine),
            float(n.is_weighted),
        )
        for n in graph.nodes
    ]
    return np.asarray(rows, dtype=np.float32) / _SCALES
