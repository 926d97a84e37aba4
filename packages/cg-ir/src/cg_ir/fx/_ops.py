"""Lowerings shared by the module, function and method tables (``_modules``, ``_table``).

Each handler takes the ``Lowerer`` and the call's arguments (fx nodes replaced by their values)
and returns the value of the result. Shape-only ops come back as the same graph tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cg_ir.fx._values import GraphTensor, Layout, Zeros, channel_dim

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = [
    "Handler",
    "activation",
    "adaptive",
    "arg",
    "binary",
    "cat",
    "channel_slice",
    "axes_of",
    "getitem",
    "hardtanh",
    "identity",
    "layer_norm",
    "norm_function",
    "pair",
    "permute",
    "pool",
    "reduce",
    "reshape",
    "same_shape",
    "spatial",
    "truncate",
    "upsample",
    "zeros",
]

Handler = Callable[["Lowerer", tuple[Any, ...], dict[str, Any]], Any]


def arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


def pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


# -- shared lowerings ------------------------------------------------------------------------
def activation(op: str) -> Handler:
    return lambda lw, args, kwargs: lw.unary(op, args[0])


def hardtanh(lw: Lowerer, x: Any, low: float, high: float) -> GraphTensor:
    if (low, high) != (0.0, 6.0):
        lw.fail(f"hardtanh({low}, {high}) is not relu6; only hardtanh(0, 6) is a primitive")
    return lw.unary("relu6", x)


def identity(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return args[0]


def spatial(lw: Lowerer, x: Any) -> GraphTensor:
    return lw.tensor(x, ("nchw",))


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
    }
    if mode not in ops:
        lw.fail(f"upsampling mode {mode!r} is not a primitive (supported: {sorted(ops)})")
    t = spatial(lw, x)
    return lw.emit(ops[mode], [t], lw.cg(t), lw.out_shape("nchw"), "nchw")


def binary(op: str) -> Handler:
    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        a, b = args[0], arg(args, kwargs, 1, "other", None)
        if arg(args, kwargs, 2, "alpha", 1) != 1:
            lw.fail("alpha != 1 scales an operand by a Python scalar")
        out = lw.out()
        if op == "add" and (isinstance(a, Zeros) or isinstance(b, Zeros)):
            other = b if isinstance(a, Zeros) else a
            if isinstance(other, Zeros):
                return Zeros(out)
            if isinstance(other, GraphTensor) and other.shape == out:
                return other  # 0 + x: the zero start of a sum folds away
        x, y = lw.tensor(a), lw.tensor(b)
        if x.layout != y.layout or len(x.shape) != len(y.shape):
            lw.fail(
                f"its operands have shapes {x.shape} and {y.shape}; cg-ir broadcasts only "
                "between tensors of the same layout and rank"
            )
        if x.layout == "flat":
            if lw.cg(x) != lw.cg(y):
                lw.fail(f"flattened operands of (C, H, W) {lw.cg(x)} and {lw.cg(y)} differ")
            shape = lw.cg(x)
        else:
            shape = lw.out_shape(x.layout)
        for t in (x, y):
            if not all(s in (1, o) for s, o in zip(lw.cg(t), shape, strict=True)):
                lw.fail(f"an operand of (C, H, W) {lw.cg(t)} does not broadcast to {shape}")
        return lw.emit(op, [x, y], shape, shape, x.layout)

    return lower


def axes_of(value: Any, rank: int) -> frozenset[int]:
    dims = value if isinstance(value, (tuple, list)) else (value,)
    return frozenset(int(d) % rank for d in dims)


def reduce(kind: str) -> Handler:
    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        t = lw.tensor(args[0], ("nchw", "nhwc"))
        dims = arg(args, kwargs, 1, "dim", None)
        spatial = frozenset({2, 3}) if t.layout == "nchw" else frozenset({1, 2})
        if dims is None or axes_of(dims, 4) != spatial:
            lw.fail(
                f"only a {kind} over the spatial axes {sorted(spatial)} is a primitive "
                f"(global pooling), got dim={dims!r}"
            )
        keep = bool(arg(args, kwargs, 2, "keepdim", False))
        c = lw.cg(t)[0]
        layout = t.layout if keep else "flat"
        return lw.emit(f"global_{kind}_pool", [t], lw.cg(t), (c, 1, 1), layout)

    return lower


def cat(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    values = list(arg(args, kwargs, 0, "tensors", []))
    dim = arg(args, kwargs, 1, "dim", 0)
    if len(values) == 1:
        return values[0]
    inputs = [lw.tensor(v) for v in values]
    layouts = {t.layout for t in inputs}
    axes = {channel_dim(t, lw.cg(t)) for t in inputs}
    rank = len(inputs[0].shape)
    if len(layouts) != 1 or len(axes) != 1 or None in axes or int(dim) % rank not in axes:
        lw.fail(
            f"only concatenation along the channels is a primitive, got dim={dim} on "
            f"shapes {[t.shape for t in inputs]}"
        )
    layout = inputs[0].layout
    shape = lw.out_shape(layout)
    return lw.emit("concat", inputs, shape, shape, layout)


def channel_slice(lw: Lowerer, t: GraphTensor) -> Any:
    """The current result as a slice of ``t``'s channels (folded when nothing is cut)."""
    out = lw.out()
    if out == t.shape:
        return t
    c, h, w = lw.cg(t)
    axis = channel_dim(t, (c, h, w))
    changed = [a for a, (i, o) in enumerate(zip(t.shape, out, strict=False)) if i != o]
    if len(out) != len(t.shape) or axis is None or changed != [axis]:
        lw.fail(f"slicing {t.shape} to {out}: only slices of the channels are a primitive")
    return lw.emit("slice", [t], (c, h, w), (out[axis], h, w), t.layout)


