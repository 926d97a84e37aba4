"""Layers with weights or windows: conv, norms, pooling, linear/matmul, padding, resizing."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING

import numpy as np

from cg_ir._einsum import einsum_product
from cg_ir.onnx._values import Const, Layout, Tensor, graph_shape

if TYPE_CHECKING:
    from cg_ir.onnx._lower import Lowerer, Value

__all__ = [
    "batch_norm",
    "conv",
    "gemm",
    "global_pool",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "linear",
    "matmul",
    "pad",
    "pool",
    "prelu",
    "resize",
]

_ANY: tuple[Layout, ...] = ("nchw", "nhwc", "flat", "other", "raw")


def _window_padding(
    lw: Lowerer, t: Tensor, kernel: list[int], strides: list[int], dilations: list[int]
) -> tuple[Tensor, tuple[int, int]]:
    """The symmetric (top, left) padding of a window op; uneven padding becomes a pad node."""
    auto = lw.attr("auto_pad", "NOTSET")
    _, _, h, w = t.shape
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0, 0, 0, 0]
        for axis, size in enumerate((h, w)):
            steps = -(-size // strides[axis])
            total = max(
                (steps - 1) * strides[axis] + dilations[axis] * (kernel[axis] - 1) + 1 - size, 0
            )
            small, large = total // 2, total - total // 2
            pads[axis], pads[axis + 2] = (small, large) if auto == "SAME_UPPER" else (large, small)
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    else:
        pads = [int(p) for p in lw.attr("pads", [0, 0, 0, 0])]
    top, left, bottom, right = pads
    if (top, left) == (bottom, right):
        return t, (top, left)
    # TensorFlow's SAME padding of an odd total pads one more at the end: an explicit pad node
    channels = t.shape[1]
    padded = (1, channels, h + top + bottom, w + left + right)
    shape = (channels, h + top + bottom, w + left + right)
    pad_node = lw.emit("pad_constant", [t], lw.cg(t), shape, "nchw", padded, padding=(top, left))
    return pad_node, (0, 0)


def conv(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], ("nchw",))
    weight = lw.const(args[1], "weight")
    if len(weight.shape) != 4:
        lw.fail(f"only 2-D convolutions are a primitive; the weight has shape {weight.shape}")
    out_c, per_group, kh, kw = weight.shape
    groups = int(lw.attr("group", 1))
    strides = [int(s) for s in lw.attr("strides", [1, 1])]
    dilations = [int(d) for d in lw.attr("dilations", [1, 1])]
    t, padding = _window_padding(lw, t, [kh, kw], strides, dilations)
    c_in = per_group * groups
    depthwise = groups == c_in > 1
    return [
        lw.emit(
            "depthwise_conv" if depthwise else "conv",
            [t],
            lw.cg(t),
            lw.out_shape("nchw"),
            "nchw",
            kernel_size=(kh, kw),
            stride=(strides[0], strides[1]),
            padding=padding,
            dilation=(dilations[0], dilations[1]),
            groups=groups,
            in_channels=c_in,
            out_channels=out_c,
            bias=_has_bias(lw, args, 2),
        )
    ]


def _has_bias(lw: Lowerer, args: list[Value], index: int) -> bool:
    """Whether input ``index`` is a bias: an initializer, or a constant that is not all zero.

    torch's exporter (``dynamo=True, optimize=False``) gives a conv without bias a computed
    zero bias.
    """
    if len(args) <= index or args[index] is None:
        return False
    c = lw.const(args[index], "bias")
    return c.trainable or bool(np.any(c.array()))


def _affine(lw: Lowerer, scale: Value, shift: Value) -> bool:
    """Whether a norm's scale and shift are learned (initializers) rather than fixed constants."""
    scale_c = lw.const(scale, "scale") if scale is not None else None
    shift_c = lw.const(shift, "bias") if shift is not None else None
    return bool(scale_c and scale_c.trainable) or bool(shift_c and shift_c.trainable)


def batch_norm(lw: Lowerer, args: list[Value]) -> list[Value]:
    if lw.attr("training_mode", 0):
        lw.fail("a BatchNormalization in training mode; export the model in eval mode")
    t = lw.tensor(args[0], ("nchw", "flat"))
    if t.layout == "flat" and lw.cg(t)[1:] != (1, 1):
        lw.fail(f"BatchNormalization of a flattened {lw.cg(t)} normalizes positions, not channels")
    return [lw.unary("batch_norm", t, affine=_affine(lw, args[1], args[2]))]


