"""Lowerings of token tensors and attention (transformers and hybrids).

Token sequences, attention heads and scores are recorded as torch holds them without the batch
axis (layout ``any``, see ``_values.recorded_shape``); the generic data movement (``view``,
``transpose``, ``recorded``) lives on the ``Lowerer``. Here: linear and layer norm over the last
axis, broadcasting arithmetic with parameters and Python scalars, concatenation and slicing on
any axis, ``matmul``, ``softmax``, and attention
(``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``) lowered to linear projections,
reshape/transpose to heads, matmul, scale, softmax, matmul, transpose/reshape back and the
output projection; ``einsum`` products, L2 ``normalize``, ``roll`` and channels-last padding
(Swin, MaxViT). Calls on feature maps in the v1 layouts go to the shared lowerings of ``_ops``
so that every CNN graph stays as it was.

Functions that fx keeps whole because they branch on shapes (torchvision's
``shifted_window_attention``) are lowered by running them on meta tensors at the concrete
shapes under a torch function mode, lowering each torch call they make (``_inline``).

Its tables are merged into the dispatch of ``_table`` and ``_modules`` and take precedence
there for the keys they define: functions, Tensor methods, leaf modules called on one tensor,
leaf modules called with several arguments (``nn.MultiheadAttention``), and functions of
optional packages by (module, name).
"""

from __future__ import annotations

import copy
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten, tree_map

from cg_ir._einsum import einsum_product
from cg_ir.errors import UnsupportedOperatorError
from cg_ir.fx import _ops
from cg_ir.fx._lower import ALL_LAYOUTS
from cg_ir.fx._ops import Handler, arg
from cg_ir.fx._values import (
    GraphTensor,
    Layout,
    Opaque,
    TensorMeta,
    TensorSource,
    Zeros,
    layout_for,
    recorded_shape,
)

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = [
    "ATTENTION_CALLS",
    "ATTENTION_NAMED_FUNCTIONS",
    "ATTENTION_FUNCTIONS",
    "ATTENTION_METHODS",
    "ATTENTION_MODULES",
    "CallHandler",
    "inline_module",
]

ModuleHandler = Callable[["Lowerer", Any, Any], Any]
CallHandler = Callable[["Lowerer", Any, tuple[Any, ...], dict[str, Any]], Any]
"""A leaf module called with several arguments: (lowerer, module, args, kwargs)."""

_CNN_LAYOUTS: tuple[Layout, ...] = ("nchw", "nhwc", "flat")
_Scalar = int | float


# -- operands --------------------------------------------------------------------------------
def _owned(lw: Lowerer, value: Opaque, rank: int) -> GraphTensor:
    """An owned tensor as an operand of a result of graph rank ``rank``.

    Its leading size-1 axes beyond ``rank`` are the batch axis of a batch-1 tensor (a
    position embedding of torch shape (1, L, C) against tokens recorded as (L, C)): the
    operand is the owned tensor viewed without them. The result is a pending view of the
    ``parameter``/``constant`` node, whose graph shape is the torch shape as is.
    """
    shape = value.shape
    while len(shape) > rank and shape[0] == 1:
        shape = shape[1:]
    index = lw.owned_node(Opaque(value.target, shape, value.sources))
    return GraphTensor(index, "other", shape)


def _module_parameter(lw: Lowerer, module: nn.Module, name: str) -> Opaque:
    """A leaf module's own parameter as an owned tensor (to use it as a graph operand)."""
    tensor = cast(torch.Tensor, getattr(module, name))
    path = f"{lw.current.target if lw.current is not None else ''}.{name}"
    shape = tuple(tensor.shape)
    return Opaque(path, shape, (TensorSource(path, shape, tensor.requires_grad),))