def getitem(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value, index = args
    if isinstance(value, (tuple, list)):
        return value[index]
    t = lw.tensor(value, ("nchw", "nhwc", "flat", "other"))
    items = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, slice) or i is None or i is Ellipsis for i in items):
        lw.fail(f"indexing with {index!r}; only slices (x[:, a:b]) and None are lowered")
    if None in items:
        if any(isinstance(i, slice) and i != slice(None) for i in items):
            lw.fail("indexing that both slices and adds axes is not lowered")
        return lw.reshape(t)
    return channel_slice(lw, t)


def truncate(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # nasbench_pytorch.model.model.truncate(x, channels): keeps the first `channels` channels
    return channel_slice(lw, lw.tensor(args[0], ("nchw",)))


def permute(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    dims = args[1:] if len(args) > 2 else arg(args, kwargs, 1, "dims", ())
    t = lw.tensor(args[0])
    order = tuple(int(d) % len(t.shape) for d in dims)
    moves: dict[tuple[str, tuple[int, ...]], Layout] = {
        ("nchw", (0, 2, 3, 1)): "nhwc",
        ("nhwc", (0, 3, 1, 2)): "nchw",
    }
    if order == tuple(range(len(t.shape))):
        return t
    if (t.layout, order) not in moves:
        lw.fail(f"permute{order} of a {t.layout} tensor: only NCHW <-> NHWC is lowered")
    return GraphTensor(t.node, moves[t.layout, order], lw.out())


def reshape(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return lw.reshape(args[0])


def zeros(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return Zeros(lw.out())


def same_shape(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    # .to / .float / .contiguous / .clone / .detach: no change the graph can see
    if isinstance(args[0], GraphTensor | Zeros) and args[0].shape == lw.out():
        return args[0]
    lw.tensor(args[0])
    lw.fail("it changes the tensor's shape")


def norm_function(op: str) -> Handler:
    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if arg(args, kwargs, 2, "weight", None) is not None:
            lw.fail(
                "weights passed to a functional norm are read with get_attr; use the torch.nn layer"
            )
        if op == "layer_norm":
            return layer_norm(lw, args[0], arg(args, kwargs, 1, "normalized_shape", ()), False)
        t = spatial(lw, args[0])
        return lw.emit(op, [t], lw.cg(t), lw.cg(t), "nchw", affine=False)

    return lower


def layer_norm(lw: Lowerer, x: Any, normalized: Any, affine: bool) -> GraphTensor:
    t = lw.tensor(x)
    c = lw.cg(t)[0]
    dims = tuple(normalized) if isinstance(normalized, (tuple, list)) else (normalized,)
    if dims != (c,) or (channel_dim(t, lw.cg(t)) != len(t.shape) - 1):
        lw.fail(
            f"only a LayerNorm over the channels of a channels-last tensor is a primitive; "
            f"normalized_shape={normalized!r} on shape {t.shape}"
        )
    return lw.unary("layer_norm", t, affine=affine)
