"""Activations, arithmetic and data movement: ONNX ops that keep or move a tensor's values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from cg_ir.onnx._values import Const, Layout, Tensor, channel_axis, graph_shape

if TYPE_CHECKING:
    from cg_ir.onnx._lower import Lowerer, Value

__all__ = [
    "Handler",
    "activation",
    "binary",
    "clip",
    "concat",
    "pass_through",
    "reduce",
    "reshape",
    "shape_of",
    "slice_",
    "split",
    "transpose",
]

Handler = Callable[["Lowerer", list["Value"]], Sequence["Value"]]
_ANY: tuple[Layout, ...] = ("nchw", "nhwc", "flat", "other")


def activation(op: str) -> Handler:
    return lambda lw, args: [lw.unary(op, args[0])]


def pass_through(lw: Lowerer, args: list[Value]) -> list[Value]:
    # Identity, Dropout (inference), Cast: no change the graph can see
    return [args[0], *([None] * (len(lw.current.output) - 1 if lw.current else 0))]


def clip(lw: Lowerer, args: list[Value]) -> list[Value]:
    if lw.opset < 11:
        low, high = lw.attr("min", None), lw.attr("max", None)
    else:
        low = lw.const(args[1], "min").scalar() if len(args) > 1 and args[1] is not None else None
        high = lw.const(args[2], "max").scalar() if len(args) > 2 and args[2] is not None else None
    if low == 0 and high == 6:
        return [lw.unary("relu6", args[0])]
    if low == 0 and high is None:
        return [lw.unary("relu", args[0])]
    return [lw.unary("hardtanh", args[0])]


def _scalar_op(lw: Lowerer, op_type: str, t: Tensor, c: Const, const_first: bool) -> Value:
    """``t`` combined with a one-element constant: scale, shift, zero or nothing."""
    value = c.scalar()
    assert value is not None
    if op_type in ("Add", "Sub") and value == 0.0 and not const_first:
        return t
    if op_type == "Mul" and value == 0.0:
        cg = lw.cg(t)
        return lw.emit("zero", [t], cg, cg, t.layout, t.shape)
    if op_type in ("Mul", "Div") and value == 1.0 and not const_first:
        return t
    if const_first and op_type in ("Sub", "Div"):
        first = lw.unary("neg" if op_type == "Sub" else "reciprocal", t)
        return lw.unary("shift" if op_type == "Sub" else "scale", first)
    return lw.unary("shift" if op_type in ("Add", "Sub") else "scale", t)


def _zeros_like(lw: Lowerer, c: Const, out: tuple[int, ...]) -> Tensor | None:
    """Added zeros made in the shape of a graph tensor: a ``zero`` node fed by that tensor.

    (``Shape`` -> ``ConstantOfShape``, as ``cg_ir.nn.Zero`` lowers.)
    """
    if c.shape_of is None or c.trainable or c.shape != out or np.any(c.array()):
        return None
    source = c.shape_of
    layout = source.layout if graph_shape(out, source.layout) is not None else "other"
    shape = graph_shape(out, layout)
    assert shape is not None
    return lw.emit("zero", [source], lw.cg(source), shape, layout, out)


def _is_zero(c: Const) -> bool:
    """An all-zero constant that is not a learned weight (``zeros_like``, ``new_zeros``)."""
    return not c.trainable and prod(c.shape) <= 1 << 22 and not np.any(c.array())


def _linear_bias(lw: Lowerer, t: Tensor, c: Const, tensor_input: str) -> Tensor | None:
    """``MatMul`` then ``Add`` of a learned ``(N,)`` bias: the linear node gets its bias."""
    node = lw.nodes[t.node]
    if node.op != "linear" or node.bias or not c.trainable or c.shape != (node.out_channels,):
        return None
    if lw.uses.get(tensor_input, 0) != 1 or t.node != len(lw.nodes) - 1:
        return None
    lw.nodes[t.node] = node._replace(bias=True)
    return t


def binary(op: str, op_type: str) -> Handler:
    def lower(lw: Lowerer, args: list[Value]) -> list[Value]:
        a, b = args[0], args[1]
        out = lw.out()
        if isinstance(a, Const) or isinstance(b, Const):
            const_first = isinstance(a, Const)
            c, other = (a, b) if const_first else (b, a)
            assert isinstance(c, Const) and lw.current is not None
            t = lw.tensor(other, _ANY)
            biased = (
                _linear_bias(lw, t, c, lw.current.input[1 if const_first else 0])
                if op_type == "Add"
                else None
            )
            if biased is not None:
                return [biased]
            zeros = _zeros_like(lw, c, out) if op_type == "Add" else None
            if zeros is not None:
                a, b = (zeros, t) if const_first else (t, zeros)
            elif op_type == "Add" and t.shape == out and _is_zero(c):
                return [t]  # 0 + x, as torch.fx folds zeros_like: the zero start of a sum
            elif c.scalar() is not None and t.shape == out:
                return [_scalar_op(lw, op_type, t, c, const_first)]
            else:
                s = lw.source(c, t)
                a, b = (s, t) if const_first else (t, s)
        x, y = lw.tensor(a, _ANY), lw.tensor(b, _ANY)
        layout = x.layout if x.shape == out else y.layout
        shape = graph_shape(out, layout)
        if shape is None or (x.layout != y.layout and len(x.shape) == len(y.shape) == len(out)):
            lw.fail(f"its operands of shapes {x.shape} and {y.shape} are laid out differently")
        return [lw.emit(op, [x, y], shape, shape, layout)]

    return lower


def concat(lw: Lowerer, args: list[Value]) -> list[Value]:
    inputs = [lw.tensor(a, _ANY) for a in args]
    if len(inputs) == 1:
        return [inputs[0]]
    layouts = {t.layout for t in inputs}
    axis = int(lw.attr("axis", 0)) % len(lw.out())
    if len(layouts) != 1:
        lw.fail(f"it concatenates tensors of layouts {sorted(layouts)}")
    layout = inputs[0].layout
    if layout != "other" and {channel_axis(t, lw.cg(t)) for t in inputs} != {axis}:
        lw.fail(
            f"only concatenation along the channels of a feature map is a primitive, got "
            f"axis={axis} on shapes {[t.shape for t in inputs]}"
        )
    shape = lw.out_shape(layout)
    return [lw.emit("concat", inputs, shape, shape, layout)]


def reshape(lw: Lowerer, args: list[Value]) -> list[Value]:
    # Reshape, Flatten, Squeeze, Unsqueeze: fold like torch's view/flatten/squeeze
    return [lw.reshape(args[0], lw.out())]


def transpose(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], _ANY)
    perm = tuple(lw.attr("perm", ()) or reversed(range(len(t.shape))))
    moves: dict[tuple[str, tuple[int, ...]], Layout] = {
        ("nchw", (0, 2, 3, 1)): "nhwc",
        ("nhwc", (0, 3, 1, 2)): "nchw",
    }
    if perm == tuple(range(len(t.shape))):
        return [t]
    if (t.layout, perm) in moves:
        return [Tensor(t.node, moves[t.layout, perm], lw.out())]
    if perm[0] != 0:
        lw.fail(f"Transpose{perm} moves the batch axis")
    out = lw.out()
    return [lw.emit("transpose", [t], lw.cg(t), out[1:], "other", out)]


def _slice_node(
    lw: Lowerer, t: Tensor, out: tuple[int, ...], starts: dict[int, tuple[int, int]]
) -> Tensor:
    """``t`` cut to ONNX shape ``out``; ``starts`` maps a sliced axis to its (start, step)."""
    if out == t.shape:
        return t
    cg = lw.cg(t)
    changed = [a for a, (i, o) in enumerate(zip(t.shape, out, strict=True)) if i != o]
    if 0 in changed:
        lw.fail("it slices the batch axis")
    if t.layout == "flat":
        lw.fail(f"it slices a flattened feature map {cg}")
    spatial = {"nchw": (2, 3), "nhwc": (1, 2)}.get(t.layout)
    stride, padding = [0, 0], [0, 0]
    if spatial is not None:
        for i, axis in enumerate(spatial):
            if axis in changed:
                padding[i], stride[i] = starts.get(axis, (0, 1))
    shape = graph_shape(out, t.layout)
    assert shape is not None
    return lw.emit(
        "slice",
        [t],
        cg,
        shape,
        t.layout,
        out,
        stride=(stride[0], stride[1]),
        padding=(padding[0], padding[1]),
    )


def slice_(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], _ANY)
    rank = len(t.shape)
    if lw.opset < 10:
        starts, axes = list(lw.attr("starts", [])), list(lw.attr("axes", []))
        steps: list[int] = []
    else:
        starts = lw.ints(args[1], "starts")
        axes = lw.ints(args[3], "axes") if len(args) > 3 and args[3] is not None else []
        steps = lw.ints(args[4], "steps") if len(args) > 4 and args[4] is not None else []
    axes = [a % rank for a in axes] or list(range(len(starts)))
    steps = steps or [1] * len(axes)
    where = {
        axis: (min(max(start + t.shape[axis] if start < 0 else start, 0), t.shape[axis]), step)
        for axis, start, step in zip(axes, starts, steps, strict=True)
    }
    return [_slice_node(lw, t, lw.out(), where)]


def split(lw: Lowerer, args: list[Value]) -> list[Value]:
    t = lw.tensor(args[0], _ANY)
    assert lw.current is not None
    axis = int(lw.attr("axis", 0)) % len(t.shape)
    results: list[Value] = []
    start = 0
    for index in range(len(lw.current.output)):
        out = lw.out(index)
        results.append(_slice_node(lw, t, out, {axis: (start, 1)}))
        start += out[axis]
    return results


def reduce(kind: str) -> Handler:
    """ReduceMean/Max/Sum: global pooling over H, W of a feature map, else a reduction."""

    def lower(lw: Lowerer, args: list[Value]) -> list[Value]:
        t = lw.tensor(args[0], _ANY)
        rank = len(t.shape)
        if len(args) > 1 and args[1] is not None:
            axes = lw.ints(args[1], "axes")
        else:
            axes = list(lw.attr("axes", []))
        dims = frozenset(a % rank for a in axes) if axes else frozenset(range(rank))
        keep = bool(lw.attr("keepdims", 1))
        spatial = {"nchw": frozenset({2, 3}), "nhwc": frozenset({1, 2})}.get(t.layout)
        out = lw.out()
        if dims == spatial and kind != "sum":
            c = lw.cg(t)[0]
            layout: Layout = t.layout if keep else "flat"
            return [lw.emit(f"global_{kind}_pool", [t], lw.cg(t), (c, 1, 1), layout)]
        if 0 in dims and prod(out) > 1:
            lw.fail("it reduces over the batch axis")
        layout = t.layout if keep and graph_shape(out, t.layout) else "other"
        if layout == "other" and len(out) < 2:
            layout = "flat"
        shape = graph_shape(out, layout) or (1,)
        return [lw.emit(f"reduce_{kind}", [t], lw.cg(t), shape, layout)]

    return lower


def shape_of(lw: Lowerer, args: list[Value]) -> list[Value]:
    # Shape of a graph tensor: a constant that remembers the tensor (for ConstantOfShape zeros)
    t = lw.tensor(args[0], _ANY)
    start, end = int(lw.attr("start", 0)), lw.attr("end", None)
    shape = np.asarray(t.shape[start:end], dtype=np.int64)
    return [Const(shape, shape_of=t)]
