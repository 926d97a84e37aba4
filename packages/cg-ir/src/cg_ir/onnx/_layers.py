"""Layers with weights or windows: conv, norms, pooling, linear/matmul, padding, resizing."""

from __future__ import annotations

from math import prod
from typing import TYPE_CHECKING, Any

import numpy as np

from cg_ir._einsum import einsum_product
from cg_ir._gains import gain_problem
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
    weight = lw.const(args[1], "weight")
    if len(weight.shape) == 3:
        return [_conv1d(lw, args)]
    if len(weight.shape) != 4:
        lw.fail(f"only 1-D and 2-D convolutions are lowered; the weight has shape {weight.shape}")
    t = lw.tensor(args[0], ("nchw",))
    out_c, per_group, kh, kw = weight.shape
    groups = int(lw.attr("group", 1))
    strides = [int(s) for s in lw.attr("strides", [1, 1])]
    dilations = [int(d) for d in lw.attr("dilations", [1, 1])]
    t, padding = _window_padding(lw, t, [kh, kw], strides, dilations)
    c_in = per_group * groups
    depthwise = groups == c_in > 1
    result = lw.emit(
        "filter" if _fixed(weight, groups) else "depthwise_conv" if depthwise else "conv",
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
    return [_output_gain(lw, weight, result)]


def _output_gain(lw: Lowerer, weight: Const, result: Tensor) -> Tensor:
    """The learned per-output-channel gain a kernel was computed with, as its own ``mul``.

    As the torch.fx path lowers scaled weight standardisation (NFNet's ``ScaledStdConv2d``,
    exported as the ops that compute the kernel): ``conv(x, g * w) = g * conv(x, w)``, so the
    conv keeps the kernel's parameters and the gain is a ``parameter`` node multiplied into
    the output.
    """
    if weight.roots == (weight,):
        return result
    extra = [r for r in weight.roots if r.trainable and r.shape != weight.shape]
    if not extra:
        return result
    channels = weight.shape[0]
    problem = gain_problem([str(r.shape) for r in extra], [prod(r.shape) for r in extra], channels)
    if problem is not None:
        lw.fail(problem)
    gain = lw.root_node(extra[0])
    if gain.shape != (channels, 1, 1):
        gain = lw.emit("reshape", [gain], lw.cg(gain), (channels, 1, 1), "other", (channels, 1, 1))
    shape = lw.cg(result)
    return lw.emit("mul", [result, gain], shape, shape, result.layout)


def _fixed(weight: Const, groups: int) -> bool:
    """Whether a conv's kernel is fixed (a blur filter in a buffer), not learned.

    ONNX does not tell buffers from parameters: a ``Constant`` node is fixed, and so is an
    initializer that repeats one kernel over every channel of a grouped conv of one input
    channel per group (timm's ``BlurPool2d`` and anti-aliasing filters); learned kernels are
    never all equal.
    """
    if not weight.trainable:
        return not any(r.trainable for r in weight.roots)  # else computed from learned ones
    if groups == 1 or weight.shape[1] != 1 or weight.shape[0] < 2:
        return False
    kernels = weight.array().reshape(weight.shape[0], -1)
    return bool(np.all(kernels == kernels[0]))


def _conv1d(lw: Lowerer, args: list[Value]) -> Tensor:
    """A 1-D convolution of ``(1, C, L)``: a ``(1, k)`` conv of the ``(C, 1, L)`` image.

    As the torch.fx path lowers ``Conv1d`` (ECA attention): the sequence becomes an image of
    height 1 by a ``reshape`` node (the view that made the sequence, when it fed only this
    conv), and the result is held as ONNX shapes it, ``(1, O, L')``, with that image's shape.
    """
    assert lw.current is not None
    t = lw.tensor(args[0], _ANY)
    weight = lw.const(args[1], "weight")
    out = lw.out()
    if len(t.shape) != 3 or t.shape[0] != 1:
        lw.fail(f"a 1-D Conv needs a (1, C, L) input, got {t.shape}")
    _, c, length = t.shape
    image = (c, 1, length)
    t = _viewed_as(lw, t, image)
    groups = int(lw.attr("group", 1))
    (stride,), (dilation,) = lw.attr("strides", [1]), lw.attr("dilations", [1])
    begin, end = (int(p) for p in lw.attr("pads", [0, 0]))
    if lw.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or begin != end:
        lw.fail("a 1-D Conv with uneven or automatic padding; pad explicitly")
    result = lw.emit(
        "depthwise_conv" if groups == c > 1 else "conv",
        [t],
        lw.cg(t),
        (out[1], 1, out[2]),
        "other",
        kernel_size=(1, weight.shape[2]),
        stride=(1, int(stride)),
        padding=(0, begin),
        dilation=(1, int(dilation)),
        groups=groups,
        in_channels=c,
        out_channels=weight.shape[0],
        bias=_has_bias(lw, args, 2),
    )
    users = lw.consumers.get(lw.current.output[0], [])
    if users and all(u.op_type in _VIEWS for u in users):
        return result  # the view back to a map follows: one reshape node, as torch.fx
    # torch.fx records the sequence without its batch axis before anything else uses it
    return lw.emit("reshape", [result], lw.cg(result), (out[1], out[2]), "other")


_VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})


