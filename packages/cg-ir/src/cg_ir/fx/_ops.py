"""Lowerings shared by the module, function and method tables (``_modules``, ``_table``).

Each handler takes the ``Lowerer`` and the call's arguments (fx nodes replaced by their values)
and returns the value of the result. Shape-only ops come back as the same graph tensor.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from math import ceil, prod
from typing import TYPE_CHECKING, Any, cast

from torch import fx

from cg_ir._gains import gain_problem
from cg_ir._node import Shape
from cg_ir.fx._values import (
    GraphTensor,
    Layout,
    Opaque,
    TensorMeta,
    Zeros,
    channel_dim,
    recorded_shape,
)

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = [
    "KEPT_LAYOUTS",
    "Handler",
    "hashable",
    "output_gain",
    "activation",
    "addcmul",
    "adaptive",
    "arg",
    "axes_of",
    "binary",
    "cat",
    "channel_slice",
    "clamp",
    "conv",
    "conv1d",
    "elementwise",
    "expand",
    "getitem",
    "hardtanh",
    "identity",
    "linear",
    "norm",
    "norm_function",
    "norm_of",
    "pad",
    "pad_same",
    "pair",
    "permute",
    "pool",
    "power",
    "reduce",
    "reshape",
    "same_shape",
    "spatial",
    "square",
    "split",
    "stack",
    "transpose",
    "truncate",
    "upsample",
    "variance",
    "zeros",
]

Handler = Callable[["Lowerer", tuple[Any, ...], dict[str, Any]], Any]

KEPT_LAYOUTS: tuple[Layout, ...] = ("nchw", "nhwc", "flat", "any")
"""Layouts a shape-keeping op accepts as they are (a pending reshape gets its node first)."""


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


# -- where a torch axis lives in the graph shape -----------------------------------------------
def graph_axis(lw: Lowerer, t: GraphTensor, axis: int) -> int | None:
    """The axis of ``t``'s graph shape holding its torch ``axis`` (None: the batch axis)."""
    axis %= len(t.shape)
    if t.layout == "nhwc":
        return {1: 1, 2: 2, 3: 0}.get(axis)
    if t.layout == "flat":
        return 0 if axis == 1 and lw.cg(t)[1:] == (1, 1) else None
    if t.shape[0] == 1 and lw.cg(t) == t.shape[1:] and axis > 0:
        return axis - 1
    return None


def graph_of(layout: Layout, shape: tuple[int, ...]) -> Shape:
    """The graph shape of a tensor of torch ``shape`` held in ``layout``."""
    if layout == "nhwc":
        return (shape[3], shape[1], shape[2])
    if layout == "flat":
        return (shape[1], 1, 1)
    if layout == "nchw":
        return shape[1:]
    return recorded_shape(shape)


def result_layout(shape: tuple[int, ...]) -> Layout:
    """The layout of a fresh result of torch ``shape`` (feature maps are ``nchw``)."""
    if len(shape) == 4 and shape[0] == 1:
        return "nchw"
    return "flat" if len(shape) == 2 and shape[0] == 1 else "any"


def emit_as(
    lw: Lowerer,
    op: str,
    inputs: Sequence[GraphTensor],
    input_shape: Shape,
    output_shape: Shape,
    layout: Layout,
    shape: tuple[int, ...],
    **attrs: Any,
) -> GraphTensor:
    """A node whose result is a tensor of torch ``shape`` in ``layout`` (not the call's result)."""
    t = lw.append(op, inputs, input_shape, output_shape, shape, **attrs)
    return GraphTensor(t.node, layout, shape)


def _result_shapes(lw: Lowerer) -> tuple[tuple[int, ...], ...]:
    """The torch shapes of the tensors the current call returns (one or a tuple)."""
    result = lw.results[cast(fx.Node, lw.current)]
    values = result if isinstance(result, tuple) else (result,)
    return tuple(v.shape for v in values if isinstance(v, TensorMeta))


def _broadcasts_to(shape: Shape, target: Shape) -> bool:
    extra = len(shape) - len(target)
    if extra > 0 and any(d != 1 for d in shape[:extra]):
        return False
    return all(a in (b, 1) for a, b in zip(shape[::-1], target[::-1], strict=False))


# -- shape-keeping ops -------------------------------------------------------------------------
def elementwise(lw: Lowerer, op: str, value: Any, **attrs: Any) -> GraphTensor:
    """A shape-keeping op (activation, norm, scale) on a tensor in any layout."""
    t = lw.tensor(value, KEPT_LAYOUTS)
    shape = lw.cg(t)
    return emit_as(lw, op, [t], shape, shape, t.layout, t.shape, **attrs)


