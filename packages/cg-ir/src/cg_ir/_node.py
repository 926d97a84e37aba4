"""Nodes of a computation graph: one primitive operator with its tensor shapes and attributes."""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "ELEMENTWISE_OPS",
    "NARY_OPS",
    "NORM_OPS",
    "POOL_OPS",
    "WEIGHTED_OPS",
    "Node",
    "Shape",
]

Shape = tuple[int, int, int]
"""A tensor shape without the batch axis: (channels, height, width)."""

WEIGHTED_OPS = frozenset({"conv", "depthwise_conv", "linear"})
NORM_OPS = frozenset({"batch_norm", "layer_norm", "group_norm"})
ACTIVATION_OPS = frozenset(
    {"relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "silu", "gelu", "tanh"}
)
ELEMENTWISE_OPS = NORM_OPS | ACTIVATION_OPS
POOL_OPS = frozenset({"max_pool", "avg_pool"})
ADAPTIVE_POOL_OPS = frozenset(
    {"adaptive_max_pool", "adaptive_avg_pool", "global_avg_pool", "global_max_pool"}
)
UPSAMPLE_OPS = frozenset({"upsample_nearest", "upsample_bilinear"})
NARY_OPS = frozenset({"add", "mul", "concat"})


class Node(NamedTuple):
    """One primitive operator.

    Shapes are (C, H, W) at batch size 1. Spatial attributes are (height, width) pairs and are
    (0, 0) where they do not apply; ``groups``, ``in_channels`` and ``out_channels`` are 0 for
    ops without weights. ``kernel_size``/``stride``/``padding`` also describe pooling windows.
    For n-ary ops (add, mul, concat) ``input_shape`` equals ``output_shape``. A ``linear`` node
    either acts on every position (``in_channels == C``, spatial size kept) or on the flattened
    input (``in_channels == C*H*W``, output ``(out_channels, 1, 1)``). ``name`` is the module
    path the node came from, for people; it is not a feature and does not enter hashes.

    Examples:
        >>> n = Node("relu", (16, 32, 32), (16, 32, 32))
        >>> n.params, n.flops
        (0, 16384)
    """

    op: str
    input_shape: Shape
    output_shape: Shape
    kernel_size: tuple[int, int] = (0, 0)
    stride: tuple[int, int] = (0, 0)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (0, 0)
    groups: int = 0
    in_channels: int = 0
    out_channels: int = 0
    bias: bool = False
    affine: bool = False
    name: str = ""

    @property
    def is_weighted(self) -> bool:
        return self.op in WEIGHTED_OPS

    def features(self) -> tuple[object, ...]:
        """Everything that describes the operator, i.e. the node without its ``name``."""
        return tuple(self)[:-1]

    @property
    def params(self) -> int:
        """Trainable parameters: weights and biases of conv/linear, scale and shift of norms."""
        if self.op in ("conv", "depthwise_conv"):
            kh, kw = self.kernel_size
            weights = self.out_channels * (self.in_channels // self.groups) * kh * kw
            return weights + (self.out_channels if self.bias else 0)
        if self.op == "linear":
            return self.in_channels * self.out_channels + (self.out_channels if self.bias else 0)
        if self.op in NORM_OPS and self.affine:
            return 2 * self.input_shape[0]
        return 0

    @property
    def flops(self) -> int:
        """Floating-point operations at batch size 1 (multiply and add count as two).

        conv and linear follow ``torch.utils.flop_counter`` exactly (bias additions are not
        counted). The other ops use these formulas, with ``n = C*H*W`` of the output:
        norms ``2n`` (scale and shift once folded), activations ``n``, max/avg pooling
        ``kh*kw*n``, adaptive and global pooling one op per input element, upsampling ``n``,
        add and mul ``n`` per input beyond the first (this property gives one binary op; the
        graph multiplies by in-degree - 1), concat, slice (a channel slice), zero, input and
        output 0.
        """
        c, h, w = self.output_shape
        n = c * h * w
        op = self.op
        if op in ("conv", "depthwise_conv"):
            kh, kw = self.kernel_size
            return 2 * n * (self.in_channels // self.groups) * kh * kw
        if op == "linear":
            positions = h * w if self.in_channels == self.input_shape[0] else 1
            return 2 * positions * self.in_channels * self.out_channels
        if op in NORM_OPS:
            return 2 * n
        if op in ACTIVATION_OPS or op in UPSAMPLE_OPS or op in ("add", "mul"):
            return n
        if op in POOL_OPS:
            return self.kernel_size[0] * self.kernel_size[1] * n
        if op in ADAPTIVE_POOL_OPS:
            ci, hi, wi = self.input_shape
            return ci * hi * wi
        return 0
