"""Output shapes of common layers by formula, so that shape propagation skips running them.

Running a layer on meta tensors still goes through Python decompositions (about a millisecond
for a batch norm or an activation), which would dominate conversion time; these formulas take
microseconds. Anything not covered here (and every formula's corner case it declines by
returning None) is run on meta tensors as usual.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from math import floor
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cg_ir.nn import Zero

__all__ = ["function_shape", "module_shape"]

Shape4 = tuple[int, ...]


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def _window(size: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1  # torch: the last window must start inside the input or its left padding
    return out


def _conv(m: nn.Conv2d, shape: Shape4) -> Shape4 | None:
    if len(shape) != 4 or shape[1] != m.in_channels:
        return None
    if m.padding == "same":
        return (shape[0], m.out_channels, shape[2], shape[3])
    pad = (0, 0) if m.padding == "valid" else _pair(m.padding)
    h, w = (
        _window(shape[2 + a], m.kernel_size[a], m.stride[a], pad[a], m.dilation[a], False)
        for a in (0, 1)
    )
    return (shape[0], m.out_channels, h, w)


def _pool(
    shape: Shape4, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool
) -> Shape4 | None:
    if len(shape) != 4:
        return None
    k = _pair(kernel)
    s = _pair(stride) if stride not in (None, (), []) else k
    p, d = _pair(padding), _pair(dilation)
    return (*shape[:2], *(_window(shape[2 + a], k[a], s[a], p[a], d[a], ceil) for a in (0, 1)))


def _adaptive(shape: Shape4, size: Any) -> Shape4 | None:
    if len(shape) != 4:
        return None
    sizes = size if isinstance(size, (tuple, list)) else (size, size)
    return (*shape[:2], *(shape[2 + a] if sizes[a] is None else int(sizes[a]) for a in (0, 1)))


def _upsample(m: nn.Upsample, shape: Shape4) -> Shape4 | None:
    if len(shape) != 4 or m.recompute_scale_factor:
        return None
    if m.size is not None:
        return (*shape[:2], *_pair(m.size))
    if m.scale_factor is None:
        return None
    scale = m.scale_factor if isinstance(m.scale_factor, (tuple, list)) else (m.scale_factor,) * 2
    return (*shape[:2], *(floor(shape[2 + a] * float(scale[a])) for a in (0, 1)))


def _zero(m: Zero, shape: Shape4) -> Shape4 | None:
    if len(shape) != 4:
        return None
    c = shape[1] if m.out_channels is None else m.out_channels
    return (shape[0], c, -(-shape[2] // m.stride), -(-shape[3] // m.stride))


def _pad(m: Any, shape: Shape4) -> Shape4 | None:
    if len(shape) != 4 or len(m.padding) != 4:
        return None
    left, right, top, bottom = m.padding
    return (*shape[:2], shape[2] + top + bottom, shape[3] + left + right)


_SAME = (
    nn.ReLU,
    nn.Hardtanh,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Sigmoid,
    nn.SiLU,
    nn.GELU,
    nn.Tanh,
    nn.LeakyReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.Mish,
    nn.Softplus,
    nn.Softsign,
    nn.Softmax,
    nn.LogSoftmax,
    nn.Identity,
    nn.modules.dropout._DropoutNd,
)
_PADS = (nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d)


def module_shape(m: nn.Module, shape: Shape4) -> Shape4 | None:
    """The output shape of leaf ``m`` on an input of ``shape``, or None to run it."""
    if type(m) is not Zero and not type(m).__module__.startswith("torch.nn."):
        return None  # a user's subclass (a leaf_modules class) may compute anything: run it
    if isinstance(m, _SAME):
        return shape
    if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
        channels = m.num_features if isinstance(m, nn.BatchNorm2d) else m.num_channels
        return shape if len(shape) == 4 and shape[1] == channels else None
    if isinstance(m, nn.PReLU):
        return shape if len(shape) >= 2 and m.num_parameters in (1, shape[1]) else None
    if isinstance(m, _PADS):
        return _pad(m, shape)
    if isinstance(m, nn.Conv2d):
        return _conv(m, shape)
    if isinstance(m, nn.Linear):
        return (*shape[:-1], m.out_features) if shape[-1] == m.in_features else None
    if isinstance(m, nn.LayerNorm):
        return shape if tuple(shape[-len(m.normalized_shape) :]) == m.normalized_shape else None
    if isinstance(m, nn.MaxPool2d) and not m.return_indices:
        return _pool(shape, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        return _pool(shape, m.kernel_size, m.stride, m.padding, 1, m.ceil_mode)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) and not getattr(
        m, "return_indices", False
    ):
        return _adaptive(shape, m.output_size)
    if isinstance(m, nn.Upsample):
        return _upsample(m, shape)
    if isinstance(m, Zero):
        return _zero(m, shape)
    return None


def _broadcast(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Shape4 | None:
    operands = [*args[:2], *(v for k, v in kwargs.items() if k == "other")]
    shapes = [tuple(a.shape) for a in operands if isinstance(a, torch.Tensor)]
    if not shapes or any(not isinstance(a, (torch.Tensor, int, float)) for a in operands):
        return None  # arithmetic on sizes (h // p * w) stays Python arithmetic
    return tuple(torch.broadcast_shapes(*shapes))  # type: ignore[no-untyped-call]


def _cat(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Shape4 | None:
    tensors = args[0] if args else kwargs.get("tensors")
    dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
    if not tensors or not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    first = tuple(tensors[0].shape)
    axis = int(dim) % len(first)
    if any(len(t.shape) != len(first) for t in tensors):
        return None
    return (*first[:axis], sum(int(t.shape[axis]) for t in tensors), *first[axis + 1 :])


def _reduce(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Shape4 | None:
    dims = args[1] if len(args) > 1 else kwargs.get("dim")
    keep = bool(args[2] if len(args) > 2 else kwargs.get("keepdim", False))
    if not isinstance(args[0], torch.Tensor) or dims in (None, (), []):
        return None
    if set(kwargs) - {"dim", "keepdim"}:
        return None
    shape = tuple(args[0].shape)
    axes = {int(d) % len(shape) for d in (dims if isinstance(dims, (tuple, list)) else (dims,))}
    if keep:
        return tuple(1 if a in axes else n for a, n in enumerate(shape))
    return tuple(n for a, n in enumerate(shape) if a not in axes)


def _same(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Shape4 | None:
    return tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else None


_FUNCTIONS: dict[Any, Callable[[tuple[Any, ...], dict[str, Any]], Shape4 | None]] = {
    **{
        f: _same
        for f in (
            F.relu,
            torch.relu,
            F.relu_,
            torch.relu_,
            F.relu6,
            F.hardtanh,
            F.hardswish,
            F.hardsigmoid,
            torch.sigmoid,
            F.sigmoid,
            F.silu,
            F.gelu,
            torch.tanh,
            F.tanh,
            F.dropout,
            F.dropout2d,
            torch.zeros_like,
            F.leaky_relu,
            F.elu,
            F.selu,
            F.celu,
            F.mish,
            F.softplus,
            F.softsign,
            F.softmax,
            F.log_softmax,
            torch.softmax,
            torch.exp,
            torch.log,
            torch.sqrt,
            torch.rsqrt,
            torch.abs,
            torch.neg,
            operator.neg,
        )
    },
    **{
        f: _broadcast
        for f in (
            operator.add,
            operator.iadd,
            torch.add,
            operator.mul,
            operator.imul,
            torch.mul,
            operator.sub,
            operator.isub,
            torch.sub,
            operator.truediv,
            operator.itruediv,
            torch.div,
        )
    },
    torch.cat: _cat,
    torch.concat: _cat,
    torch.mean: _reduce,
    torch.amax: _reduce,
    torch.sum: _reduce,
}
_METHODS: dict[str, Callable[[tuple[Any, ...], dict[str, Any]], Shape4 | None]] = {
    **{
        m: _same
        for m in (
            "relu",
            "relu_",
            "sigmoid",
            "sigmoid_",
            "tanh",
            "tanh_",
            "exp",
            "log",
            "sqrt",
            "rsqrt",
            "abs",
            "neg",
            "softmax",
        )
    },
    **{m: _broadcast for m in ("add", "add_", "mul", "mul_", "sub", "sub_", "div", "div_")},
    "mean": _reduce,
    "amax": _reduce,
    "sum": _reduce,
}


def function_shape(
    op: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Shape4 | None:
    """The output shape of a call_function / call_method, or None to run it."""
    try:
        rule = _METHODS.get(target) if op == "call_method" else _FUNCTIONS.get(target)
    except TypeError:  # an unhashable target
        return None
    return None if rule is None else rule(args, kwargs)
