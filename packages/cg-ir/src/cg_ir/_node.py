"""Nodes of a computation graph: one primitive operator with its tensor shapes and attributes."""

from __future__ import annotations

from math import prod
from typing import NamedTuple

__all__ = [
    "ACTIVATION_OPS",
    "ADAPTIVE_POOL_OPS",
    "BINARY_OPS",
    "DATA_MOVEMENT_OPS",
    "ELEMENTWISE_OPS",
    "NARY_OPS",
    "NORM_OPS",
    "PAD_OPS",
    "POOL_OPS",
    "REDUCE_OPS",
    "SOURCE_OPS",
    "UPSAMPLE_OPS",
    "WEIGHTED_OPS",
    "Node",
    "Shape",
]

Shape = tuple[int, ...]
"""A tensor shape without the batch axis.

Feature maps are ``(C, H, W)`` whatever memory layout the code uses, flattened or pooled vectors
``(N, 1, 1)``; every other tensor (tokens, attention heads and scores, split axes) is recorded as
torch holds it, e.g. ViT tokens ``(197, 768)`` and attention scores ``(12, 197, 197)``.
"""

WEIGHTED_OPS = frozenset({"conv", "depthwise_conv", "linear"})
NORM_OPS = frozenset({"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm"})
ACTIVATION_OPS = frozenset(
    {
        "relu",
        "relu6",
        "hardswish",
        "hardsigmoid",
        "sigmoid",
        "silu",
        "gelu",
        "tanh",
        "leaky_relu",
        "prelu",
        "elu",
        "selu",
        "celu",
        "mish",
        "softplus",
        "gelu_tanh",
        "hardtanh",
        "softsign",
        "exp",
        "log",
        "sqrt",
        "rsqrt",
        "reciprocal",
        "abs",
        "neg",
        "softmax",
        "log_softmax",
        "scale",
        "shift",
    }
)
ELEMENTWISE_OPS = NORM_OPS | ACTIVATION_OPS
POOL_OPS = frozenset({"max_pool", "avg_pool"})
ADAPTIVE_POOL_OPS = frozenset(
    {"adaptive_max_pool", "adaptive_avg_pool", "global_avg_pool", "global_max_pool"}
)
UPSAMPLE_OPS = frozenset({"upsample_nearest", "upsample_bilinear", "upsample_bicubic"})
NARY_OPS = frozenset({"add", "mul", "concat", "sub", "div", "maximum", "minimum"})
BINARY_OPS = frozenset({"add", "mul", "sub", "div", "maximum", "minimum"})
"""Broadcasting elementwise ops of two or more inputs (``NARY_OPS`` without concat)."""
SOURCE_OPS = frozenset({"input", "parameter", "constant"})
"""Ops whose nodes have no predecessor: the network's input and the tensors it owns."""
PAD_OPS = frozenset({"pad_constant", "pad_reflect", "pad_replicate"})
DATA_MOVEMENT_OPS = frozenset({"slice", "reshape", "transpose", "gather", "roll", "expand"})
REDUCE_OPS = frozenset({"reduce_sum", "reduce_mean", "reduce_max"})


class Node(NamedTuple):
    """One primitive operator.

    Shapes are taken at batch size 1 without the batch axis (see ``Shape``). Spatial attributes are
    (height, width) pairs and are (0, 0) where they do not apply; ``groups``, ``in_channels`` and
    ``out_channels`` are 0 for ops without weights. ``kernel_size``/``stride``/``padding`` also
    describe pooling windows; for ``pad_*`` nodes ``padding`` is the (top, left) amount (bottom and
    right follow from the shapes), for a spatial ``slice`` ``stride`` is the step and ``padding``
    the start along H and W. For n-ary ops (add, mul, concat, ...) ``input_shape`` equals
    ``output_shape``; for ``matmul`` (inputs a, b in order) it is a's shape and ``in_channels`` is
    the contracted size. A ``filter`` node is a convolution whose kernel is fixed, not learned (a
    blur before subsampling); it has conv's attributes and no parameters. A ``linear`` node acts on
    every position of a feature map (``in_channels == C``), on a flattened input (``in_channels ==
    C*H*W``, output ``(out_channels, 1, 1)``) or on the last axis of any other tensor. Norms
    normalize ``in_channels`` features when it is set, else ``input_shape[0]``; ``prelu`` has
    ``in_channels`` slopes. ``name`` is the module path the node came from, for people; it is not a
    feature and does not enter hashes.

    Examples:
        >>> n = Node("relu", (16, 32, 32), (16, 32, 32))
        >>> n.params, n.flops
        (0, 16384)
        >>> Node("matmul", (12, 197, 64), (12, 197, 197), in_channels=64).flops
        59610624
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
    def normalized_features(self) -> int:
        """How many features a norm normalizes (and scales and shifts when affine)."""
        return self.in_channels if self.in_channels > 0 else self.input_shape[0]

    @property
    def params(self) -> int:
        """Trainable parameters of the op.

        Weights and biases of conv/linear, scale and shift of norms, the slopes of prelu and the
        values of a ``parameter`` node.
        """
        op = self.op
        if op in ("conv", "depthwise_conv"):
            kh, kw = self.kernel_size
            weights = self.out_channels * (self.in_channels // self.groups) * kh * kw
            return weights + (self.out_channels if self.bias else 0)
        if op == "linear":
            return self.in_channels * self.out_channels + (self.out_channels if self.bias else 0)
        if op in NORM_OPS and self.affine:
            return (1 if op == "rms_norm" else 2) * self.normalized_features
        if op == "prelu":
            return self.in_channels
        if op == "parameter":
            return prod(self.output_shape)
        return 0

    @property
    def flops(self) -> int:
        """Floating-point operations at batch size 1 (multiply and add count as two).

        conv (and ``filter``, a convolution with a fixed kernel), linear and matmul follow
        ``torch.utils.flop_counter`` exactly (bias additions are not counted). The other ops use
        these formulas, with ``n`` the number of output elements: norms ``2n`` (scale and shift once
        folded), activations ``n``, max/avg pooling ``kh*kw*n``, adaptive and global pooling and
        reductions one op per input element, upsampling ``n``, binary ops ``n`` per input beyond the
        first (this property gives one binary op; the graph multiplies by in-degree - 1); concat,
        padding, data movement (slice, reshape, transpose, gather, roll), zero, parameter, constant,
        input and output 0.
        """
        n = prod(self.output_shape)
        op = self.op
        if op in ("conv", "depthwise_conv", "filter"):
            kh, kw = self.kernel_size
            return 2 * n * (self.in_channels // self.groups) * kh * kw
        if op == "linear":
            return 2 * (n // self.out_channels) * self.in_channels * self.out_channels
        if op == "matmul":
            return 2 * n * self.in_channels
        if op in NORM_OPS:
            return 2 * n
        if op in ACTIVATION_OPS or op in UPSAMPLE_OPS or op in BINARY_OPS:
            return n
        if op in POOL_OPS:
            return self.kernel_size[0] * self.kernel_size[1] * n
        if op in ADAPTIVE_POOL_OPS or op in REDUCE_OPS:
            return prod(self.input_shape)
        return 0