def activation(op: str) -> Handler:
    return lambda lw, args, kwargs: elementwise(lw, op, args[0])


def hardtanh(lw: Lowerer, x: Any, low: float, high: float) -> GraphTensor:
    return elementwise(lw, "relu6" if (low, high) == (0.0, 6.0) else "hardtanh", x)


def clamp(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``clamp(x, min, max)`` with Python bounds: relu, relu6 or hardtanh."""
    low, high = arg(args, kwargs, 1, "min", None), arg(args, kwargs, 2, "max", None)
    if not all(b is None or isinstance(b, (int, float)) for b in (low, high)):
        lw.fail("clamping to tensor bounds is not lowered; clamp to Python numbers")
    if low is not None and high is not None:
        return hardtanh(lw, args[0], float(low), float(high))
    if low == 0 and high is None:
        return elementwise(lw, "relu", args[0])
    return lw.fail(
        f"clamp(min={low}, max={high}) bounds one side away from 0, which no primitive "
        "computes; use relu, relu6/hardtanh or torch.maximum/minimum with a tensor"
    )


def identity(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0]


def same_shape(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # .to / .float / .contiguous / .clone / .detach: no change the graph can see
    if isinstance(args[0], GraphTensor | Zeros) and args[0].shape == lw.out():
        return args[0]
    lw.tensor(args[0], KEPT_LAYOUTS)
    lw.fail("it changes the tensor's shape")


def zeros(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return Zeros(lw.out())


# -- arithmetic --------------------------------------------------------------------------------
def _scalar(lw: Lowerer, op: str, value: Any, s: float, tensor_first: bool) -> GraphTensor:
    """``value (op) s`` (or ``s (op) value``) for a Python number ``s``."""
    t = lw.tensor(value, KEPT_LAYOUTS)
    if op == "add" or (op == "sub" and tensor_first):
        return t if s == 0 else elementwise(lw, "shift", t)
    if op == "sub":  # s - x
        negated = elementwise(lw, "neg", t)
        return negated if s == 0 else elementwise(lw, "shift", negated)
    if op == "mul":
        if s == 0:  # x * 0: the zero op of cell-based search spaces
            return elementwise(lw, "zero", t)
        return t if s == 1 else elementwise(lw, "scale", t)
    if op == "div" and tensor_first:
        return t if s == 1 else elementwise(lw, "scale", t)
    if op == "div":  # s / x
        inverse = elementwise(lw, "reciprocal", t)
        return inverse if s == 1 else elementwise(lw, "scale", inverse)
    return lw.fail(f"{op} of a tensor and the Python number {s!r} is not a primitive")


def _owned_operand(lw: Lowerer, value: Opaque, layout: Layout, target: Shape) -> GraphTensor:
    """The source node of an owned tensor, reshaped to broadcast in ``layout`` if needed."""
    shape = value.shape or (1,)
    t = GraphTensor(lw.owned_node(value), "any", shape)
    if _broadcasts_to(lw.cg(t), target):
        return t
    # a per-channel vector against channels-last or flattened features: (C,) -> (C, 1, 1)
    wanted = (prod(shape), 1, 1)
    if layout in ("nhwc", "flat") and _broadcasts_to(wanted, target):
        return emit_as(lw, "reshape", [t], lw.cg(t), wanted, "any", (1, *wanted))
    return lw.fail(
        f"its operand {value.target!r} of shape {value.shape} does not broadcast against the "
        f"graph shape {target} of the other operand"
    )


def _tensor_binary(
    lw: Lowerer, op: str, values: Sequence[Any], shape: tuple[int, ...] | None = None
) -> GraphTensor:
    """``op`` of broadcasting operands; the result has torch ``shape`` (the call's result)."""
    out = lw.out() if shape is None else shape
    graphed = [v for v in values if not isinstance(v, Opaque)]
    if not graphed:
        lw.fail("none of its operands is computed from the input")
    tensors = [lw.tensor(v, KEPT_LAYOUTS) for v in graphed]
    layouts = {t.layout for t in tensors}
    if len(layouts) > 1:  # mixed layouts meet in the layout torch holds them in
        want: tuple[Layout, ...] = ("nchw",) if len(out) == 4 else ("any", "flat")
        tensors = [lw.tensor(t, want) for t in tensors]
        layouts = {t.layout for t in tensors}
    layout = tensors[0].layout
    target = graph_of(layout, out)
    converted = iter(tensors)
    inputs = [
        _owned_operand(lw, v, layout, target) if isinstance(v, Opaque) else next(converted)
        for v in values
    ]
    for t in inputs:
        if len(layouts) > 1 or not _broadcasts_to(lw.cg(t), target):
            lw.fail(
                f"its operands have shapes {[t.shape for t in inputs]}; cg-ir broadcasts "
                "operands whose layouts agree"
            )
    return emit_as(lw, op, inputs, target, target, layout, out)


def binary(op: str) -> Handler:
    """add, mul, sub, div, maximum, minimum of tensors, or with a Python number."""

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        a, b = args[0], arg(args, kwargs, 1, "other", None)
        alpha = arg(args, kwargs, 2, "alpha", 1)
        if alpha != 1:
            if not isinstance(alpha, (int, float)) or not isinstance(b, GraphTensor):
                lw.fail("alpha is not a Python number")
            b = elementwise(lw, "scale", b)  # x + alpha * y
        if op == "add" and (isinstance(a, Zeros) or isinstance(b, Zeros)):
            other = b if isinstance(a, Zeros) else a
            if isinstance(other, Zeros):
                return Zeros(lw.out())
            if isinstance(other, GraphTensor) and other.shape == lw.out():
                return other  # 0 + x: the zero start of a sum folds away
        if isinstance(b, (int, float)) and not isinstance(b, bool):
            return _scalar(lw, op, a, b, tensor_first=True)
        if isinstance(a, (int, float)) and not isinstance(a, bool):
            return _scalar(lw, op, b, a, tensor_first=False)
        return _tensor_binary(lw, op, (a, b))

    return lower


# -- reductions --------------------------------------------------------------------------------
def axes_of(value: Any, rank: int) -> frozenset[int]:
    dims = value if isinstance(value, (tuple, list)) else (value,)
    return frozenset(int(d) % rank for d in dims)


def _reduce_node(
    lw: Lowerer, kind: str, t: GraphTensor, axes: frozenset[int], keep: bool
) -> GraphTensor:
    """``t`` reduced over torch ``axes``: global pooling of the spatial axes, else reduce_*."""
    if any(graph_axis(lw, t, a) is None for a in axes):
        lw.fail(f"it reduces over the batch axis of a tensor of shape {t.shape}")
    if keep:
        out = tuple(1 if a in axes else n for a, n in enumerate(t.shape))
    else:
        out = tuple(n for a, n in enumerate(t.shape) if a not in axes)
    spatial = {"nchw": frozenset({2, 3}), "nhwc": frozenset({1, 2})}.get(t.layout)
    if kind != "sum" and axes == spatial:
        pool = "global_avg_pool" if kind == "mean" else "global_max_pool"
        layout: Layout = t.layout if keep else "flat"
        return emit_as(lw, pool, [t], lw.cg(t), (lw.cg(t)[0], 1, 1), layout, out)
    layout = t.layout if keep else result_layout(out)
    return emit_as(lw, f"reduce_{kind}", [t], lw.cg(t), graph_of(layout, out), layout, out)


def _reduced_axes(lw: Lowerer, t: GraphTensor, dims: Any) -> frozenset[int]:
    if dims is None or (isinstance(dims, (tuple, list)) and not dims):
        lw.fail("a reduction over every axis gives a scalar, which cg-ir does not lower")
    return axes_of(dims, len(t.shape))


def reduce(kind: str) -> Handler:
    """sum/mean/amax/max over axes: global pooling over the spatial axes, else reduce_*.

    ``kind`` is ``sum``, ``mean`` (or v1's name ``avg``) or ``max``.
    """
    kind = "mean" if kind == "avg" else kind

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t = lw.tensor(args[0], KEPT_LAYOUTS)
        dims = arg(args, kwargs, 1, "dim", None)
        if kind == "max" and isinstance(dims, (GraphTensor, Opaque)):
            return _tensor_binary(lw, "maximum", (args[0], dims))  # torch.max(x, y)
        keep = bool(arg(args, kwargs, 2, "keepdim", False))
        result = _reduce_node(lw, kind, t, _reduced_axes(lw, t, dims), keep)
        return result if len(_result_shapes(lw)) == 1 else (result, None)  # max(dim): values

    return lower


def _square(lw: Lowerer, t: GraphTensor) -> GraphTensor:
    shape = lw.cg(t)
    return emit_as(lw, "mul", [t, t], shape, shape, t.layout, t.shape)


def power(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x ** p`` for p in (1, 2, 0.5, -0.5, -1): x, x * x, sqrt, rsqrt, reciprocal."""
    exponent = arg(args, kwargs, 1, "exponent", 2)
    if not isinstance(args[0], GraphTensor) or not isinstance(exponent, (int, float)):
        lw.fail("only a tensor raised to a Python number is lowered")
    t = lw.tensor(args[0], KEPT_LAYOUTS)
    roots = {0.5: "sqrt", -0.5: "rsqrt", -1: "reciprocal"}
    if exponent == 1:
        return t
    if exponent == 2:
        return _square(lw, t)
    if exponent in roots:
        return elementwise(lw, roots[exponent], t)
    return lw.fail(f"x ** {exponent!r} is not a primitive (supported: 1, 2, 0.5, -0.5, -1)")


def square(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return power(lw, (args[0], 2), {})


def variance(root: bool) -> Handler:
    """torch.var / torch.std: mean, subtract, square, mean (then the correction, the root)."""

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t = lw.tensor(args[0], KEPT_LAYOUTS)
        axes = _reduced_axes(lw, t, arg(args, kwargs, 1, "dim", None))
        unbiased = arg(args, kwargs, 2, "unbiased", True)
        correction = kwargs.get("correction", 1 if unbiased is not False else 0)
        keep = bool(arg(args, kwargs, 3, "keepdim", False))
        mean = _reduce_node(lw, "mean", t, axes, True)
        centred = _tensor_binary(lw, "sub", (t, mean), t.shape)
        result = _reduce_node(lw, "mean", _square(lw, centred), axes, keep)
        if correction:  # n / (n - correction)
            result = elementwise(lw, "scale", result)
        return elementwise(lw, "sqrt", result) if root else result

    return lower


def norm_of(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """torch.norm / Tensor.norm over axes: p=2 is sqrt(sum(x * x)), p=1 sum(abs(x))."""
    t = lw.tensor(args[0], KEPT_LAYOUTS)
    p = arg(args, kwargs, 1, "p", "fro")
    axes = _reduced_axes(lw, t, arg(args, kwargs, 2, "dim", None))
    keep = bool(arg(args, kwargs, 3, "keepdim", False))
    if p in (2, 2.0, "fro"):
        return elementwise(lw, "sqrt", _reduce_node(lw, "sum", _square(lw, t), axes, keep))
    if p in (1, 1.0):
        return _reduce_node(lw, "sum", elementwise(lw, "abs", t), axes, keep)
    return lw.fail(f"the {p!r}-norm is not lowered (supported: p=1, p=2)")


def addcmul(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """torch.addcmul(input, a, b, value=v): input + v * a * b as mul (scale) add."""
    product = _tensor_binary(lw, "mul", (args[1], args[2]))
    if arg(args, kwargs, 3, "value", 1) != 1:
        product = elementwise(lw, "scale", product)
    return _tensor_binary(lw, "add", (args[0], product))


# -- images: convolution, pooling, padding, upsampling ----------------------------------------
def spatial(lw: Lowerer, x: Any) -> GraphTensor:
    return lw.tensor(x, ("nchw",))


def pad(lw: Lowerer, x: Any, pads: Sequence[int], mode: str) -> GraphTensor:
    """F.pad of a feature map: a pad_* node for what it adds, a slice for what it crops."""
    ops = {"constant": "pad_constant", "reflect": "pad_reflect", "replicate": "pad_replicate"}
    if mode not in ops:
        lw.fail(f"padding mode {mode!r} is not a primitive (supported: {sorted(ops)})")
    values = [int(p) for p in pads]
    if len(values) % 2 or len(values) < 2 or any(values[4:]):
        lw.fail(f"pad={tuple(values)} pads other axes than height and width")
    left, right, top, bottom = (*values, 0, 0)[:4]
    t = spatial(lw, x)
    c, h, w = lw.cg(t)
    grow = [max(p, 0) for p in (top, bottom, left, right)]
    if any(grow):
        shape = (c, h + grow[0] + grow[1], w + grow[2] + grow[3])
        t = emit_as(
            lw, ops[mode], [t], (c, h, w), shape, "nchw", (1, *shape), padding=(grow[0], grow[2])
        )
    crop = [max(-p, 0) for p in (top, bottom, left, right)]
    if any(crop):
        c, h, w = lw.cg(t)
        shape = (c, h - crop[0] - crop[1], w - crop[2] - crop[3])
        t = emit_as(
            lw,
            "slice",
            [t],
            (c, h, w),
            shape,
            "nchw",
            (1, *shape),
            stride=(1, 1),
            padding=(crop[0], crop[2]),
        )
    return t


def _same_total(size: int, kernel: int, stride: int, dilation: int) -> int:
    """TensorFlow's 'SAME' padding of one axis (timm's ``get_same_padding``)."""
    return max((ceil(size / stride) - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)


def pad_same(lw: Lowerer, x: Any, kernel: Any, stride: Any, dilation: Any = 1) -> GraphTensor:
    """Timm's ``pad_same``: the padding that makes a window keep ceil(size / stride)."""
    t = spatial(lw, x)
    _, h, w = lw.cg(t)
    (kh, kw), (sh, sw), (dh, dw) = pair(kernel), pair(stride), pair(dilation)
    ph, pw = _same_total(h, kh, sh, dh), _same_total(w, kw, sw, dw)
    return pad(lw, t, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), "constant")


def conv(
    lw: Lowerer,
    x: Any,
    weight: tuple[int, ...],
    bias: bool,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    fixed: bool = False,
) -> GraphTensor:
    """A 2-D convolution with a weight of shape ``weight`` (O, I/groups, kh, kw).

    ``fixed``: the kernel is not learned (a blur filter in a buffer): a ``filter`` node.
    """
    t = spatial(lw, x)
    if len(weight) != 4:
        lw.fail(f"a weight of shape {weight} is not a 2-D convolution's (O, I/groups, kh, kw)")
    kernel, dil = (weight[2], weight[3]), pair(dilation)
    pads = (0, 0) if padding == "valid" else padding
    if padding == "same":
        totals = [dil[a] * (kernel[a] - 1) for a in (0, 1)]
        pads = (totals[0] // 2, totals[1] // 2)
        if any(total % 2 for total in totals):  # torch pads the extra row/column at the end
            t = pad(lw, t, (0, totals[1] % 2, 0, totals[0] % 2), "constant")
    c_in = lw.cg(t)[0]
    return lw.emit(
        "filter" if fixed else "depthwise_conv" if groups == c_in > 1 else "conv",
        [t],
        lw.cg(t),
        lw.out_shape("nchw"),
        "nchw",
        kernel_size=kernel,
        stride=pair(stride),
        padding=pair(pads),
        dilation=dil,
        groups=int(groups),
        in_channels=c_in,
        out_channels=weight[0],
        bias=bias,
    )


def conv1d(
    lw: Lowerer,
    x: Any,
    weight: tuple[int, ...],
    bias: bool,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> GraphTensor:
    """A 1-D convolution of (N, C, L): a (1, k) conv of the (C, 1, L) image (ECA attention).

    The sequence becomes an image of height 1 by a reshape node, and the result stays a
    pending reshape of torch shape (1, O, L'), so FLOPs and parameters are the 1-D conv's.
    """
    t = lw.tensor(x, (*KEPT_LAYOUTS, "other"))
    out = lw.out()
    if len(t.shape) != 3 or len(weight) != 3 or len(out) != 3:
        lw.fail(f"a Conv1d needs a (N, C, L) input and an (O, C/groups, k) weight, got {t.shape}")
    if isinstance(padding, str):
        if padding == "same" and (int(pair(dilation)[0]) * (weight[2] - 1)) % 2:
            lw.fail("padding='same' pads this kernel unevenly; pad explicitly")
        padding = 0 if padding == "valid" else int(pair(dilation)[0]) * (weight[2] - 1) // 2
    _, c, length = t.shape
    image = (c, 1, length)
    if lw.cg(t) != image:
        t = emit_as(lw, "reshape", [t], lw.cg(t), image, "nchw", (1, *image))
    result = emit_as(
        lw,
        "depthwise_conv" if groups == c > 1 else "conv",
        [t],
        image,
        (out[1], 1, out[2]),
        "nchw",
        (1, out[1], 1, out[2]),
        kernel_size=(1, weight[2]),
        stride=(1, pair(stride)[0]),
        padding=(0, pair(padding)[0]),
        dilation=(1, pair(dilation)[0]),
        groups=int(groups),
        in_channels=c,
        out_channels=weight[0],
        bias=bias,
    )
    return GraphTensor(result.node, "other", out)


def pool(
    lw: Lowerer,
    op: str,
    x: Any,
    kernel: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    indices: bool = False,
) -> GraphTensor:
    if indices:
        lw.fail("return_indices=True returns a tuple; cg-ir lowers the pooled tensor only")
    t = spatial(lw, x)
    k = pair(kernel)
    return lw.emit(
        op,
        [t],
        lw.cg(t),
        lw.out_shape("nchw"),
        "nchw",
        kernel_size=k,
        stride=pair(stride) if stride not in (None, (), []) else k,
        padding=pair(padding),
        dilation=pair(dilation) if dilation else (0, 0),
    )


def adaptive(lw: Lowerer, kind: str, x: Any) -> GraphTensor:
    t = spatial(lw, x)
    out = lw.out_shape("nchw")
    op = f"global_{kind}_pool" if out[1:] == (1, 1) else f"adaptive_{kind}_pool"
    return lw.emit(op, [t], lw.cg(t), out, "nchw")


def upsample(lw: Lowerer, x: Any, mode: str) -> GraphTensor:
    ops = {
        "nearest": "upsample_nearest",
        "nearest-exact": "upsample_nearest",
        "bilinear": "upsample_bilinear",
        "bicubic": "upsample_bicubic",
    }
    if mode not in ops:
        lw.fail(f"upsampling mode {mode!r} is not a primitive (supported: {sorted(ops)})")
    t = spatial(lw, x)
    return lw.emit(ops[mode], [t], lw.cg(t), lw.out_shape("nchw"), "nchw")


# -- weighted ops with weights the network owns ------------------------------------------------
def owned(lw: Lowerer, value: Any, what: str) -> Opaque | None:
    """``value`` as a weight: an owned tensor or None; a tensor computed from the input fails."""
    if value is None or isinstance(value, Opaque):
        return value
    return lw.fail(
        f"its {what} is computed from the input (a dynamic weight), which no primitive takes; "
        "only weights the network owns (parameters, buffers, or tensors computed from them) "
        "are lowered"
    )


def output_gain(lw: Lowerer, weight: Opaque, result: GraphTensor) -> GraphTensor:
    """The learned per-output-channel gain a weight was computed with, as its own ``mul``.

    Scaled weight standardisation (NFNet's ``ScaledStdConv2d``) multiplies the standardised
    kernel by a gain of one value per output channel: ``conv(x, g * w) = g * conv(x, w)``, so
    the conv node keeps the kernel's parameters and the gain enters as a ``parameter`` node
    multiplied into the output, with its own parameters counted.
    """
    extra = [s for s in weight.sources if s.trainable and s.shape != weight.shape]
    if not extra:
        return result
    channels = weight.shape[0]
    problem = gain_problem([s.name for s in extra], [prod(s.shape) for s in extra], channels)
    if problem is not None:
        lw.fail(problem)
    gain = GraphTensor(
        lw.owned_node(Opaque(extra[0].name, (channels, 1, 1), (extra[0],))), "any", (channels, 1, 1)
    )
    shape = lw.cg(result)
    return lw.emit("mul", [result, gain], shape, shape, result.layout)


def linear(lw: Lowerer, x: Any, in_features: int, out_features: int, bias: bool) -> GraphTensor:
    """A linear layer on the channels, the flattened features, or the last axis."""
    t = lw.tensor(x, KEPT_LAYOUTS)
    cg = lw.cg(t)
    attrs = {"in_channels": in_features, "out_channels": out_features, "bias": bias}
    if t.layout == "nhwc" and in_features == cg[0]:
        return lw.emit("linear", [t], cg, (out_features, *cg[1:]), "nhwc", **attrs)
    if t.layout == "flat" and in_features == prod(cg):
        return lw.emit("linear", [t], cg, (out_features, 1, 1), "flat", **attrs)
    if t.layout in ("nchw", "any") and cg[-1] == t.shape[-1] == in_features:
        return lw.emit("linear", [t], cg, (*cg[:-1], out_features), t.layout, **attrs)
    return lw.fail(
        f"Linear({in_features}, {out_features}) on shape {t.shape} acts neither on the channels "
        "of a channels-last tensor, nor on a flattened one, nor on the last axis"
    )


def norm(
    lw: Lowerer,
    op: str,
    x: Any,
    weight: Any,
    bias: Any,
    normalized: Sequence[int] | None = None,
) -> GraphTensor:
    """A norm node; affine when trainable weight and bias are given (rms_norm: the weight).

    ``normalized`` is the normalized_shape of layer/rms norms (the last axes); the others
    normalize torch axis 1. A scale or shift that is not a trainable pair follows as mul/add
    with its parameter or constant node.
    """
    scale, shift = owned(lw, weight, "weight"), owned(lw, bias, "bias")
    t = lw.tensor(x, KEPT_LAYOUTS)
    rank = len(t.shape)
    if normalized is None:
        axes = [graph_axis(lw, t, 1)]
        features = lw.cg(t)[0]
    else:
        dims = tuple(int(d) for d in normalized)
        if tuple(t.shape[rank - len(dims) :]) != dims:
            lw.fail(f"normalized_shape={dims} is not the last axes of shape {t.shape}")
        axes = [graph_axis(lw, t, a) for a in range(rank - len(dims), rank)]
        features = prod(dims)
    if axes != [0] and (None in axes or normalized is None):
        lw.fail(f"it normalizes axes of shape {t.shape} that are not its channels")
    trainable = [v is not None and v.trainable_numel > 0 for v in (scale, shift)]
    affine = trainable[0] and (trainable[1] or op == "rms_norm")
    shape = lw.cg(t)
    in_channels = 0 if axes == [0] else features
    result = emit_as(
        lw, op, [t], shape, shape, t.layout, t.shape, affine=affine, in_channels=in_channels
    )
    if not affine:
        for value, combine in ((scale, "mul"), (shift, "add")):
            if value is not None:
                if normalized is None and len(value.shape) == 1:  # per channel: (C, 1, ...)
                    shape = (*value.shape, *(1,) * (rank - 2))
                    value = Opaque(value.target, shape, value.sources)
                result = _tensor_binary(lw, combine, (result, value))
    return result


def norm_function(op: str) -> Handler:
    """F.batch_norm/instance_norm/layer_norm/group_norm/rms_norm with the caller's weights."""
    # (index of the normalized_shape argument or None, index of weight, index of bias or None)
    places = {
        "batch_norm": (None, 3, 4),
        "instance_norm": (None, 3, 4),
        "group_norm": (None, 2, 3),
        "layer_norm": (1, 2, 3),
        "rms_norm": (1, 2, None),
    }
    shaped, w, b = places[op]

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        normalized = None if shaped is None else arg(args, kwargs, 1, "normalized_shape", ())
        if isinstance(normalized, int):
            normalized = (normalized,)
        weight = arg(args, kwargs, w, "weight", None)
        bias = None if b is None else arg(args, kwargs, b, "bias", None)
        return norm(lw, op, args[0], weight, bias, normalized)

    return lower


# -- data movement -----------------------------------------------------------------------------
def cat(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Concatenation along one axis (the channels of feature maps, any axis of others)."""
    values = list(arg(args, kwargs, 0, "tensors", []))
    dim = int(arg(args, kwargs, 1, "dim", 0))
    if len(values) == 1:
        return values[0]
    if any(isinstance(v, Opaque) for v in values):
        lw.fail("concatenating a tensor the network owns with computed ones is not lowered")
    inputs = [lw.tensor(v, KEPT_LAYOUTS) for v in values]
    if len({t.layout for t in inputs}) > 1:
        inputs = [lw.tensor(t, ("any", "flat")) for t in inputs]
    layout = inputs[0].layout
    axes = {graph_axis(lw, t, dim) for t in inputs}
    if None in axes or len(axes) != 1 or len({len(t.shape) for t in inputs}) != 1:
        lw.fail(f"concatenation along dim={dim} of shapes {[t.shape for t in inputs]}")
    shape = graph_of(layout, lw.out())
    return lw.emit("concat", inputs, shape, shape, layout)


def stack(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """torch.stack: each tensor gains the new axis (a reshape), then one concat."""
    values = list(arg(args, kwargs, 0, "tensors", []))
    dim = int(arg(args, kwargs, 1, "dim", 0))
    out = lw.out()
    axis = dim % len(out)
    pieces = []
    for value in values:
        t = lw.tensor(value, KEPT_LAYOUTS)
        shape = (*t.shape[:axis], 1, *t.shape[axis:])
        pieces.append(lw.recorded(lw.view(t, shape)))
    if len(pieces) == 1:
        return pieces[0]
    return cat(lw, (pieces, dim), {})


Window = tuple[int, int, int]
"""(start, stop, step) of one torch axis."""


def _slice(lw: Lowerer, t: GraphTensor, windows: Sequence[Window]) -> GraphTensor:
    """``t`` cut to ``windows`` per torch axis: one slice node, none when nothing is cut."""
    shape = tuple(len(range(*w)) for w in windows)
    if shape == t.shape:
        return t
    cut = [a for a, (w, n) in enumerate(zip(windows, t.shape, strict=True)) if w != (0, n, 1)]
    where = {graph_axis(lw, t, a): windows[a] for a in cut}
    if None in where:
        lw.fail(f"it slices the batch axis of a tensor of shape {t.shape}")
    attrs: dict[str, Any] = {}
    if t.layout in ("nchw", "nhwc") and (1 in where or 2 in where):
        h, w = where.get(1, (0, 0, 1)), where.get(2, (0, 0, 1))
        attrs = {"stride": (h[2], w[2]), "padding": (h[0], w[0])}
    out = graph_of(t.layout, shape)
    return emit_as(lw, "slice", [t], lw.cg(t), out, t.layout, shape, **attrs)


def getitem(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Indexing: pieces of a tuple, or slices/ints/None/... of a tensor (slice + reshape)."""
    value, index = args
    if isinstance(value, (tuple, list)):
        return value[index]
    t = lw.tensor(value, KEPT_LAYOUTS)
    items = index if isinstance(index, tuple) else (index,)
    simple = (slice, int, type(None), type(Ellipsis))
    if not all(isinstance(i, simple) and not isinstance(i, bool) for i in items):
        lw.fail(f"indexing with {index!r}; only slices, integers, None and ... are lowered")
    rank = len(t.shape)
    consuming = sum(1 for i in items if i is not None and i is not Ellipsis)
    expanded: list[Any] = []
    for i in items:
        expanded.extend([slice(None)] * (rank - consuming) if i is Ellipsis else [i])
    per_axis = [i for i in expanded if i is not None]
    per_axis += [slice(None)] * (rank - len(per_axis))
    windows = [
        i.indices(n) if isinstance(i, slice) else (i % n, i % n + 1, 1)
        for i, n in zip(per_axis, t.shape, strict=True)
    ]
    result = _slice(lw, t, windows)
    return result if result.shape == lw.out() else lw.view(result, lw.out())


def channel_slice(lw: Lowerer, t: GraphTensor) -> Any:
    """The current result as a slice of ``t``'s channels (folded when nothing is cut)."""
    out = lw.out()
    axis = channel_dim(t, lw.cg(t))
    changed = [a for a, (i, o) in enumerate(zip(t.shape, out, strict=False)) if i != o]
    if len(out) != len(t.shape) or (changed and (axis is None or changed != [axis])):
        lw.fail(f"slicing {t.shape} to {out}: only slices of the channels are a primitive")
    return _slice(lw, t, [(0, o, 1) for o in out])


def truncate(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # nasbench_pytorch.model.model.truncate(x, channels): keeps the first `channels` channels
    return channel_slice(lw, lw.tensor(args[0], ("nchw",)))


def _used_pieces(node: fx.Node, count: int) -> set[int]:
    """Which results of a tuple-returning node are read (all unless only indexed by ints)."""
    used: set[int] = set()
    for user in node.users:
        index = user.args[1] if len(user.args) > 1 else None
        if user.target is not operator.getitem or not isinstance(index, int):
            return set(range(count))
        used.add(index % count)
    return used


def split(kind: str) -> Handler:
    """Chunk / split / unbind: one slice node per piece that is used."""

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t = lw.tensor(args[0], KEPT_LAYOUTS)
        dim = arg(args, kwargs, 1 if kind == "unbind" else 2, "dim", 0)
        axis = int(dim) % len(t.shape)
        shapes = _result_shapes(lw)
        used = _used_pieces(lw.current, len(shapes)) if lw.current is not None else set()
        pieces: list[Any] = []
        start = 0
        for i, shape in enumerate(shapes):
            size = 1 if kind == "unbind" else shape[axis]
            windows = [(0, n, 1) for n in t.shape]
            windows[axis] = (start, start + size, 1)
            start += size
            if i not in used:
                pieces.append(None)  # never read: no node
                continue
            piece = _slice(lw, t, windows)
            pieces.append(piece if piece.shape == shape else lw.view(piece, shape))
        return tuple(pieces)

    return lower


_BROADCASTING = frozenset(
    {operator.add, operator.mul, operator.sub, operator.truediv, "add", "mul", "sub", "div"}
)


def expand(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Tensor.expand / expand_as: folds into add/mul/sub/div (they broadcast), else a node.

    An expanded tensor that is reshaped or concatenated (EvoNorm's group statistics) holds
    copies of its values: an ``expand`` node from its recorded shape to the result's.
    """
    node = cast(fx.Node, lw.current)
    if all(hashable(u.target) and u.target in _BROADCASTING for u in node.users):
        return lw.tensor(args[0], (*KEPT_LAYOUTS, "other"))
    source = lw.recorded(args[0])
    out = lw.out()
    return lw.append("expand", [source], lw.cg(source), recorded_shape(out), out)


def hashable(target: Any) -> bool:
    """Whether ``target`` (an fx node's function) can be looked up in a table."""
    try:
        hash(target)
    except TypeError:
        return False
    return True


def permute(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    dims = args[1:] if len(args) > 2 else arg(args, kwargs, 1, "dims", ())
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return lw.transpose(args[0], tuple(int(d) for d in dims))


def transpose(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """torch.transpose / Tensor.transpose / swapaxes: a permute swapping two axes."""
    t = lw.tensor(args[0], (*KEPT_LAYOUTS, "other"))
    rank = len(t.shape)
    a = int(arg(args, kwargs, 1, "dim0", 0)) % rank
    b = int(arg(args, kwargs, 2, "dim1", 1)) % rank
    order = list(range(rank))
    order[a], order[b] = b, a
    return lw.transpose(t, tuple(order))


def reshape(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return lw.reshape(args[0])