def instance_norm(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], ("nchw",))
    return [lw.unary("instance_norm", t, affine=_affine(lw, args[1], args[2]))]


def group_norm(lw: Lowerer, args: list[Value]) -> list[Value]:
    # cg_ir::GroupNorm (the fused Reshape-InstanceNormalization-Reshape-Mul-Add of torch's
    # exporter) or ONNX GroupNormalization (opset 18): scale and bias per channel
    t = lw.tensor(args[0], ("nchw",))
    scale = args[1] if len(args) > 1 else None
    shift = args[2] if len(args) > 2 else None
    return [lw.unary("group_norm", t, affine=_affine(lw, scale, shift))]


def layer_norm(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], _ANY)
    rank = len(t.shape)
    axis = int(lw.attr("axis", -1)) % rank
    if axis != rank - 1:
        lw.fail(f"only a LayerNormalization over the last axis is a primitive, got axis={axis}")
    if t.layout == "nchw" and t.shape[2:] != (1, 1):
        # over the last axis of a 4-D tensor that a reshape labelled a map (MaxViT's
        # (1, windows, tokens, C)): a tensor as torch holds it, whose graph shape is the same
        t = Tensor(t.node, "other", t.shape)
    scale = args[1] if len(args) > 1 else None
    shift = args[2] if len(args) > 2 else None
    cg = lw.cg(t)
    in_channels = t.shape[-1] if t.layout == "other" and len(cg) > 1 else 0
    if shift is None and scale is not None and lw.const(scale, "scale").trainable:
        # LayerNorm(bias=False): a norm without affine, then a scale by the learned weight
        normed = lw.emit("layer_norm", [t], cg, cg, t.layout, affine=False, in_channels=in_channels)
        weight = lw.source(lw.const(scale, "scale"), normed)
        return [lw.emit("mul", [normed, weight], cg, cg, t.layout)]
    return [
        lw.emit(
            "layer_norm",
            [t],
            cg,
            cg,
            t.layout,
            affine=_affine(lw, scale, shift),
            in_channels=in_channels,
        )
    ]


def pool(op: str) -> Handler:
    def lower(lw: Lowerer, args: list[Value]) -> list[Value]:
        assert lw.current is not None
        if len(lw.current.output) > 1 and lw.current.output[1]:
            lw.fail("MaxPool with indices returns two tensors; cg-ir lowers the pooled one only")
        t = lw.tensor(args[0], ("nchw",))
        kernel = [int(k) for k in lw.attr("kernel_shape")]
        if len(kernel) != 2:
            lw.fail(f"only 2-D pooling is a primitive, got kernel {kernel}")
        strides = [int(s) for s in lw.attr("strides", [1, 1])]
        dilations = [int(d) for d in lw.attr("dilations", [1, 1])]
        t, padding = _window_padding(lw, t, kernel, strides, dilations)
        if tuple(kernel) == t.shape[2:] and padding == (0, 0) and max(dilations) == 1:
            # torch's exporter writes AdaptiveMaxPool2d(1) as a MaxPool over the whole map
            kind = "max" if op == "max_pool" else "avg"
            return [lw.emit(f"global_{kind}_pool", [t], lw.cg(t), lw.out_shape("nchw"), "nchw")]
        # torch's avg_pool has no dilation: the torch.fx path records (0, 0)
        dilation = (dilations[0], dilations[1]) if op == "max_pool" else (0, 0)
        return [
            lw.emit(
                op,
                [t],
                lw.cg(t),
                lw.out_shape("nchw"),
                "nchw",
                kernel_size=(kernel[0], kernel[1]),
                stride=(strides[0], strides[1]),
                padding=padding,
                dilation=dilation,
            )
        ]

    return lower


def global_pool(kind: str) -> Handler:
    def lower(lw: Lowerer, args: list[Value]) -> list[Value]:
        t = lw.tensor(args[0], ("nchw",))
        return [lw.emit(f"global_{kind}_pool", [t], lw.cg(t), lw.out_shape("nchw"), "nchw")]

    return lower


