"""Which ONNX op lowers to which cg-ir primitive; ``lower_node`` dispatches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import onnx

from cg_ir.onnx import _layers as L
from cg_ir.onnx import _ops as O
from cg_ir.onnx._fuse import DOMAIN

if TYPE_CHECKING:
    from cg_ir.onnx._lower import Lowerer, Value

__all__ = ["SUPPORTED_OPS", "lower_node"]

_TABLE: dict[str, O.Handler] = {
    "Conv": L.conv,
    "BatchNormalization": L.batch_norm,
    "InstanceNormalization": L.instance_norm,
    "GroupNormalization": L.group_norm,
    "LayerNormalization": L.layer_norm,
    "Gemm": L.gemm,
    "MatMul": L.matmul,
    "Einsum": L.einsum,
    "MaxPool": L.pool("max_pool"),
    "AveragePool": L.pool("avg_pool"),
    "GlobalAveragePool": L.global_pool("avg"),
    "GlobalMaxPool": L.global_pool("max"),
    "ReduceMean": O.reduce("avg"),
    "ReduceMax": O.reduce("max"),
    "ReduceSum": O.reduce("sum"),
    "ReduceL2": O.reduce_l2,
    "Pow": O.power,
    "Pad": L.pad,
    "Resize": L.resize,
    "Upsample": L.resize,
    "PRelu": L.prelu,
    "Relu": O.activation("relu"),
    "Clip": O.clip,
    "HardSwish": O.activation("hardswish"),
    "HardSigmoid": O.activation("hardsigmoid"),
    "Sigmoid": O.activation("sigmoid"),
    "Tanh": O.activation("tanh"),
    "LeakyRelu": O.activation("leaky_relu"),
    "Elu": O.activation("elu"),
    "Selu": O.activation("selu"),
    "Celu": O.activation("celu"),
    "Mish": O.activation("mish"),
    "Softplus": O.activation("softplus"),
    "Softsign": O.activation("softsign"),
    "Exp": O.activation("exp"),
    "Log": O.activation("log"),
    "Sqrt": O.activation("sqrt"),
    "Reciprocal": O.reciprocal,
    "Abs": O.activation("abs"),
    "Neg": O.activation("neg"),
    "Softmax": O.activation("softmax"),
    "LogSoftmax": O.activation("log_softmax"),
    "Add": O.binary("add", "Add"),
    "Mul": O.binary("mul", "Mul"),
    "Sub": O.binary("sub", "Sub"),
    "Div": O.binary("div", "Div"),
    "Max": O.binary("maximum", "Max"),
    "Min": O.binary("minimum", "Min"),
    "Concat": O.concat,
    "Expand": O.expand,
    "Flatten": O.reshape,
    "Reshape": O.reshape,
    "Squeeze": O.reshape,
    "Unsqueeze": O.reshape,
    "Transpose": O.transpose,
    "Slice": O.slice_,
    "Split": O.split,
    "Shape": O.shape_of,
    "Gather": O.gather,
    "Identity": O.pass_through,
    "Dropout": O.pass_through,
    "Cast": O.pass_through,
    "CastLike": O.pass_through,
}
_FUSED: dict[str, O.Handler] = {
    "SiLU": O.activation("silu"),
    "HardSwish": O.activation("hardswish"),
    "GroupNorm": L.group_norm,
}

SUPPORTED_OPS = frozenset(_TABLE)
"""The ONNX ops (default domain) that ``from_onnx`` lowers."""


def _gelu(lw: Lowerer, args: list[Value]) -> Sequence[Value]:
    tanh = lw.attr("approximate", "none") == "tanh"
    return [lw.unary("gelu_tanh" if tanh else "gelu", args[0])]


_TABLE["Gelu"] = _gelu
_FUSED["Gelu"] = _gelu


def lower_node(lw: Lowerer, node: onnx.NodeProto, args: list[Value]) -> Sequence[Value]:
    """Lower one ONNX node whose inputs include a graph tensor; returns its output values."""
    table = _FUSED if node.domain == DOMAIN else _TABLE if node.domain in ("", "ai.onnx") else {}
    handler = table.get(node.op_type)
    if handler is None:
        lw.fail(
            f"the ONNX op {node.domain + '::' if node.domain else ''}{node.op_type} has no "
            f"cg-ir primitive; supported ops: {', '.join(sorted(SUPPORTED_OPS))}"
        )
    return handler(lw, args)
