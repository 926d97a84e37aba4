"""Leaf modules: which torch.nn layer lowers to which primitive (subclasses included).

Some classes of optional packages are leaves too (timm registers them as not traceable);
they are matched by qualified name so that cg-ir does not import those packages.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import nn

from cg_ir.fx._ops import (
    adaptive,
    conv,
    conv1d,
    elementwise,
    hardtanh,
    linear,
    norm,
    output_gain,
    pad,
    pad_same,
    pool,
    spatial,
    upsample,
)
from cg_ir.fx._values import GraphTensor, Opaque, TensorSource, graph_tensors, is_feature_map
from cg_ir.nn import Zero

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = ["ModuleHandler", "call_handler", "module_handler", "named_module_handler"]

ModuleHandler = Callable[["Lowerer", Any, Any], Any]


def _own(lw: Lowerer, m: nn.Module, name: str) -> Opaque | None:
    """The module's parameter (or buffer) ``name`` as an owned tensor, None if it has none."""
    tensor = getattr(m, name, None)
    if tensor is None:
        return None
    path = f"{lw.current.target}.{name}" if lw.current is not None else name
    shape = tuple(tensor.shape)
    trainable = isinstance(tensor, nn.Parameter) and tensor.requires_grad
    return Opaque(path, shape, (TensorSource(path, shape, trainable),))


def _conv(lw: Lowerer, m: nn.Conv2d, x: Any) -> GraphTensor:
    return conv(
        lw,
        x,
        tuple(m.weight.shape),
        m.bias is not None,
        m.stride,
        m.padding,
        m.dilation,
        m.groups,
    )


def _conv_same(lw: Lowerer, m: nn.Conv2d, x: Any) -> GraphTensor:
    # timm's Conv2dSame / StdConv2dSame / ScaledStdConv2dSame: TensorFlow 'SAME' padding
    t = pad_same(lw, x, m.kernel_size, m.stride, m.dilation)
    result = conv(
        lw, t, tuple(m.weight.shape), m.bias is not None, m.stride, 0, m.dilation, m.groups
    )
    weight, gain = _own(lw, m, "weight"), _own(lw, m, "gain")  # the scaled variant's gain
    if weight is None or gain is None:
        return result
    return output_gain(lw, Opaque("weight", weight.shape, weight.sources + gain.sources), result)


def _pool_same(op: str) -> ModuleHandler:
    # timm's MaxPool2dSame / AvgPool2dSame: 'SAME' padding, then the pool without padding
    def lower(lw: Lowerer, m: Any, x: Any) -> GraphTensor:
        t = pad_same(lw, x, m.kernel_size, m.stride)
        dilation = m.dilation if op == "max_pool" else None
        return pool(lw, op, t, m.kernel_size, m.stride, 0, dilation)

    return lower


def _linear(lw: Lowerer, m: nn.Linear, x: Any) -> GraphTensor:
    return linear(lw, x, m.in_features, m.out_features, m.bias is not None)


def _batch_norm(lw: Lowerer, m: nn.modules.batchnorm._BatchNorm, x: Any) -> GraphTensor:
    return norm(lw, "batch_norm", x, _own(lw, m, "weight"), _own(lw, m, "bias"))


def _instance_norm(lw: Lowerer, m: nn.modules.instancenorm._InstanceNorm, x: Any) -> GraphTensor:
    return norm(lw, "instance_norm", x, _own(lw, m, "weight"), _own(lw, m, "bias"))


def _layer_norm(lw: Lowerer, m: nn.LayerNorm, x: Any) -> GraphTensor:
    weight, bias = _own(lw, m, "weight"), _own(lw, m, "bias")
    return norm(lw, "layer_norm", x, weight, bias, m.normalized_shape)


def _rms_norm(lw: Lowerer, m: nn.RMSNorm, x: Any) -> GraphTensor:
    return norm(lw, "rms_norm", x, _own(lw, m, "weight"), None, m.normalized_shape)


def _group_norm(lw: Lowerer, m: nn.GroupNorm, x: Any) -> GraphTensor:
    return norm(lw, "group_norm", spatial(lw, x), _own(lw, m, "weight"), _own(lw, m, "bias"))


def _zero(lw: Lowerer, m: Zero, x: Any) -> GraphTensor:
    t = spatial(lw, x)
    return lw.emit("zero", [t], lw.cg(t), lw.out_shape("nchw"), "nchw")


def _pad(mode: str) -> ModuleHandler:
    return lambda lw, m, x: pad(lw, x, m.padding, mode)


def _pass(lw: Lowerer, m: nn.Module, x: Any) -> Any:
    return x


def _unary(op: str) -> ModuleHandler:
    return lambda lw, m, x: elementwise(lw, op, x)


def _conv1d(lw: Lowerer, m: nn.Conv1d, x: Any) -> GraphTensor:
    args = (m.stride, m.padding, m.dilation, m.groups)
    return conv1d(lw, x, tuple(m.weight.shape), m.bias is not None, *args)