def linear(lw: Lowerer, x: Value, in_features: int, out_features: int, bias: bool) -> Tensor:
    """A linear layer of ``in_features -> out_features`` on ``x``'s last axis."""
    t = lw.tensor(x, _ANY)
    c, *rest = lw.cg(t)
    if t.layout == "nhwc" and in_features == c:
        h, w = rest
        return lw.emit(
            "linear",
            [t],
            (c, h, w),
            (out_features, h, w),
            "nhwc",
            in_channels=c,
            out_channels=out_features,
            bias=bias,
        )
    if t.layout == "flat" and in_features == t.shape[1]:
        return lw.emit(
            "linear",
            [t],
            lw.cg(t),
            (out_features, 1, 1),
            "flat",
            in_channels=in_features,
            out_channels=out_features,
            bias=bias,
        )
    if t.layout == "nchw" and t.shape[-1] == in_features:
        # the last axis of a 4-D tensor a reshape labelled a map (MaxViT's windows): as
        # torch holds it, whose graph shape is the same
        t = Tensor(t.node, "other", t.shape)
    if t.layout in ("other", "raw") and t.shape[-1] == in_features:
        out = lw.out()
        shape = graph_shape(out, t.layout)
        assert shape is not None
        return lw.emit(
            "linear",
            [t],
            lw.cg(t),
            shape,
            t.layout,
            in_channels=in_features,
            out_channels=out_features,
            bias=bias,
        )
    lw.fail(
        f"a linear layer of {in_features} inputs on shape {t.shape} acts neither on the "
        "channels of a channels-last map, nor on a flattened one, nor on the last axis"
    )


def gemm(lw: Lowerer, args: list[Value]) -> list[Value]:
    if lw.attr("transA", 0):
        lw.fail("Gemm with transA=1 transposes the input; only x @ W is a linear layer")
    weight = lw.const(args[1], "weight B")
    k, n = weight.shape[::-1] if lw.attr("transB", 0) else weight.shape
    bias = _has_bias(lw, args, 2) and float(lw.attr("beta", 1.0)) != 0.0
    return [linear(lw, args[0], k, n, bias)]


def matmul(lw: Lowerer, args: list[Value]) -> list[Value]:
    # a MatMul by a 2-D weight is a linear layer (its bias Add folds in later, see _ops.binary)
    a, b = args[0], args[1]
    if isinstance(b, Const) and len(b.shape) == 2 and isinstance(a, Tensor):
        return [linear(lw, a, b.shape[0], b.shape[1], False)]
    x = lw.tensor(a, _ANY) if isinstance(a, Tensor) else None
    y = lw.tensor(b, _ANY) if isinstance(b, Tensor) else None
    if x is None and y is None:
        lw.fail("a MatMul of two constants")
    if x is None:
        assert y is not None
        x = lw.source(lw.const(a, "a"))
    if y is None:
        y = lw.source(lw.const(b, "b"))
    out = lw.out()
    # (Swin's windows merge the batch axis into the first: such a product is raw, see _values)
    layout: Layout = "flat" if len(out) <= 2 else "other" if out[0] == 1 else "raw"
    shape = graph_shape(out, layout) if len(out) > 2 else (out[-1], 1, 1)
    assert shape is not None
    scaled = _scaled_operands(lw, x, y)
    if scaled is not None:
        # SDPA exports (q * sqrt(s)) @ (k^T * sqrt(s)); torch.fx records (q @ k^T) * s
        product = lw.emit("matmul", list(scaled), lw.cg(x), shape, layout, in_channels=x.shape[-1])
        return [lw.emit("scale", [product], shape, shape, layout)]
    return [lw.emit("matmul", [x, y], lw.cg(x), shape, layout, in_channels=x.shape[-1])]


def _scaled_operands(lw: Lowerer, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor] | None:
    """The inputs of ``x`` and ``y`` when both are ``scale`` nodes used by this MatMul alone."""
    assert lw.current is not None
    sources: list[Tensor] = []
    for t, name in zip((x, y), lw.current.input, strict=True):
        if lw.nodes[t.node].op != "scale" or lw.uses.get(name, 0) != 1:
            return None
        feeds = [src for src, dst in lw.edges if dst == t.node]
        if len(feeds) != 1 or any(src == t.node for src, _ in lw.edges):
            return None
        sources.append(Tensor(feeds[0], t.layout, t.shape))
    return sources[0], sources[1]


def prelu(lw: Lowerer, args: list[Value]) -> list[Value]:
    slopes = lw.const(args[1], "slope")
    count = 1
    for d in slopes.shape:
        count *= d
    return [lw.unary("prelu", args[0], in_channels=count)]