def _viewed_as(lw: Lowerer, t: Tensor, image: tuple[int, ...]) -> Tensor:
    """``t`` with graph shape ``image``: its own ``reshape`` node retargeted, or a new one."""
    assert lw.current is not None
    if lw.cg(t) == image:
        return t
    node = lw.nodes[t.node]
    only_use = lw.uses.get(lw.current.input[0], 0) == 1 and not any(
        src == t.node for src, _ in lw.edges
    )
    if node.op == "reshape" and only_use:
        lw.nodes[t.node] = node._replace(output_shape=image)
        return t
    return lw.emit("reshape", [t], lw.cg(t), image, "other", (1, *image))


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
    shift = _learned_or_none(lw, args[2] if len(args) > 2 else None)
    if shift is None and scale is not None and lw.const(scale, "scale").trainable:
        return [_scaled(lw, "group_norm", t, lw.const(scale, "scale"))]
    return [lw.unary("group_norm", t, affine=_affine(lw, scale, shift))]


def _learned_or_none(lw: Lowerer, shift: Value) -> Value:
    """A norm's shift, or None for a constant zero (a norm with ``bias=False`` exports one)."""
    if shift is None:
        return None
    c = lw.const(shift, "bias")
    return None if not c.trainable and not np.any(c.array()) else shift


def _scaled(lw: Lowerer, op: str, t: Tensor, scale: Const, **attrs: Any) -> Tensor:
    """A norm without shift: the norm without affine, then a ``mul`` by its learned scale.

    (As torch.fx records a norm whose weight is given without a bias.)
    """
    cg = lw.cg(t)
    normed = lw.emit(op, [t], cg, cg, t.layout, affine=False, **attrs)
    return lw.emit("mul", [normed, lw.source(scale, normed)], cg, cg, t.layout)


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
    shift = _learned_or_none(lw, shift)
    if shift is None and scale is not None and lw.const(scale, "scale").trainable:
        # LayerNorm(bias=False)
        return [_scaled(lw, "layer_norm", t, lw.const(scale, "scale"), in_channels=in_channels)]
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
        if op == "avg_pool" and _adaptive(lw, kernel, strides):
            return [lw.emit("adaptive_avg_pool", [t], lw.cg(t), lw.out_shape("nchw"), "nchw")]
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


def _adaptive(lw: Lowerer, kernel: list[int], strides: list[int]) -> bool:
    """Whether an ``AveragePool`` is how torch's TorchScript exporter writes adaptive pooling.

    ``AdaptiveAvgPool2d(s)`` of a map whose size ``s`` divides is an ``AveragePool`` with
    only ``kernel_shape`` and ``strides`` (equal); ``AvgPool2d`` always gets ``pads`` and
    ``ceil_mode`` too, and other exporters write ``pads`` or ``auto_pad``.
    """
    assert lw.current is not None
    names = {a.name for a in lw.current.attribute}
    return names == {"kernel_shape", "strides"} and kernel == strides


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
    x, y = scaled or (x, y)
    # heads a reshape labelled a map and a Transpose moved "to channels last" are no map
    x, y = lw.recorded(x), _keys_transposed(lw, y)
    product = lw.emit("matmul", [x, y], lw.cg(x), shape, layout, in_channels=x.shape[-1])
    if scaled is not None:
        # SDPA exports (q * sqrt(s)) @ (k^T * sqrt(s)); torch.fx records (q @ k^T) * s
        return [lw.emit("scale", [product], shape, shape, layout)]
    return [product]


def _keys_transposed(lw: Lowerer, k: Tensor) -> Tensor:
    """The second operand of a product; moved NCHW -> NHWC, it is keys transposed twice.

    The exporter merges ``k.transpose(1, 2)`` (tokens to heads) and SDPA's ``k^T`` into one
    ``Transpose(0, 2, 3, 1)`` of the heads tensor, which a reshape labelled a map: two
    ``transpose`` nodes, as torch.fx records them.
    """
    if k.layout != "nhwc":
        return k
    tokens, heads, width = lw.cg(k)
    swapped = lw.emit(
        "transpose", [k], (tokens, heads, width), (heads, tokens, width), "other",
        (1, heads, tokens, width),
    )  # fmt: skip
    shape = (heads, width, tokens)
    return lw.emit("transpose", [swapped], lw.cg(swapped), shape, "other", k.shape)


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
    if spatial is None or any(others):
        lw.fail(f"only padding of H and W is a primitive, got pads={pads}")
    # (top, bottom, left, right); a negative pad crops (NASNet's F.pad(x, (-1, 1, -1, 1)))
    sides = [begins[spatial[0]], ends[spatial[0]], begins[spatial[1]], ends[spatial[1]]]
    return [_grown_then_cropped(lw, t, ops[mode], sides)]


def _grown_then_cropped(lw: Lowerer, t: Tensor, op: str, sides: list[int]) -> Tensor:
    """A ``pad_*`` node for what padding adds, then a ``slice`` for what it crops (as torch.fx).

    ``sides`` are the (top, bottom, left, right) pads of ``t``'s H and W axes.
    """
    c, h, w = lw.cg(t)
    grow = [max(p, 0) for p in sides]
    if any(grow):
        shape = (c, h + grow[0] + grow[1], w + grow[2] + grow[3])
        t = lw.emit(
            op, [t], (c, h, w), shape, t.layout, _held(shape, t.layout), padding=(grow[0], grow[2])
        )
    crop = [max(-p, 0) for p in sides]
    if any(crop):
        c, h, w = lw.cg(t)
        shape = (c, h - crop[0] - crop[1], w - crop[2] - crop[3])
        t = lw.emit(
            "slice", [t], (c, h, w), shape, t.layout, _held(shape, t.layout),
            stride=(1, 1), padding=(crop[0], crop[2]),
        )  # fmt: skip
    return t


def _held(shape: tuple[int, ...], layout: Layout) -> tuple[int, ...]:
    """The ONNX shape of a ``(C, H, W)`` feature map held in ``layout`` (nchw or nhwc)."""
    c, h, w = shape
    return (1, h, w, c) if layout == "nhwc" else (1, c, h, w)


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
