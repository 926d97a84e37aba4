"""Functions and Tensor methods: which call lowers to which primitive; ``call`` dispatches."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx

from cg_ir.fx._modules import module_handler
from cg_ir.fx._ops import (
    Handler,
    activation,
    adaptive,
    arg,
    binary,
    cat,
    getitem,
    hardtanh,
    identity,
    norm_function,
    permute,
    pool,
    reduce,
    reshape,
    same_shape,
    truncate,
    upsample,
    zeros,
)

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = ["call"]


def _functional_pool(op: str) -> Handler:
    def lower(lw: Lowerer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        kernel = arg(args, kwargs, 1, "kernel_size", 1)
        stride = arg(args, kwargs, 2, "stride", None)
        padding = arg(args, kwargs, 3, "padding", 0)
        if op == "avg_pool":
            return pool(lw, op, args[0], kernel, stride, padding, None)
        return pool(
            lw,
            op,
            args[0],
            kernel,
            stride,
            padding,
            arg(args, kwargs, 4, "dilation", 1),
            bool(arg(args, kwargs, 6, "return_indices", False)),
        )

    return lower


_ADD, _MUL = binary("add"), binary("mul")
_FUNCTIONS: dict[Any, Handler] = {
    operator.add: _ADD,
    operator.iadd: _ADD,
    torch.add: _ADD,
    operator.mul: _MUL,
    operator.imul: _MUL,
    torch.mul: _MUL,
    torch.cat: cat,
    torch.concat: cat,
    torch.concatenate: cat,
    operator.getitem: getitem,
    torch.flatten: reshape,
    torch.reshape: reshape,
    torch.squeeze: reshape,
    torch.unsqueeze: reshape,
    torch.permute: permute,
    torch.mean: reduce("avg"),
    torch.amax: reduce("max"),
    torch.zeros_like: zeros,
    torch.zeros: zeros,
    F.relu: activation("relu"),
    torch.relu: activation("relu"),
    F.relu_: activation("relu"),
    torch.relu_: activation("relu"),
    F.relu6: activation("relu6"),
    F.hardtanh: lambda lw, a, k: hardtanh(
        lw, a[0], arg(a, k, 1, "min_val", -1.0), arg(a, k, 2, "max_val", 1.0)
    ),
    F.hardswish: activation("hardswish"),
    F.hardsigmoid: activation("hardsigmoid"),
    torch.sigmoid: activation("sigmoid"),
    F.sigmoid: activation("sigmoid"),
    F.silu: activation("silu"),
    F.gelu: activation("gelu"),
    torch.tanh: activation("tanh"),
    F.tanh: activation("tanh"),
    F.max_pool2d: _functional_pool("max_pool"),
    F.avg_pool2d: _functional_pool("avg_pool"),
    F.adaptive_avg_pool2d: lambda lw, a, k: adaptive(lw, "avg", a[0]),
    F.adaptive_max_pool2d: lambda lw, a, k: adaptive(lw, "max", a[0]),
    F.interpolate: lambda lw, a, k: upsample(lw, a[0], arg(a, k, 3, "mode", "nearest")),
    F.dropout: identity,
    F.dropout1d: identity,
    F.dropout2d: identity,
    F.dropout3d: identity,
    F.alpha_dropout: identity,
    F.feature_alpha_dropout: identity,
    F.layer_norm: norm_function("layer_norm"),
    F.group_norm: norm_function("group_norm"),
}
# functions of optional packages, matched by module and name so that cg-ir does not import them
_NAMED_FUNCTIONS: dict[tuple[str, str], Handler] = {
    ("nasbench_pytorch.model.model", "truncate"): truncate,
}
_METHODS: dict[str, Handler] = {
    "add": _ADD,
    "add_": _ADD,
    "mul": _MUL,
    "mul_": _MUL,
    "view": reshape,
    "reshape": reshape,
    "flatten": reshape,
    "squeeze": reshape,
    "unsqueeze": reshape,
    "view_as": reshape,
    "reshape_as": reshape,
    "permute": permute,
    "mean": reduce("avg"),
    "amax": reduce("max"),
    "relu": activation("relu"),
    "relu_": activation("relu"),
    "sigmoid": activation("sigmoid"),
    "sigmoid_": activation("sigmoid"),
    "tanh": activation("tanh"),
    "tanh_": activation("tanh"),
    "to": same_shape,
    "type": same_shape,
    "float": same_shape,
    "contiguous": same_shape,
    "clone": same_shape,
    "detach": same_shape,
    "new_zeros": zeros,
}


def call(lw: Lowerer, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Lower one call_module / call_function / call_method node; returns its value."""
    if node.op == "call_module":
        module = lw.modules[str(node.target)]
        handler = module_handler(module)
        if handler is None or len(args) != 1 or kwargs:
            lw.fail("it is not a supported layer called on one tensor")
        return handler(lw, module, args[0])
    if node.op == "call_method":
        method = _METHODS.get(str(node.target))
        if method is None:
            lw.fail("this Tensor method is not lowered to a cg-ir primitive")
        return method(lw, args, kwargs)
    target = node.target
    function = _FUNCTIONS.get(target) if _hashable(target) else None
    if function is None:
        key = (getattr(target, "__module__", ""), getattr(target, "__name__", ""))
        function = _NAMED_FUNCTIONS.get(key)
    if function is None:
        lw.fail("this function is not lowered to a cg-ir primitive")
    return function(lw, args, kwargs)


def _hashable(target: Any) -> bool:
    try:
        hash(target)
    except TypeError:
        return False
    return True
