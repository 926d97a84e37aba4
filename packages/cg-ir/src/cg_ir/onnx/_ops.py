"""Activations, arithmetic and data movement: ONNX ops that keep or move a tensor's values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import prod
from typing import TYPE_CHECKING

import numpy as np
import onnx

from cg_ir._node import Shape
from cg_ir.onnx._values import Const, Layout, Tensor, channel_axis, graph_shape

if TYPE_CHECKING:
    from cg_ir.onnx._lower import Lowerer, Value

__all__ = [
    "Handler",
    "activation",
    "binary",
    "clip",
    "concat",
    "expand",
    "gather",
    "pass_through",
    "power",
    "reciprocal",
    "reduce",
    "reduce_l2",
    "reshape",
    "shape_of",
    "slice_",
    "split",
    "square",
    "transpose",
]

Handler = Callable[["Lowerer", list["Value"]], Sequence["Value"]]
_ANY: tuple[Layout, ...] = ("nchw", "nhwc", "flat", "other", "raw")


def activation(op: str) -> Handler:
    return lambda lw, args: [lw.unary(op, args[0])]


def pass_through(lw: Lowerer, args: list[Value]) -> list[Value]:
    # Identity, Dropout (inference), Cast: no change the graph can see
    return [args[0], *([None] * (len(lw.current.output) - 1 if lw.current else 0))]


def clip(lw: Lowerer, args: list[Value]) -> list[Value]:
    assert lw.current is not None
    if lw.opset < 11:
        low, high = lw.attr("min", None), lw.attr("max", None)
    else:
        low = lw.const(args[1], "min").scalar() if len(args) > 1 and args[1] is not None else None
        high = lw.const(args[2], "max").scalar() if len(args) > 2 and args[2] is not None else None
    norm = lw.producers.get(lw.current.input[0])
    if norm is not None and norm.op_type == "ReduceL2" and high is None:
        # F.normalize's eps clamp of the norm: torch.fx records F.normalize without it
        return [args[0]]
    if low == 0 and high == 6:
        return [lw.unary("relu6", args[0])]
    if low == 0 and high is None:
        return [lw.unary("relu", args[0])]
    return [lw.unary("hardtanh", args[0])]


_POWERS = {0.5: "sqrt", -0.5: "rsqrt", -1.0: "reciprocal"}


def power(lw: Lowerer, args: list[Value]) -> list[Value]:
    """``x ** p`` for p in (1, 2, 0.5, -0.5, -1): x, x * x, sqrt, rsqrt, reciprocal (torch.fx's)."""
    t = lw.tensor(args[0], _ANY)
    exponent = lw.const(args[1], "exponent").scalar()
    if exponent == 1.0:
        return [t]
    if exponent == 2.0:
        return [square(lw, t)]
    if exponent in _POWERS:
        return [lw.unary(_POWERS[exponent], t)]
    lw.fail(f"x ** {exponent} is not a primitive (supported: 1, 2, 0.5, -0.5, -1)")


def square(lw: Lowerer, t: Tensor) -> Tensor:
    """``t * t``: one ``mul`` node fed twice by ``t``."""
    cg = lw.cg(t)
    return lw.emit("mul", [t, t], cg, cg, t.layout, t.shape)


def reduce_l2(lw: Lowerer, args: list[Value]) -> list[Value]:
    """``ReduceL2`` (``torch.norm``, ``F.normalize``): sqrt(sum(x * x)), as torch.fx records it."""
    t = lw.tensor(args[0], _ANY)
    (sums,) = reduce("sum")(lw, [square(lw, t), *args[1:]])
    return [lw.unary("sqrt", sums)]


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
    if op_type in ("Mul", "Div") and c.shape_of is not None and _only_made(lw, t, "scale"):
        # torch.var's correction n / (n - 1), computed from the tensor's shape, exports as a
        # Mul by n and a Div by n - 1: one scale, as torch.fx records it
        return t
    if const_first and op_type == "Div" and value == 1.0 and _only_made(lw, t, "sqrt"):
        # torch.rsqrt exports as Reciprocal(Sqrt(x)) or 1 / Sqrt(x): one rsqrt, as torch.fx
        lw.nodes[t.node] = lw.nodes[t.node]._replace(op="rsqrt")
        return t
    if const_first and op_type in ("Sub", "Div"):
        first = lw.unary("neg" if op_type == "Sub" else "reciprocal", t)
        if value == (0.0 if op_type == "Sub" else 1.0):
            return first
        return lw.unary("shift" if op_type == "Sub" else "scale", first)
    return lw.unary("shift" if op_type in ("Add", "Sub") else "scale", t)


def _only_made(lw: Lowerer, t: Tensor, op: str) -> bool:
    """Whether ``t`` is an ``op`` node made last, whose value only the current node uses."""
    assert lw.current is not None
    only_use = sum(lw.uses.get(name, 0) for name in lw.current.input if lw.env.get(name) == t)
    return lw.nodes[t.node].op == op and t.node == len(lw.nodes) - 1 and only_use == 1


def reciprocal(lw: Lowerer, args: list[Value]) -> list[Value]:
    """``Reciprocal``; of a ``Sqrt`` used only here, one ``rsqrt`` (torch.rsqrt's export)."""
    t = lw.tensor(args[0], _ANY)
    if _only_made(lw, t, "sqrt"):
        lw.nodes[t.node] = lw.nodes[t.node]._replace(op="rsqrt")
        return [t]
    return [lw.unary("reciprocal", t)]


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
    learned = any(r.trainable for r in c.roots)  # e.g. a bias gathered from a zero table
    return not c.trainable and not learned and prod(c.shape) <= 1 << 22 and not np.any(c.array())


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
            elif c.scalar() is not None and t.shape == out and not c.trainable:
                # (a learned scalar, NFNet's skip-init gain, is a parameter node as in torch.fx)
                return [_scalar_op(lw, op_type, t, c, const_first)]
            else:
                s = lw.source(c, t)
                a, b = (s, t) if const_first else (t, s)
        x, y = lw.tensor(a, _ANY), lw.tensor(b, _ANY)
        if x.layout != y.layout and ({x.layout, y.layout} & {"other", "raw"} or x.shape == y.shape):
            # a channels-last map meets tokens or a map reshaped from them (Swin): both as
            # torch holds them (an NCHW-labelled map already is)
            x, y = (
                Tensor(r.node, "other", r.shape) if r.layout == "nchw" else r
                for r in (lw.recorded(x), lw.recorded(y))
            )
        layout = x.layout if x.shape == out else y.layout
        if {x.layout, y.layout} == {"other", "raw"} and graph_shape(out, "other") == graph_shape(
            out, "raw"
        ):
            layout = "other"  # tokens back from a batch-moving attention (see _values)
            y = Tensor(y.node, layout, y.shape)
            x = Tensor(x.node, layout, x.shape)
        shape = graph_shape(out, layout)
        if shape is None or (x.layout != y.layout and len(x.shape) == len(y.shape) == len(out)):
            lw.fail(f"its operands of shapes {x.shape} and {y.shape} are laid out differently")
        return [lw.emit(op, [x, y], shape, shape, layout)]

    return lower


def concat(lw: Lowerer, args: list[Value]) -> list[Value]:
    like = next((a for a in args if isinstance(a, Tensor)), None)
    # a learned operand (ViT's class token) is a parameter node, as in the torch.fx path
    inputs = [lw.source(a, like) if isinstance(a, Const) else lw.tensor(a, _ANY) for a in args]
    if len(inputs) == 1:
        return [inputs[0]]
    axis = int(lw.attr("axis", 0)) % len(lw.out())
    rolled = _roll(lw, axis)
    if rolled is not None:
        return [rolled]
    layouts = {t.layout for t in inputs}
    if layouts & {"other", "raw"} or {channel_axis(t, lw.cg(t)) for t in inputs} != {axis}:
        # not the channels of feature maps: the maps as torch holds them (Swin's patch merging)
        inputs = [lw.recorded(t) for t in inputs]
        layouts = {t.layout for t in inputs}
    if len(layouts) != 1:
        lw.fail(f"it concatenates tensors of layouts {sorted(layouts)}")
    layout = inputs[0].layout
    if layout not in ("other", "raw") and {channel_axis(t, lw.cg(t)) for t in inputs} != {axis}:
        lw.fail(
            f"only concatenation along the channels of a feature map is a primitive, got "
            f"axis={axis} on shapes {[t.shape for t in inputs]}"
        )
    shape = lw.out_shape(layout)
    return [lw.emit("concat", inputs, shape, shape, layout)]


def _roll(lw: Lowerer, axis: int) -> Tensor | None:
    """``torch.roll``, which exports as ``Concat(Slice(x, s:), Slice(x, :s))`` per shifted axis.

    One ``roll`` node of ``x`` (the slices are left unused and dropped at the end); the roll of
    a second axis joins the first, as torch.fx records one ``roll`` per call.
    """
    assert lw.current is not None
    producers = [lw.producers.get(name) for name in lw.current.input]
    if len(producers) != 2 or any(p is None or p.op_type != "Slice" for p in producers):
        return None
    first, second = (p for p in producers if p is not None)
    source = lw.env.get(first.input[0])
    if second.input[0] != first.input[0] or not isinstance(source, Tensor):
        return None
    starts = lw.env.get(first.input[1]) if len(first.input) > 1 else None
    if lw.out() != source.shape or not isinstance(starts, Const) or not np.any(starts.array()):
        return None
    node = lw.nodes[source.node]
    consumers = {dst for src, dst in lw.edges if src == source.node}
    if node.op == "roll" and all(lw.nodes[d].op == "slice" for d in consumers):
        return source  # the second axis of one torch.roll
    # a feature map keeps its layout, as in torch.fx's layout tracking
    return lw.emit("roll", [source], lw.cg(source), lw.cg(source), source.layout)


_BROADCASTING = frozenset({"Add", "Mul", "Sub", "Div"})


def expand(lw: Lowerer, args: list[Value]) -> list[Value]:
    """``Expand``: folds into the add/mul/sub/div that use it (they broadcast), else a node.

    As the torch.fx path lowers ``Tensor.expand``/``expand_as``: an expanded tensor that is
    reshaped or concatenated holds copies of its values, an ``expand`` node from its recorded
    shape to the result's.
    """
    assert lw.current is not None
    t = lw.tensor(args[0], _ANY)
    users = lw.consumers.get(lw.current.output[0], [])
    if users and all(u.op_type in _BROADCASTING for u in users):
        return [t]
    source = lw.recorded(t)
    shape = graph_shape(lw.out(), "other")
    if shape is None:
        lw.fail(f"it expands the batch axis of {t.shape} to {lw.out()}")
    return [lw.emit("expand", [source], lw.cg(source), shape, "other")]


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
    out = lw.out()
    if perm == (0, 3, 1, 2) and t.layout == "other":  # (H, W, C) back to a feature map
        return [_transpose_node(lw, t, out[1:], "nchw")]
    if t.layout == "other" and perm[0] == 0 and _moves_ones_only(t.shape, perm):
        # the element order is kept (Swin's single window): torch.fx folds it into the
        # next reshape, so the recorded shape stays as it is
        return [Tensor(t.node, "other", out)]
    if t.layout == "nchw" and perm[0] == 0 and _moves_ones_only(t.shape, perm):
        # a 4-D view that is no map (ResNeSt's radix softmax): a view, as torch.fx records it
        return [lw.reshape(t, out)]
    if perm[0] == 0 and t.layout != "raw":
        return [_transpose_node(lw, t, out[1:], "other")]
    if t.layout not in ("other", "raw"):
        lw.fail(f"Transpose{perm} moves the batch axis of a feature map")
    # the batch axis moves (a batch-first attention exported as (L, N, E)): the result is
    # recorded as ONNX holds it; moving only axes of size 1 keeps the element order
    if _moves_ones_only(t.shape, perm):
        return [lw.reshape(t, out)]
    return [_transpose_node(lw, t, graph_shape(out, "raw") or (1,), "raw")]


def _moves_ones_only(shape: tuple[int, ...], perm: Sequence[int]) -> bool:
    """Whether permuting ``shape`` by ``perm`` keeps the element order (moves only 1s).

    Examples:
        >>> _moves_ones_only((1, 7, 1, 7), (0, 2, 1, 3)), _moves_ones_only((2, 2), (1, 0))
        (True, False)
    """
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def _transpose_node(lw: Lowerer, t: Tensor, shape: Shape, layout: Layout) -> Tensor:
    """A ``transpose`` node; two transposes in a row (``k.transpose`` then SDPA's) are one."""
    assert lw.current is not None
    node = lw.nodes[t.node]
    only_use = lw.uses.get(lw.current.input[0], 0) == 1 and not any(
        src == t.node for src, _ in lw.edges
    )
    if node.op == "transpose" and only_use and sorted(node.input_shape) == sorted(shape):
        lw.nodes[t.node] = node._replace(output_shape=shape)
        return Tensor(t.node, layout, lw.out())
    return lw.emit("transpose", [t], lw.cg(t), shape, layout)


def _slice_node(
    lw: Lowerer, t: Tensor, out: tuple[int, ...], starts: dict[int, tuple[int, int]]
) -> Tensor:
    """``t`` cut to ONNX shape ``out``; ``starts`` maps a sliced axis to its (start, step)."""
    if out == t.shape:
        return t
    cg = lw.cg(t)
    node = lw.nodes[t.node]
    if node.op == "slice" and t.layout in ("other", "raw"):
        # x[:, a::2, b::2] exports as one Slice per axis; torch.fx records one slice
        t = Tensor(next(src for src, dst in lw.edges if dst == t.node), t.layout, t.shape)
        cg = node.input_shape
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
        if t.layout == "raw" and keep:
            kept = _kept_raw_shape(t, lw.cg(t), dims)
            if kept is not None:
                return [lw.emit(_REDUCE_OPS[kind], [t], lw.cg(t), kept, "raw")]
        if 0 in dims and prod(out) > 1:
            lw.fail("it reduces over the batch axis")
        layout = t.layout if keep and graph_shape(out, t.layout) else "other"
        if layout == "other" and len(out) < 2:
            layout = "flat"
        elif layout == "other" and len(out) == 4 and out[0] == 1:
            layout = "nchw"  # a stack of maps summed over (SKNet's paths) is a map again
        shape = graph_shape(out, layout) or (1,)
        return [lw.emit(_REDUCE_OPS[kind], [t], lw.cg(t), shape, layout)]

    return lower


_REDUCE_OPS = {"avg": "reduce_mean", "max": "reduce_max", "sum": "reduce_sum"}
"""The reduction of each kind (``avg`` names the pooling)."""


def _kept_raw_shape(t: Tensor, cg: Shape, dims: frozenset[int]) -> Shape | None:
    """The graph shape of ``raw`` tensor ``t`` reduced over ONNX ``dims``, kept as size 1.

    (Swin V2's ``F.normalize`` of heads whose batch axis merged into the windows: torch.fx
    records the reduced axis, which the ``raw`` layout's dropping of size-1 axes would lose.)
    """
    positions = {_raw_axis(t, cg, a) for a in dims}
    if None in positions:
        return None
    return tuple(1 if i in positions else d for i, d in enumerate(cg))


def gather(lw: Lowerer, args: list[Value]) -> list[Value]:
    """Gather from a graph tensor by constant indices (which are no operand).

    One index picks a slice, recorded as torch.fx does (a ``slice`` keeping the axis, then a
    ``reshape``); a block of a fused q, k, v projection is a slice of it; anything else is a
    ``gather`` node.
    """
    t = lw.tensor(args[0], _ANY)
    indices = lw.const(args[1], "indices")
    out = lw.out()
    axis = int(lw.attr("axis", 0)) % len(t.shape)
    unpacked = _unpacked_slice(lw, indices, out)
    if unpacked is not None:
        return [unpacked]
    index = indices.scalar() if indices.shape == () else None
    if index is not None and t.layout == "other" and axis > 0:  # x[:, i] of tokens
        at = int(index) % t.shape[axis]
        kept = (*t.shape[:axis], 1, *t.shape[axis + 1 :])
        return [lw.reshape(_slice_node(lw, t, kept, {axis: (at, 1)}), out)]
    cg = lw.cg(t)
    at_cg = _raw_axis(t, cg, axis)
    if index is not None and t.layout == "raw" and at_cg is not None:
        # qkv[i] with the batch merged away (Swin's windows)
        kept_cg = (*cg[:at_cg], 1, *cg[at_cg + 1 :])
        kept = (*t.shape[:axis], 1, *t.shape[axis + 1 :])
        picked = lw.emit("slice", [t], cg, kept_cg, "raw", kept, stride=(0, 0), padding=(0, 0))
        shape = graph_shape(out, "raw")
        assert shape is not None
        return [lw.emit("reshape", [picked], kept_cg, shape, "raw", out)]
    layout: Layout = "other" if out and out[0] == 1 and t.layout != "raw" else "raw"
    shape = graph_shape(out, layout)
    if shape is None:
        lw.fail(f"its result of shape {out} is not a batch of one")
    return [lw.emit("gather", [t], cg, shape, layout)]


_VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"})


def _raw_axis(t: Tensor, cg: Shape, axis: int) -> int | None:
    """The axis of graph shape ``cg`` that ONNX ``axis`` of a ``raw`` tensor is (None: none)."""
    if len(cg) == len(t.shape):
        return axis
    if t.shape[axis] != 1 and cg == tuple(d for d in t.shape if d != 1):
        return sum(d != 1 for d in t.shape[:axis])
    return None


def _unpacked_slice(lw: Lowerer, indices: Const, out: tuple[int, ...]) -> Tensor | None:
    """A ``slice`` when the current Gather picks one contiguous block of a tensor.

    The TorchScript export of ``nn.MultiheadAttention`` unpacks q, k, v from the fused
    projection by reshape, transpose and ``Gather``; torch.fx slices the projection. The
    reshapes and transposes in between are left unused (and dropped at the end).
    """
    assert lw.current is not None
    chain: list[onnx.NodeProto] = []
    name = lw.current.input[0]
    while name in lw.producers and lw.producers[name].op_type in _VIEWS:
        chain.append(lw.producers[name])
        name = lw.producers[name].input[0]
    root = lw.env.get(name)
    if not chain or not isinstance(root, Tensor):
        return None
    # follow where each element of the root goes, by running the chain on element numbers
    elements = np.arange(prod(root.shape)).reshape(root.shape)
    index = elements
    for node in reversed(chain):
        if node.op_type == "Transpose":
            perm = [int(p) for p in lw.attr_of(node, "perm")] or None
            index = np.transpose(index, perm)
        else:
            index = index.reshape(lw.shapes[node.output[0]])
    axis = int(lw.attr("axis", 0)) % index.ndim
    picked = np.take(index, indices.array(), axis=axis)
    for axis, size in enumerate(root.shape):
        first = int(np.unravel_index(int(picked.flat[0]), root.shape)[axis])
        count = picked.size * size // index.size
        block = np.take(elements, range(first, first + count), axis=axis)
        if block.size == picked.size and np.array_equal(block.reshape(-1), picked.reshape(-1)):
            kept = (*root.shape[:axis], count, *root.shape[axis + 1 :])
            return lw.reshape(_slice_node(lw, root, kept, {axis: (first, 1)}), out)
    return None


def shape_of(lw: Lowerer, args: list[Value]) -> list[Value]:
    # Shape of a graph tensor: a constant that remembers the tensor (for ConstantOfShape zeros)
    t = lw.tensor(args[0], _ANY)
    start, end = int(lw.attr("start", 0)), lw.attr("end", None)
    shape = np.asarray(t.shape[start:end], dtype=np.int64)
    return [Const(shape, shape_of=t)]
