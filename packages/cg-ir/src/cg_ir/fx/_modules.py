"""Leaf modules: which torch.nn layer lowers to which primitive (subclasses included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import nn

from cg_ir.fx._ops import adaptive, hardtanh, layer_norm, pair, pool, spatial, upsample
from cg_ir.fx._values import GraphTensor
from cg_ir.nn import Zero

if TYPE_CHECKING:
    from cg_ir.fx._lower import Lowerer

__all__ = ["ModuleHandler", "module_handler"]

ModuleHandler = Callable[["Lowerer", Any, Any], Any]


def _conv(lw: Lowerer, m: nn.Conv2d, x: Any) -> GraphTensor:
    t = spatial(lw, x)
    if isinstance(m.padding, str):
        padding = [0, 0]
        for axis in (0, 1):
            total = m.dilation[axis] * (m.kernel_size[axis] - 1) if m.padding == "same" else 0
            if total % 2:
                lw.fail(
                    "padding='same' pads this kernel unevenly, which (C, H, W) padding "
                    "pairs cannot express; pad explicitly"
                )
            padding[axis] = total // 2
    else:
        padding = list(pair(m.padding))
    depthwise = m.groups == m.in_channels > 1
    return lw.emit(
        "depthwise_conv" if depthwise else "conv",
        [t],
        lw.cg(t),
        lw.out_shape("nchw"),
        "nchw",
        kernel_size=pair(m.kernel_size),
        stride=pair(m.stride),
        padding=pair(padding),
        dilation=pair(m.dilation),
        groups=m.groups,
        in_channels=m.in_channels,
        out_channels=m.out_channels,
        bias=m.bias is not None,
    )


def _linear(lw: Lowerer, m: nn.Linear, x: Any) -> GraphTensor:
    t = lw.tensor(x, ("nhwc", "flat"))
    c, h, w = lw.cg(t)
    if t.layout == "nhwc" and m.in_features == c:
        return lw.emit(
            "linear",
            [t],
            (c, h, w),
            (m.out_features, h, w),
            "nhwc",
            in_channels=c,
            out_channels=m.out_features,
            bias=m.bias is not None,
        )
    if t.layout == "flat" and m.in_features == c * h * w:
        return lw.emit(
            "linear",
            [t],
            (c, h, w),
            (m.out_features, 1, 1),
            "flat",
            in_channels=c * h * w,
            out_channels=m.out_features,
            bias=m.bias is not None,
        )
    return lw.fail(
        f"Linear({m.in_features}, ...) on shape {t.shape} acts neither on the "
        "channels of a channels-last tensor nor on a flattened one"
    )


def _batch_norm(lw: Lowerer, m: nn.modules.batchnorm._BatchNorm, x: Any) -> GraphTensor:
    if isinstance(m, nn.BatchNorm2d):
        t = lw.tensor(x, ("nchw",))
    else:  # BatchNorm1d: only on features, (N, F) = (F, 1, 1)
        t = lw.tensor(x, ("flat",))
        if lw.cg(t)[1:] != (1, 1):
            lw.fail(f"BatchNorm1d on a flattened {lw.cg(t)} normalizes positions, not channels")
    return lw.unary("batch_norm", t, affine=m.affine)


def _module_layer_norm(lw: Lowerer, m: nn.LayerNorm, x: Any) -> GraphTensor:
    if m.elementwise_affine and m.bias is None:
        lw.fail("LayerNorm(bias=False) has C parameters, the layer_norm primitive 2C")
    return layer_norm(lw, x, m.normalized_shape, m.elementwise_affine)


def _group_norm(lw: Lowerer, m: nn.GroupNorm, x: Any) -> GraphTensor:
    t = spatial(lw, x)
    return lw.unary("group_norm", t, affine=m.affine)


def _zero(lw: Lowerer, m: Zero, x: Any) -> GraphTensor:
    t = spatial(lw, x)
    return lw.emit("zero", [t], lw.cg(t), lw.out_shape("nchw"), "nchw")


def _pass(lw: Lowerer, m: nn.Module, x: Any) -> Any:
    return x


_MODULES: tuple[tuple[type[nn.Module], ModuleHandler], ...] = (
    (nn.Conv2d, _conv),
    (nn.Linear, _linear),
    (nn.BatchNorm2d, _batch_norm),
    (nn.BatchNorm1d, _batch_norm),
    (nn.LayerNorm, _module_layer_norm),
    (nn.GroupNorm, _group_norm),
    (nn.ReLU, lambda lw, m, x: lw.unary("relu", x)),
    (nn.Hardtanh, lambda lw, m, x: hardtanh(lw, x, m.min_val, m.max_val)),
    (nn.Hardswish, lambda lw, m, x: lw.unary("hardswish", x)),
    (nn.Hardsigmoid, lambda lw, m, x: lw.unary("hardsigmoid", x)),
    (nn.Sigmoid, lambda lw, m, x: lw.unary("sigmoid", x)),
    (nn.SiLU, lambda lw, m, x: lw.unary("silu", x)),
    (nn.GELU, lambda lw, m, x: lw.unary("gelu", x)),
    (nn.Tanh, lambda lw, m, x: lw.unary("tanh", x)),
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


def module_handler(module: nn.Module) -> ModuleHandler | None:
    """The handler of a leaf module (by class, subclasses included), or None."""
    for cls, handler in _MODULES:
        if isinstance(module, cls):
            return handler
    return None