def _recorded(lw: Lowerer, value: Any, rank: int) -> GraphTensor:
    """A graph tensor as torch holds it, or an owned tensor as an operand."""
    if isinstance(value, Opaque):
        return _owned(lw, value, rank)
    return lw.recorded(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _broadcasts(shape: Sequence[int], target: Sequence[int]) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (right-aligned, never adding a rank)."""
    if len(shape) > len(target):
        return False
    return all(s in (1, t) for s, t in zip(reversed(shape), reversed(target), strict=False))


# -- broadcasting arithmetic -----------------------------------------------------------------
def _cnn_operands(a: Any, b: Any) -> bool:
    """Two feature maps in the same v1 layout, or a zeros operand: v1's binary lowering."""
    if isinstance(a, Zeros) or isinstance(b, Zeros):
        return True
    return (
        isinstance(a, GraphTensor)
        and isinstance(b, GraphTensor)
        and a.layout == b.layout
        and a.layout in _CNN_LAYOUTS
        and len(a.shape) == len(b.shape)
    )


def _with_scalar(lw: Lowerer, op: str, t: Any, scalar: _Scalar, tensor_first: bool) -> Any:
    """``t op scalar`` (or ``scalar op t``): scale, shift or zero; ``scalar - t`` is neg, shift."""
    if op == "mul":
        return lw.unary("zero", t) if scalar == 0 else lw.unary("scale", t)
    if op == "add":
        return lw.unary("shift", t)
    if op == "div" and tensor_first:
        return lw.unary("scale", t)
    if op == "sub":
        return lw.unary("shift", t if tensor_first else lw.unary("neg", t))
    lw.fail(f"dividing the Python scalar {scalar!r} by a tensor is not lowered")


def _shape_in_layout(shape: tuple[int, ...], layout: Layout) -> tuple[int, ...] | None:
    """An owned operand's shape in the (C, H, W) coordinates of a v1 layout, or None.

    Torch broadcasts it against the torch shape: for NCHW its trailing axes are (C, H, W)'s;
    for NHWC and flattened vectors its last axis is the channels, so an operand (..., C)
    becomes (C, 1, 1) (a ``reshape`` of the owned tensor).
    """
    while len(shape) > 3 and shape[0] == 1:
        shape = shape[1:]
    if layout == "nchw":
        return shape
    padded = (1,) * (3 - len(shape)) + shape
    if len(padded) != 3 or padded[:2] != (1, 1):
        return None  # varies over H or W: needs the feature map as torch holds it
    return (padded[2], 1, 1)


def _in_layout(
    lw: Lowerer, values: Sequence[GraphTensor | Opaque], layout: Layout
) -> tuple[list[GraphTensor], tuple[int, ...]] | None:
    """The operands of a broadcasting op kept in a v1 layout, or None if they do not fit."""
    out = lw.out()
    graph = [v for v in values if isinstance(v, GraphTensor)]
    if layout not in _CNN_LAYOUTS or any(len(t.shape) != len(out) for t in graph):
        return None
    target = lw.out_shape(layout)
    shapes = [
        _shape_in_layout(v.shape, layout) if isinstance(v, Opaque) else lw.cg(v) for v in values
    ]
    if not all(s is not None and _broadcasts(s, target) for s in shapes):
        return None
    inputs = [
        _owned(lw, Opaque(v.target, cast(tuple[int, ...], s), v.sources), 3)
        if isinstance(v, Opaque)
        else v
        for v, s in zip(values, shapes, strict=True)
    ]
    return inputs, target


def _aligned(lw: Lowerer, value: GraphTensor, out: tuple[int, ...]) -> GraphTensor:
    """A graph operand of a broadcasting op with result ``out``, as torch aligns it.

    Usually the operand as torch holds it. When the result's recorded shape drops another
    size-1 axis than the operand's (a keepdim reduction of windows (nW, N, C) -> (nW, N, 1),
    which holds no batch axis), the operand is reshaped to the result's coordinates.
    """
    source = lw.recorded(value)
    target = recorded_shape(out)
    if _broadcasts(lw.cg(source), target):
        return source
    batch = out.index(1) if 1 in out else None
    padded = (1,) * (len(out) - len(value.shape)) + value.shape
    coords = tuple(d for axis, d in enumerate(padded) if axis != batch)
    if math.prod(coords) != math.prod(lw.cg(source)):
        return source  # reported by the caller
    node = lw.append("reshape", [source], lw.cg(source), coords, value.shape)
    return GraphTensor(node.node, "other", value.shape)


def _broadcast(lw: Lowerer, op: str, values: Sequence[GraphTensor | Opaque]) -> GraphTensor:
    """A broadcasting n-ary op (add, mul, sub, div) on graph tensors and owned tensors.

    Operands stay in their common v1 layout when they fit it; otherwise every operand is
    taken as torch holds it.
    """
    out = lw.out()
    layouts = {v.layout for v in values if isinstance(v, GraphTensor)}
    common = _in_layout(lw, values, layouts.pop()) if len(layouts) == 1 else None
    if common is not None:
        inputs, target = common
        layout = next(v.layout for v in values if isinstance(v, GraphTensor))
    else:
        target, layout = recorded_shape(out), layout_for(out)
        inputs = [
            _aligned(lw, v, out) if isinstance(v, GraphTensor) else _owned(lw, v, len(target))
            for v in values
        ]
    for t in inputs:
        if not _broadcasts(lw.cg(t), target):
            lw.fail(
                f"an operand recorded as {lw.cg(t)} does not broadcast to the result "
                f"{target} (torch shapes {[v.shape for v in values]})"
            )
    return lw.emit(op, inputs, target, target, layout)


def _binary(op: str) -> Handler:
    """add/mul/sub/div between tensors (graph or owned) and Python scalars."""
    cnn = _ops.binary(op)

    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        a, b = args[0], arg(args, kwargs, 1, "other", None)
        if arg(args, kwargs, 2, "alpha", 1) != 1:
            lw.fail("alpha != 1 scales an operand by a Python scalar; write it out")
        if _cnn_operands(a, b):
            return cnn(lw, (a, b), {})
        if _is_scalar(b):
            return _with_scalar(lw, op, a, b, tensor_first=True)
        if _is_scalar(a):
            return _with_scalar(lw, op, b, a, tensor_first=False)
        return _broadcast(lw, op, [_operand(lw, a), _operand(lw, b)])

    return lower


def _operand(lw: Lowerer, value: Any) -> GraphTensor | Opaque:
    """A tensor operand (graph or owned); anything else fails with the reason."""
    if isinstance(value, Opaque):
        return value
    return lw.tensor(value, ALL_LAYOUTS)


# -- data movement ---------------------------------------------------------------------------
def _swap(rank: int, d0: Any, d1: Any) -> tuple[int, ...]:
    order = list(range(rank))
    a, b = int(d0) % rank, int(d1) % rank
    order[a], order[b] = order[b], order[a]
    return tuple(order)


def _transpose(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    t = lw.tensor(args[0], ALL_LAYOUTS)
    d0, d1 = arg(args, kwargs, 1, "dim0", 0), arg(args, kwargs, 2, "dim1", 1)
    return lw.transpose(t, _swap(len(t.shape), d0, d1))


def _permute(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    dims = args[1:] if len(args) > 2 else arg(args, kwargs, 1, "dims", ())
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return lw.transpose(args[0], [int(d) for d in dims])


_Bounds = tuple[int, int, int]  # start, stop, step along one torch axis


def _slice(lw: Lowerer, value: Any, bounds: Sequence[_Bounds]) -> GraphTensor:
    """``value`` sliced along its torch axes; one ``slice`` node unless nothing is cut.

    Feature maps are sliced in their (C, H, W) (spatial slices record the step and start of H
    and W in ``stride``/``padding``) and keep their layout; other tensors are sliced as torch
    holds them and come back as a pending view of the slice node.
    """
    t = lw.tensor(value, ALL_LAYOUTS)
    sizes = tuple(len(range(*b)) for b in bounds)
    if sizes == t.shape:
        return t
    if t.layout in ("nchw", "nhwc") and sizes[0] == 1:
        axes = (1, 2, 3) if t.layout == "nchw" else (3, 1, 2)  # the torch axes of C, H, W
        cg = lw.cg(t)
        out = tuple(sizes[a] for a in axes)
        steps = [
            (bounds[a][2], bounds[a][0]) if sizes[a] != cg[i] else (0, 0)
            for i, a in enumerate(axes)
        ]
        node = lw.append(
            "slice",
            [t],
            cg,
            out,
            sizes,
            stride=(steps[1][0], steps[2][0]),
            padding=(steps[1][1], steps[2][1]),
        )
        return GraphTensor(node.node, t.layout, sizes)
    source = lw.recorded(t)
    batch = t.shape.index(1) if 1 in t.shape else None
    cut = list(lw.cg(source))
    for axis, size in enumerate(sizes):
        if axis != batch and size != t.shape[axis]:
            cut[_recorded_axis(t.shape, axis)] = size
    node = lw.append("slice", [source], lw.cg(source), tuple(cut), sizes)
    pending = tuple(cut) != recorded_shape(sizes)
    return GraphTensor(node.node, "other" if pending else node.layout, sizes)


def _bounds_of(shape: tuple[int, ...], index: Any) -> list[_Bounds] | None:
    """Per-axis bounds of a basic index (ints keep their axis); None for advanced indexing."""
    items = list(index) if isinstance(index, tuple) else [index]
    given = sum(1 for i in items if i is not None and i is not Ellipsis)
    bounds: list[_Bounds] = []
    for item in items:
        axis = len(bounds)
        if item is Ellipsis:
            bounds.extend((0, n, 1) for n in shape[axis : axis + len(shape) - given])
        elif item is None:
            continue
        elif isinstance(item, slice):
            bounds.append(item.indices(shape[axis]))
        elif isinstance(item, int) and not isinstance(item, bool):
            start = item % shape[axis]
            bounds.append((start, start + 1, 1))
        else:
            return None
    bounds.extend((0, n, 1) for n in shape[len(bounds) :])
    return bounds


def _getitem(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value, index = args
    if isinstance(value, (tuple, list)):
        return value[index]
    t = lw.tensor(value, ALL_LAYOUTS)
    if isinstance(index, Opaque):  # a lookup by an owned index (Swin V2's bias table)
        table = lw.recorded(t)
        lookup = GraphTensor(lw.owned_node(index), "any", index.shape)
        out = lw.out()
        return lw.append("gather", [table, lookup], lw.cg(table), recorded_shape(out), out)
    found = _bounds_of(t.shape, index)
    if found is None:
        lw.fail(
            f"indexing with {index!r}: only basic indexing (ints, slices, None, ...) of a "
            "computed tensor is lowered"
        )
    return lw.view(_slice(lw, t, found), lw.out())


def _pieces(lw: Lowerer, value: Any, dim: Any, keep: bool) -> tuple[GraphTensor, ...]:
    """The results of split/chunk/unbind along ``dim``: one slice each."""
    t = lw.tensor(value, ALL_LAYOUTS)
    results = lw.results[cast(Any, lw.current)]
    axis = int(dim) % len(t.shape)
    pieces = []
    start = 0
    for meta in results:
        size = meta.shape[axis] if keep else 1
        bounds = [(0, n, 1) for n in t.shape]
        bounds[axis] = (start, start + size, 1)
        start += size
        piece = _slice(lw, t, bounds)
        pieces.append(piece if keep else lw.view(piece, meta.shape))
    return tuple(pieces)


def _split(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _pieces(lw, args[0], arg(args, kwargs, 2, "dim", 0), keep=True)


def _unbind(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _pieces(lw, args[0], arg(args, kwargs, 1, "dim", 0), keep=False)


def _concatenates(shapes: Sequence[tuple[int, ...]], target: tuple[int, ...]) -> bool:
    """Whether ``shapes`` concatenated along one axis give ``target``."""
    if any(len(s) != len(target) for s in shapes):
        return False
    axes = [a for a in range(len(target)) if any(s[a] != target[a] for s in shapes)]
    axis = axes[0] if axes else 0
    return len(axes) <= 1 and sum(s[axis] for s in shapes) == target[axis]


def _cat(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Concatenation on any axis (v1's channel concat of feature maps is unchanged)."""
    values = list(arg(args, kwargs, 0, "tensors", []))
    if len(values) == 1:
        return values[0]
    if all(isinstance(v, GraphTensor) and v.layout in _CNN_LAYOUTS for v in values):
        first = values[0]
        axis = int(arg(args, kwargs, 1, "dim", 0)) % len(first.shape)
        channel = 3 if first.layout == "nhwc" else 1
        if len({v.layout for v in values}) == 1 and axis == channel:
            return _ops.cat(lw, args, kwargs)
    out = lw.out()
    target = recorded_shape(out)
    inputs = [_recorded(lw, _operand(lw, v), len(target)) for v in values]
    shapes = [lw.cg(t) for t in inputs]
    if not _concatenates(shapes, target):
        lw.fail(f"concatenating tensors recorded as {shapes} does not give {target}")
    return lw.emit("concat", inputs, target, target, layout_for(out))


# -- linear and layer norm -------------------------------------------------------------------
def _linear(lw: Lowerer, x: Any, in_features: int, out_features: int, bias: bool) -> Any:
    """A linear layer on the last axis (per position of a channels-last map, or flattened)."""
    t = lw.tensor(x, ALL_LAYOUTS)
    if t.layout == "other":
        t = lw.recorded(t)
    attrs = {"in_channels": in_features, "out_channels": out_features, "bias": bias}
    if t.layout in ("nhwc", "flat"):
        c, h, w = lw.cg(t)
        if t.layout == "nhwc" and in_features == c:
            return lw.emit("linear", [t], (c, h, w), (out_features, h, w), "nhwc", **attrs)
        if t.layout == "flat" and in_features == c * h * w:
            return lw.emit("linear", [t], (c, h, w), (out_features, 1, 1), "flat", **attrs)
    source = lw.recorded(t)
    shape, out = lw.cg(source), lw.out()
    if source.layout == "flat" or shape[-1] != in_features:
        lw.fail(
            f"Linear({in_features}, {out_features}) on a tensor of shape {t.shape} (recorded "
            f"as {shape}) acts neither on its last axis nor on a flattened vector"
        )
    return lw.emit("linear", [source], shape, recorded_shape(out), layout_for(out), **attrs)


def _module_linear(lw: Lowerer, m: nn.Linear, x: Any) -> Any:
    return _linear(lw, x, m.in_features, m.out_features, m.bias is not None)


def _functional_linear(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    weight = arg(args, kwargs, 1, "weight", None)
    bias = arg(args, kwargs, 2, "bias", None)
    if not isinstance(weight, Opaque) or len(weight.shape) != 2:
        lw.fail("F.linear needs a weight matrix the network owns (a parameter)")
    out_features, in_features = weight.shape
    return _linear(lw, args[0], in_features, out_features, bias is not None)


def _layer_norm(
    lw: Lowerer, x: Any, normalized: Any, weight: Opaque | None, has_bias: bool
) -> GraphTensor:
    """LayerNorm over the trailing ``normalized`` axes; a scale without shift is a mul."""
    dims = tuple(normalized) if isinstance(normalized, (tuple, list)) else (int(normalized),)
    affine = weight is not None and has_bias
    t = lw.tensor(x, ALL_LAYOUTS)
    channels_last = t.layout in ("nhwc", "flat") and dims == (lw.cg(t)[0],)
    if channels_last and (t.layout == "nhwc" or lw.cg(t)[1:] == (1, 1)):
        result = lw.unary("layer_norm", t, affine=affine)
    else:
        source = lw.recorded(t)
        shape = lw.cg(source)
        if tuple(shape[-len(dims) :]) != dims:
            lw.fail(
                f"LayerNorm over {dims} on a tensor of shape {t.shape} (recorded as "
                f"{shape}): only the trailing axes are normalized"
            )
        result = lw.emit(
            "layer_norm",
            [source],
            shape,
            shape,
            source.layout,
            affine=affine,
            in_channels=math.prod(dims),
        )
    if weight is not None and not has_bias:
        return _broadcast(lw, "mul", [result, weight])
    return result


def _module_layer_norm(lw: Lowerer, m: nn.LayerNorm, x: Any) -> GraphTensor:
    weight = _module_parameter(lw, m, "weight") if m.elementwise_affine else None
    return _layer_norm(lw, x, m.normalized_shape, weight, m.bias is not None)


def _functional_layer_norm(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    weight = arg(args, kwargs, 2, "weight", None)
    bias = arg(args, kwargs, 3, "bias", None)
    if weight is not None and not isinstance(weight, Opaque):
        lw.fail("the weight of F.layer_norm is computed from the input")
    normalized = arg(args, kwargs, 1, "normalized_shape", ())
    return _layer_norm(lw, args[0], normalized, weight, bias is not None)


# -- matmul and attention --------------------------------------------------------------------
def _matmul_node(lw: Lowerer, a: Any, b: Any, shape: tuple[int, ...]) -> GraphTensor:
    """``a @ b`` with torch result ``shape``: one matmul node (in_channels = K)."""
    target = recorded_shape(shape)
    x, y = (_recorded(lw, _operand(lw, v), len(target)) for v in (a, b))
    xs, ys = lw.cg(x), lw.cg(y)
    k = xs[-1]
    if len(ys) < 2 or ys[-2] != k or target[-1] != ys[-1] or target[-2:-1] != xs[-2:-1]:
        lw.fail(
            f"matmul of tensors recorded as {xs} and {ys} to {target}: the recorded shapes "
            "do not multiply as (..., M, K) @ (..., K, N)"
        )
    return lw.append("matmul", [x, y], xs, target, shape, in_channels=k)


def _matmul(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    b = args[1] if len(args) > 1 else next(iter(kwargs.values()))
    return _matmul_node(lw, args[0], b, lw.out())


def _einsum(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A product of two operands written as einsum: one matmul between transposes and views.

    Indices of both operands and the output are batch axes; of both operands alone the
    contracted axes (K); of one operand and the output its free axes (M of the first, N of the
    second). The operands become (batch, M, K) and (batch, K, N), one ``matmul`` multiplies
    them (FLOPs ``2 * batch * M * N * K``, as ``torch.utils.flop_counter`` counts the bmm einsum
    runs) and the result is viewed and transposed to the output's order.
    """
    operands = args[1:] if len(args) != 2 else args[1]
    try:
        p = einsum_product(str(args[0]))
    except ValueError as error:
        lw.fail(str(error))
    if len(operands) != 2:
        lw.fail(f"einsum of {len(operands)} operands: only a product of two is lowered")
    a, b, output = p.a, p.b, p.output
    batch, contracted, free_a, free_b = p.batch, p.contracted, p.free_a, p.free_b
    x, y = (
        lw.tensor(v, ALL_LAYOUTS) if not isinstance(v, Opaque) else _owned(lw, v, len(t))
        for v, t in zip(operands, (a, b), strict=True)
    )
    size = {i: int(d) for t, term in ((x, a), (y, b)) for i, d in zip(term, t.shape, strict=True)}
    batch_sizes = tuple(size[i] for i in batch)

    def arranged(t: GraphTensor, term: str, rows: list[str], cols: list[str]) -> GraphTensor:
        moved = lw.transpose(t, [term.index(i) for i in batch + rows + cols])
        shape = (*batch_sizes, math.prod(size[i] for i in rows), math.prod(size[i] for i in cols))
        return lw.view(moved, shape)

    left = arranged(x, a, free_a, contracted)
    right = arranged(y, b, contracted, free_b)
    rows, cols = math.prod(size[i] for i in free_a), math.prod(size[i] for i in free_b)
    product = _matmul_node(lw, left, right, (*batch_sizes, rows, cols))
    order = batch + free_a + free_b
    unfolded = lw.view(product, tuple(size[i] for i in order))
    return lw.transpose(unfolded, [order.index(i) for i in output])


def _softmax(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return lw.unary("softmax", args[0])


def _attend(
    lw: Lowerer, q: Any, k: Any, v: Any, scale: float, mask: Any, out: tuple[int, ...]
) -> GraphTensor:
    """softmax(q @ k^T * scale + mask) @ v as primitives; ``out`` is the result's torch shape."""
    qt, kt = lw.tensor(q, ALL_LAYOUTS), lw.tensor(k, ALL_LAYOUTS)
    keys = lw.transpose(kt, _swap(len(kt.shape), -2, -1))
    scores_shape = (*out[:-1], kt.shape[-2])
    scores = _matmul_node(lw, qt, keys, scores_shape)
    shape = lw.cg(scores)
    if scale != 1.0:
        scores = lw.append("scale", [scores], shape, shape, scores_shape)
    if mask is not None:
        bias = _recorded(lw, mask, len(shape))  # owned, or computed (MaxViT's bias MLP)
        if not _broadcasts(lw.cg(bias), shape):
            lw.fail(f"an attention mask of shape {mask.shape} does not broadcast to {shape}")
        scores = lw.append("add", [scores, bias], shape, shape, scores_shape)
    weights = lw.append("softmax", [scores], shape, shape, scores_shape)
    return _matmul_node(lw, weights, v, out)


def _sdpa(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    q, k, v = (arg(args, kwargs, i, n, None) for i, n in enumerate(("query", "key", "value")))
    mask = arg(args, kwargs, 3, "attn_mask", None)
    if arg(args, kwargs, 5, "is_causal", False):
        lw.fail("is_causal=True masks with a causal mask; pass it as attn_mask")
    if arg(args, kwargs, 7, "enable_gqa", False):
        lw.fail("enable_gqa=True (grouped-query attention) is not lowered")
    head = lw.tensor(q, ALL_LAYOUTS).shape[-1]
    scale = arg(args, kwargs, 6, "scale", None)
    return _attend(lw, q, k, v, 1 / math.sqrt(head) if scale is None else scale, mask, lw.out())


def _project(
    lw: Lowerer, x: GraphTensor, in_features: int, out_features: int, bias: bool
) -> GraphTensor:
    """A linear projection of tokens (1, L, C) -> (1, L, out) as an intermediate result."""
    source = lw.recorded(x)
    shape = (1, *recorded_shape(x.shape)[:-1], out_features)
    if recorded_shape(x.shape)[-1] != in_features:
        lw.fail(f"the projection of {in_features} features gets a tensor of shape {x.shape}")
    return lw.append(
        "linear",
        [source],
        lw.cg(source),
        shape[1:],
        shape,
        in_channels=in_features,
        out_channels=out_features,
        bias=bias,
    )


def _heads(lw: Lowerer, x: GraphTensor, heads: int, keys: bool) -> GraphTensor:
    """Tokens (1, L, E) to heads (1, h, L, d), or (1, h, d, L) for the keys."""
    _, length, embed = x.shape
    split = lw.view(x, (1, length, heads, embed // heads))
    return lw.transpose(split, (0, 2, 3, 1) if keys else (0, 2, 1, 3))


def _multihead_attention(
    lw: Lowerer, m: nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """nn.MultiheadAttention as projections, heads, matmul/softmax/matmul, out projection."""
    query, key, value = (
        arg(args, kwargs, i, n, None) for i, n in enumerate(("query", "key", "value"))
    )
    if m.bias_k is not None or m.add_zero_attn:
        lw.fail("add_bias_kv / add_zero_attn append learned or zero keys; not lowered")
    for i, name in ((3, "key_padding_mask"), (5, "attn_mask")):
        if arg(args, kwargs, i, name, None) is not None:
            lw.fail(f"{name} is not lowered for nn.MultiheadAttention")
    if arg(args, kwargs, 7, "is_causal", False):
        lw.fail("is_causal=True is not lowered for nn.MultiheadAttention")
    tokens = [lw.recorded(lw.tensor(t, ALL_LAYOUTS)) for t in (query, key, value)]
    for t in tokens:
        if len(lw.cg(t)) != 2:
            lw.fail(f"it takes one sequence of tokens, got a tensor of shape {t.shape}")
    q_in, k_in, v_in = (GraphTensor(t.node, "any", (1, *lw.cg(t))) for t in tokens)
    embed, heads, bias = m.embed_dim, m.num_heads, m.in_proj_bias is not None
    if tokens[0] == tokens[1] == tokens[2] and m._qkv_same_embed_dim:
        qkv = _project(lw, q_in, embed, 3 * embed, bias)
        length = qkv.shape[1]
        q, k, v = (
            _slice(lw, qkv, [(0, 1, 1), (0, length, 1), (i * embed, (i + 1) * embed, 1)])
            for i in range(3)
        )
    else:
        q = _project(lw, q_in, embed, embed, bias)
        k = _project(lw, k_in, m.kdim, embed, bias)
        v = _project(lw, v_in, m.vdim, embed, bias)
    q_heads, v_heads = _heads(lw, q, heads, False), _heads(lw, v, heads, False)
    k_heads = _heads(lw, k, heads, True)
    length, d = q_heads.shape[2], embed // heads
    scores_shape = (1, heads, length, k_heads.shape[3])
    scores = _matmul_node(lw, q_heads, k_heads, scores_shape)
    shape = lw.cg(scores)
    scores = lw.append("scale", [scores], shape, shape, scores_shape)
    weights = lw.append("softmax", [scores], shape, shape, scores_shape)
    attended = _matmul_node(lw, weights, v_heads, (1, heads, length, d))
    merged = lw.view(lw.transpose(attended, (0, 2, 1, 3)), (1, length, embed))
    out = m.out_proj
    projected = _project(lw, merged, embed, embed, out.bias is not None)
    result = lw.results[cast(Any, lw.current)][0].shape
    return lw.view(projected, result), None


# -- normalization ---------------------------------------------------------------------------
def _normalize(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """F.normalize (L2, Swin v2's cosine attention): x / sqrt(sum(x * x)) over one axis."""
    if float(arg(args, kwargs, 1, "p", 2.0)) != 2.0:
        lw.fail("only the L2 norm (p=2) is lowered")
    t = lw.recorded(args[0])
    axis = int(arg(args, kwargs, 2, "dim", 1)) % len(t.shape)
    shape = lw.cg(t)
    squares = lw.append("mul", [t, t], shape, shape, t.shape)
    kept = tuple(1 if a == axis else n for a, n in enumerate(t.shape))
    reduced = list(shape)
    reduced[_recorded_axis(t.shape, axis)] = 1
    sums = lw.append("reduce_sum", [squares], shape, tuple(reduced), kept)
    norms = lw.append("sqrt", [sums], tuple(reduced), tuple(reduced), kept)
    norms = GraphTensor(norms.node, "other", kept)  # its recorded shape keeps the reduced axis
    return lw.emit("div", [t, norms], shape, shape, t.layout)


def _recorded_axis(shape: tuple[int, ...], axis: int) -> int:
    """The axis of ``recorded_shape(shape)`` that holds torch axis ``axis``."""
    batch = shape.index(1) if 1 in shape else None
    if len(shape) == 2 and batch == 0:
        return 0  # a vector (1, N) recorded as (N, 1, 1)
    return axis - 1 if batch is not None and axis > batch else axis


# -- padding -------------------------------------------------------------------------------
def _pad(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """F.pad: nothing to pad folds away; a channels-last map (Swin) pads its H and W."""
    pads = [int(p) for p in arg(args, kwargs, 1, "pad", ())]
    mode = arg(args, kwargs, 2, "mode", "constant")
    t = lw.tensor(args[0], ALL_LAYOUTS)
    if not any(pads):
        return t
    if t.layout == "nchw":
        return _ops.pad(lw, t, pads, mode)
    channels_last = len(t.shape) == 4 and t.shape[0] == 1 and 2 < len(pads) <= 6
    if not channels_last or pads[:2] != [0, 0] or min(pads) < 0 or mode != "constant":
        lw.fail(f"pad={tuple(pads)} ({mode}) on a tensor of shape {t.shape} is not lowered")
    if t.layout != "nhwc":  # (1, H, W, C) as torch holds it: as a channels-last map
        source = lw.recorded(t)
        h, w, c = lw.cg(source)
        t = GraphTensor(
            lw.append("transpose", [source], (h, w, c), (c, h, w), t.shape).node, "nhwc", t.shape
        )
    left, right, top, bottom = (*pads[2:], 0, 0)[:4]
    c, h, w = lw.cg(t)
    grown = (c, h + top + bottom, w + left + right)
    return lw.emit("pad_constant", [t], (c, h, w), grown, "nhwc", padding=(top, left))


# -- roll ------------------------------------------------------------------------------------
def _roll(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """torch.roll (Swin's cyclic shift): a ``roll`` node; feature maps keep their layout."""
    t = lw.tensor(args[0], ALL_LAYOUTS)
    if t.layout in ("nchw", "nhwc"):
        return lw.unary("roll", t)
    source = lw.recorded(t)
    shape = lw.cg(source)
    return lw.emit("roll", [source], shape, shape, source.layout)


# -- functions kept whole by fx (torch.fx.wrap), lowered at the concrete shapes -------------------
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "__add__": (operator.add, False),
    "__radd__": (operator.add, True),
    "__iadd__": (operator.iadd, False),
    "__mul__": (operator.mul, False),
    "__rmul__": (operator.mul, True),
    "__imul__": (operator.imul, False),
    "__sub__": (operator.sub, False),
    "__rsub__": (operator.sub, True),
    "__isub__": (operator.isub, False),
    "__truediv__": (operator.truediv, False),
    "__rtruediv__": (operator.truediv, True),
    "__matmul__": (operator.matmul, False),
    "__rmatmul__": (operator.matmul, True),
    "__getitem__": (operator.getitem, False),
}
"""Tensor operators as a torch function mode sees them: the fx target and whether the
tensor is the right operand."""


def _summarize(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return TensorMeta(tuple(value.shape), value.dtype)
    if isinstance(value, (tuple, list)):
        return tuple(_summarize(v) for v in value)
    return value


_ZERO_FACTORIES = frozenset({"zeros", "zeros_like", "new_zeros"})
_SAME_VALUES = frozenset({"to", "contiguous", "clone", "detach", "float", "type"})


class _Inliner(TorchFunctionMode):
    """Runs a Python function on meta tensors and lowers each torch call it makes.

    Tensors computed from the input map to graph tensors, those computed only from owned
    tensors (and tensors made inside, such as Swin's attention mask) to ``Opaque`` values
    that enter the graph as ``parameter``/``constant`` nodes where an op uses them.
    """

    def __init__(self, lw: Lowerer) -> None:
        super().__init__()
        self.lw = lw
        self.outer = cast(fx.Node, lw.current)
        self.values: dict[int, Any] = {}
        self.alive: list[torch.Tensor] = []  # keeps ids unique while the function runs
        self.scratch = fx.Graph()

    def bind(self, tensor: torch.Tensor, value: Any) -> None:
        self.values[id(tensor)] = value
        self.alive.append(tensor)

    def value(self, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            found = self.values.get(id(x))
            return found if found is not None else Opaque("constant", tuple(x.shape), (), x.dtype)
        return x

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = getattr(func, "__name__", "")
        values = tree_map(self.value, (args, kwargs))
        leaves = tree_flatten(values)[0]
        outputs = [r for r in tree_flatten(result)[0] if isinstance(r, torch.Tensor)]
        sources = {s.name: s for v in leaves if isinstance(v, Opaque) for s in v.sources}
        if args and isinstance(args[0], torch.Tensor) and not isinstance(leaves[0], GraphTensor):
            if name == "__setitem__" or (name.endswith("_") and not name.startswith("_")):
                # an owned tensor changed in place: no longer what it was (zeros, a view)
                changed = Opaque(name, tuple(args[0].shape), tuple(sources.values()), args[0].dtype)
                self.bind(args[0], changed)
        if not outputs:
            return result
        if any(isinstance(v, GraphTensor) for v in leaves):
            lowered = self.lower(func, name, values[0], values[1], result)
        elif name in _ZERO_FACTORIES or (
            name in _SAME_VALUES and any(isinstance(v, Zeros) for v in leaves)
        ):  # a sum started from zeros folds away, as when traced
            lowered = tree_map(
                lambda r: Zeros(tuple(r.shape)) if isinstance(r, torch.Tensor) else r, result
            )
        else:
            owned = tuple(sources.values())
            lowered = tree_map(
                lambda r: (
                    Opaque(name, tuple(r.shape), owned, r.dtype)
                    if isinstance(r, torch.Tensor)
                    else r
                ),
                result,
            )
        for tensor, value in zip(outputs, tree_flatten(lowered)[0], strict=False):
            self.bind(tensor, value)
        return result

    def lower(
        self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> Any:
        from cg_ir.fx._table import call

        qualname = getattr(func, "__qualname__", "")
        if name in _OPERATORS:
            target, swapped = _OPERATORS[name]
            op = "call_function"
            args = (args[1], args[0], *args[2:]) if swapped else args
        elif qualname.startswith(("TensorBase.", "Tensor.")):
            op, target = "call_method", name
        else:
            op, target = "call_function", func
        node = self.scratch.create_node(op, target, (), {})
        node.meta = dict(self.outer.meta)
        self.lw.results[node] = _summarize(result)
        self.lw.current = node
        try:
            return call(self.lw, node, args, kwargs)
        finally:
            self.lw.current = self.outer


def _inline(
    lw: Lowerer,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    inliner: _Inliner | None = None,
) -> Any:
    """Lower a call of the Python function ``fn`` by running it at the concrete shapes.

    For functions that fx keeps whole (``torch.fx.wrap``, ``autowrap_functions``) because
    they branch on shapes, such as torchvision's ``shifted_window_attention``: every torch
    call they make is lowered like a traced one. ``inliner`` may come with tensors bound.
    """
    inliner = inliner or _Inliner(lw)

    def meta(value: Any) -> Any:
        if isinstance(value, (GraphTensor, Opaque, Zeros)):
            dtype = value.dtype if isinstance(value, Opaque) else torch.float32
            tensor = torch.empty(value.shape, device="meta", dtype=dtype)
            inliner.bind(tensor, value)
            return tensor
        return value

    meta_args, meta_kwargs = tree_map(meta, (args, kwargs))
    try:
        with inliner, torch.no_grad():
            result = fn(*meta_args, **meta_kwargs)
    except UnsupportedOperatorError:
        raise
    except (RuntimeError, NotImplementedError, TypeError, ValueError, IndexError) as error:
        lw.fail(f"running it on meta tensors to lower the calls it makes failed: {error}")
    return tree_map(inliner.value, result)


def _inlined(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _inline(lw, cast(Any, cast(fx.Node, lw.current).target), args, kwargs)


def inline_module(
    lw: Lowerer, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Lower a leaf module that has no lowering of its own by running it at the concrete shapes.

    For blocks that torch.fx cannot trace because they branch on shapes (timm's MobileViT
    block pads to whole patches only when needed): a meta copy of the module runs under the
    torch function mode of ``_inline``; its parameters and buffers are owned tensors named by
    their paths, so the layers inside lower as functional calls with exact parameters. A
    ``CallHandler``, for ``_modules.call_handler``.
    """
    path = str(cast(fx.Node, lw.current).target)
    inliner = _Inliner(lw)
    memo: dict[int, Any] = {}
    owned = itertools.chain(module.named_parameters(), module.named_buffers())
    for name, tensor in owned:
        meta: torch.Tensor = torch.empty_like(tensor, device="meta")
        trainable = isinstance(tensor, nn.Parameter) and tensor.requires_grad
        if isinstance(tensor, nn.Parameter):
            meta = nn.Parameter(meta, tensor.requires_grad)
        memo[id(tensor)] = meta
        source = TensorSource(f"{path}.{name}", tuple(tensor.shape), trainable)
        inliner.bind(meta, Opaque(source.name, source.shape, (source,), tensor.dtype))
    return _inline(lw, copy.deepcopy(module, memo), args, kwargs, inliner)


_ADD, _MUL, _SUB, _DIV = (_binary(op) for op in ("add", "mul", "sub", "div"))
_TRANSPOSE_METHODS = ("transpose", "swapaxes", "swapdims")

ATTENTION_FUNCTIONS: dict[Any, Handler] = {
    operator.add: _ADD,
    operator.iadd: _ADD,
    torch.add: _ADD,
    operator.mul: _MUL,
    operator.imul: _MUL,
    torch.mul: _MUL,
    operator.sub: _SUB,
    operator.isub: _SUB,
    torch.sub: _SUB,
    operator.truediv: _DIV,
    operator.itruediv: _DIV,
    torch.div: _DIV,
    operator.matmul: _matmul,
    torch.matmul: _matmul,
    torch.bmm: _matmul,
    operator.getitem: _getitem,
    torch.cat: _cat,
    torch.concat: _cat,
    torch.concatenate: _cat,
    torch.transpose: _transpose,
    torch.swapaxes: _transpose,
    torch.permute: _permute,
    torch.split: _split,
    torch.chunk: _split,
    torch.unbind: _unbind,
    torch.roll: _roll,
    torch.softmax: _softmax,
    F.softmax: _softmax,
    F.linear: _functional_linear,
    F.layer_norm: _functional_layer_norm,
    F.scaled_dot_product_attention: _sdpa,
    F.pad: _pad,
    F.normalize: _normalize,
    torch.einsum: _einsum,
}
ATTENTION_NAMED_FUNCTIONS: dict[tuple[str, str], Handler] = {
    ("torchvision.models.swin_transformer", "shifted_window_attention"): _inlined,
    ("torchvision.models.swin_transformer", "_patch_merging_pad"): _inlined,
    ("torchvision.models.swin_transformer", "_get_relative_position_bias"): _inlined,
}
"""Functions of optional packages kept whole by fx, by (module, name): lowered by ``_inline``."""
ATTENTION_METHODS: dict[str, Handler] = {
    "add": _ADD,
    "add_": _ADD,
    "mul": _MUL,
    "mul_": _MUL,
    "sub": _SUB,
    "sub_": _SUB,
    "div": _DIV,
    "div_": _DIV,
    "matmul": _matmul,
    "bmm": _matmul,
    **dict.fromkeys(_TRANSPOSE_METHODS, _transpose),
    "permute": _permute,
    "split": _split,
    "chunk": _split,
    "unbind": _unbind,
    "unflatten": _ops.reshape,
    "roll": _roll,
    "softmax": _softmax,
}
ATTENTION_MODULES: tuple[tuple[type[nn.Module], ModuleHandler], ...] = (
    (nn.Linear, _module_linear),
    (nn.LayerNorm, _module_layer_norm),
    (nn.Softmax, lambda lw, m, x: lw.unary("softmax", x)),
)
ATTENTION_CALLS: tuple[tuple[type[nn.Module], CallHandler], ...] = (
    (nn.MultiheadAttention, _multihead_attention),
)