_MODULES: tuple[tuple[type[nn.Module], ModuleHandler], ...] = (
    (nn.Conv2d, _conv),
    (nn.Conv1d, _conv1d),
    (nn.Linear, _linear),
    (nn.BatchNorm2d, _batch_norm),
    (nn.BatchNorm1d, _batch_norm),
    (nn.InstanceNorm1d, _instance_norm),
    (nn.InstanceNorm2d, _instance_norm),
    (nn.LayerNorm, _layer_norm),
    (nn.RMSNorm, _rms_norm),
    (nn.GroupNorm, _group_norm),
    (nn.ReLU, _unary("relu")),
    (nn.Hardtanh, lambda lw, m, x: hardtanh(lw, x, m.min_val, m.max_val)),
    (nn.Hardswish, _unary("hardswish")),
    (nn.Hardsigmoid, _unary("hardsigmoid")),
    (nn.Sigmoid, _unary("sigmoid")),
    (nn.SiLU, _unary("silu")),
    (
        nn.GELU,
        lambda lw, m, x: elementwise(lw, "gelu_tanh" if m.approximate == "tanh" else "gelu", x),
    ),
    (nn.Tanh, _unary("tanh")),
    (nn.LeakyReLU, _unary("leaky_relu")),
    (nn.PReLU, lambda lw, m, x: elementwise(lw, "prelu", x, in_channels=m.num_parameters)),
    (nn.ELU, _unary("elu")),
    (nn.SELU, _unary("selu")),
    (nn.CELU, _unary("celu")),
    (nn.Mish, _unary("mish")),
    (nn.Softplus, _unary("softplus")),
    (nn.Softsign, _unary("softsign")),
    (nn.Softmax, _unary("softmax")),
    (nn.Softmax2d, _unary("softmax")),
    (nn.LogSoftmax, _unary("log_softmax")),
    (nn.ZeroPad2d, _pad("constant")),
    (nn.ConstantPad2d, _pad("constant")),
    (nn.ReflectionPad2d, _pad("reflect")),
    (nn.ReplicationPad2d, _pad("replicate")),
    (
        nn.MaxPool2d,
        lambda lw, m, x: pool(
            lw, "max_pool", x, m.kernel_size, m.stride, m.padding, m.dilation, m.return_indices
        ),
    ),
    (
        nn.AvgPool2d,
        lambda lw, m, x: pool(lw, "avg_pool", x, m.kernel_size, m.stride, m.padding, None),
    ),
    (nn.AdaptiveAvgPool2d, lambda lw, m, x: adaptive(lw, "avg", x)),
    (
        nn.AdaptiveMaxPool2d,
        lambda lw, m, x: (
            adaptive(lw, "max", x)
            if not m.return_indices
            else lw.fail("return_indices=True returns a tuple")
        ),
    ),
    (nn.Upsample, lambda lw, m, x: upsample(lw, x, m.mode)),
    (nn.Flatten, lambda lw, m, x: lw.reshape(x)),
    (nn.Unflatten, lambda lw, m, x: lw.reshape(x)),
    (nn.Identity, _pass),
    (nn.modules.dropout._DropoutNd, _pass),
    (Zero, _zero),
)

_NAMED_MODULES: dict[str, ModuleHandler] = {
    "timm.layers.conv2d_same.Conv2dSame": _conv_same,
    "timm.layers.std_conv.StdConv2dSame": _conv_same,
    "timm.layers.std_conv.ScaledStdConv2dSame": _conv_same,
    "timm.layers.pool2d_same.MaxPool2dSame": _pool_same("max_pool"),
    "timm.layers.pool2d_same.AvgPool2dSame": _pool_same("avg_pool"),
}
"""Classes of optional packages, by ``module.qualname`` (subclasses included)."""


def named_module_handler(cls: type) -> ModuleHandler | None:
    """The handler of a class of an optional package (or of a subclass of one), or None."""
    for base in cls.__mro__:
        handler = _NAMED_MODULES.get(f"{base.__module__}.{base.__qualname__}")
        if handler is not None:
            return handler
    return None


def call_handler(module: nn.Module) -> Any | None:
    """The handler of a leaf module that takes the whole call (args and kwargs), or None.

    Attention layers called with several arguments (``_attention``), and blocks outside
    torch.nn that are leaves without a lowering of their own (kept whole because fx cannot
    trace them, or a user's ``leaf_modules``): those run at the concrete shapes and every
    call they make is lowered (``_attention.inline_module``).
    """
    from cg_ir.fx._attention import ATTENTION_CALLS, inline_module

    for cls, handler in ATTENTION_CALLS:
        if isinstance(module, cls):
            return handler
    foreign = not type(module).__module__.startswith("torch.")
    if foreign and type(module) is not Zero and module_handler(module) is None:
        return inline_module
    return None


def module_handler(module: nn.Module) -> ModuleHandler | None:
    """The handler of a leaf module (by class, subclasses included), or None.

    Classes of optional packages come first (timm's ``Conv2dSame`` is a ``Conv2d`` that pads
    by itself), then the token and attention lowerings (``_attention``).
    """
    from cg_ir.fx._attention import ATTENTION_MODULES

    named = named_module_handler(type(module))
    if named is not None:
        return named
    cnn = next((h for cls, h in _MODULES if isinstance(module, cls)), None)
    tokens = next((h for cls, h in ATTENTION_MODULES if isinstance(module, cls)), None)
    if cnn is None or tokens is None:
        return cnn or tokens
    return _module_by_layout(cnn, tokens)


@functools.cache
def _module_by_layout(cnn: ModuleHandler, tokens: ModuleHandler) -> ModuleHandler:
    """A layer both lowerings know (Linear, LayerNorm, Softmax): by the layout of its input."""

    def lower(lw: Lowerer, m: Any, x: Any) -> Any:
        return (cnn if all(is_feature_map(t) for t in graph_tensors(x)) else tokens)(lw, m, x)

    return lower