def pad(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], _ANY)
    mode = lw.attr("mode", "constant")
    ops = {"constant": "pad_constant", "reflect": "pad_reflect", "edge": "pad_replicate"}
    if mode not in ops:
        lw.fail(f"padding mode {mode!r} is not a primitive (supported: {sorted(ops)})")
    if lw.opset < 11:
        pads = [int(p) for p in lw.attr("pads", [])]
    else:
        pads = lw.ints(args[1], "pads")
        if len(args) > 3 and args[3] is not None:  # opset 18: the axes the pads apply to
            rank = len(t.shape)
            full = [0] * 2 * rank
            for i, axis in enumerate(lw.ints(args[3], "axes")):
                full[axis % rank], full[axis % rank + rank] = pads[i], pads[i + len(pads) // 2]
            pads = full
    if not any(pads):  # nothing to pad (Swin's pad to whole windows), as torch.fx folds it
        return [t]
    # the H and W axes of a feature map (Swin pads its channels-last (1, H, W, C) map)
    spatial = {"nchw": (2, 3), "nhwc": (1, 2)}.get(t.layout)
    begins, ends = pads[: len(pads) // 2], pads[len(pads) // 2 :]
    others = [
        p for axis, p in enumerate(begins + ends) if axis % len(begins) not in (spatial or ())
    ]
    if spatial is None or any(others) or min(pads) < 0:
        lw.fail(f"only non-negative padding of H and W is a primitive, got pads={pads}")
    top, left = begins[spatial[0]], begins[spatial[1]]
    out = lw.out_shape(t.layout)
    return [lw.emit(ops[mode], [t], lw.cg(t), out, t.layout, padding=(top, left))]


def resize(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], ("nchw",))
    mode = lw.attr("mode", "nearest")
    ops = {
        "nearest": "upsample_nearest",
        "linear": "upsample_bilinear",
        "bilinear": "upsample_bilinear",
        "cubic": "upsample_bicubic",
    }
    if mode not in ops:
        lw.fail(f"resize mode {mode!r} is not a primitive (supported: {sorted(ops)})")
    return [lw.emit(ops[mode], [t], lw.cg(t), lw.out_shape("nchw"), "nchw")]


if TYPE_CHECKING:
    from cg_ir.onnx._ops import Handler


def einsum(lw: Lowerer, args: list[Value]) -> list[Value]:
    """A product of two tensors written as Einsum: one ``matmul`` between transposes and views.

    As the torch.fx path lowers ``torch.einsum``: indices of both operands and the output are
    batch axes, of both operands alone the contracted axes (K), of one operand and the output
    its free axes; the operands become (batch, M, K) and (batch, K, N).
    """
    try:
        p = einsum_product(str(lw.attr("equation", "")))
    except ValueError as error:
        lw.fail(str(error))
    if len(args) != 2:
        lw.fail(f"Einsum of {len(args)} operands: only a product of two is lowered")
    a, b, output = p.a, p.b, p.output
    batch, contracted, free_a, free_b = p.batch, p.contracted, p.free_a, p.free_b
    x, y = (
        lw.source(v) if isinstance(v, Const) else lw.tensor(v, _ANY) for v in (args[0], args[1])
    )
    size = {i: d for t, term in ((x, a), (y, b)) for i, d in zip(term, t.shape, strict=True)}

    def arranged(t: Tensor, term: str, rows: list[str], cols: list[str]) -> Tensor:
        moved = _permuted(lw, t, [term.index(i) for i in batch + rows + cols])
        rows_n, cols_n = prod(size[i] for i in rows), prod(size[i] for i in cols)
        return lw.reshape(moved, (*(size[i] for i in batch), rows_n, cols_n))

    left, right = arranged(x, a, free_a, contracted), arranged(y, b, contracted, free_b)
    shape = (*(size[i] for i in batch), left.shape[-2], right.shape[-1])
    layout: Layout = "other" if shape[0] == 1 else "raw"
    cg = graph_shape(shape, layout)
    assert cg is not None
    product = lw.emit(
        "matmul", [left, right], lw.cg(left), cg, layout, shape, in_channels=left.shape[-1]
    )
    order = batch + free_a + free_b
    unfolded = lw.reshape(product, tuple(size[i] for i in order))
    return [_permuted(lw, unfolded, [order.index(i) for i in output])]


def _permuted(lw: Lowerer, t: Tensor, perm: list[int]) -> Tensor:
    """``t`` with its axes in the order ``perm``: a ``transpose`` node unless none move."""
    shape = tuple(t.shape[p] for p in perm)
    moved = [p for p in perm if t.shape[p] != 1]
    if moved == sorted(moved):
        return lw.reshape(t, shape)
    layout: Layout = "other" if perm[0] == 0 and t.layout == "other" else "raw"
    cg = graph_shape(shape, layout)
    assert cg is not None
    return lw.emit("transpose", [t], lw.cg(t), cg, layout, shape)
