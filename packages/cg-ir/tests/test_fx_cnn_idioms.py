"""The CNN idioms people actually write lower exactly: one small hand-written module each.

Each check compares the graph's parameters with the module's trainable parameters and the FLOPs
of its conv/linear nodes with ``torch.utils.flop_counter.FlopCounterMode`` at batch size 1.
"""

from __future__ import annotations

import math
import operator
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import ComputationGraph, UnsupportedOperatorError, from_module
from cg_ir.fx import _table
from cg_ir.fx._shapes import function_shape
from cg_ir.fx._table import timm_notrace
from cg_ir.zoo import check_model

from .module_checks import WEIGHTED_WITH_MATMUL, Lambda, inner_ops, trainable_params

SHAPE = (8, 8, 8)


def torch_flops(module: nn.Module, shape: tuple[int, ...]) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module.eval()(torch.zeros(1, *shape))
    counts = counter.get_flop_counts().get("Global", {})
    return sum(int(v) for k, v in counts.items() if str(k).split(".")[-1] != "sdpa")


def exact(module: nn.Module, shape: tuple[int, ...] = SHAPE) -> ComputationGraph:
    """The graph of ``module``, checked against torch's parameter and FLOP counts."""
    graph = from_module(module, shape)
    assert graph.params == trainable_params(module)
    assert sum(n.flops for n in graph.nodes if n.op in WEIGHTED_WITH_MATMUL) == torch_flops(
        module, shape
    )
    return graph


# -- DARTS-style cells -------------------------------------------------------------------------
class FactorizedReduce(nn.Module):
    """DARTS: two stride-2 1x1 convs, the second on the input shifted by one pixel."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class DartsZero(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class DilConv(nn.Module):
    """DARTS' dilated separable conv with its explicit padding module."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(),
            nn.ZeroPad2d(2),
            nn.Conv2d(c, c, 3, dilation=2, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)  # type: ignore[no-any-return]


def test_factorized_reduce_crops_with_a_spatial_slice() -> None:
    graph = exact(FactorizedReduce(8, 16))
    assert inner_ops(graph) == ["relu", "conv", "slice", "conv", "concat", "batch_norm"]
    crop = graph.nodes[3]
    assert (crop.input_shape, crop.output_shape) == ((8, 8, 8), (8, 7, 7))
    assert crop.padding == (1, 1)  # the start of the height and width windows


def test_darts_zero_op_is_zero() -> None:
    assert inner_ops(exact(DartsZero(1))) == ["zero"]
    graph = exact(DartsZero(2))
    assert inner_ops(graph) == ["slice", "zero"]
    assert graph.nodes[1].output_shape == (8, 4, 4)
    assert graph.nodes[1].stride == (2, 2)


def test_dil_conv_pads_with_a_pad_node() -> None:
    graph = exact(DilConv(8))
    assert inner_ops(graph) == ["relu", "pad_constant", "depthwise_conv", "conv", "batch_norm"]
    assert graph.nodes[2].output_shape == (8, 12, 12)


# -- channel shuffle, split attention ----------------------------------------------------------
class ChannelShuffle(nn.Module):
    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.conv = nn.Conv2d(c, c, 1, groups=groups)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        b, c, h, w = x.shape
        x = x.view(b, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return self.out(x.view(b, -1, h, w))  # type: ignore[no-any-return]


class SplitAttention(nn.Module):
    """ResNeSt: radix branches summed over the split axis, re-weighted by a radix softmax."""

    def __init__(self, c: int, radix: int = 2) -> None:
        super().__init__()
        self.radix = radix
        self.conv = nn.Conv2d(c, c * radix, 3, padding=1)
        self.fc1 = nn.Conv2d(c, c, 1)
        self.fc2 = nn.Conv2d(c, c * radix, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        b, rc, h, w = x.shape
        x = x.reshape(b, self.radix, rc // self.radix, h, w)
        gap = x.sum(dim=1).mean((2, 3), keepdim=True)
        attn = self.fc2(self.fc1(gap).relu())
        attn = attn.view(b, 1, self.radix, -1).transpose(1, 2)
        attn = F.softmax(attn, dim=1).reshape(b, -1)
        attn = attn.reshape(b, self.radix, rc // self.radix, 1, 1)
        return (x * attn).sum(dim=1)


def test_channel_shuffle_is_reshape_transpose_reshape() -> None:
    graph = exact(ChannelShuffle(8, 2))
    assert inner_ops(graph) == ["conv", "reshape", "transpose", "reshape", "conv"]
    reshape, transpose = graph.nodes[2], graph.nodes[3]
    assert reshape.output_shape == (2, 4, 8, 8)
    assert transpose.output_shape == (4, 2, 8, 8)


def test_split_attention_sums_over_the_split_axis() -> None:
    graph = exact(SplitAttention(8))
    assert inner_ops(graph).count("reduce_sum") == 2
    assert "softmax" in inner_ops(graph)
    sums = [n for n in graph.nodes if n.op == "reduce_sum"]
    assert all(n.input_shape == (2, 8, 8, 8) and n.output_shape == (8, 8, 8) for n in sums)


def test_stack_then_sum() -> None:
    graph = exact(Lambda(lambda x: torch.stack([x, x.relu()], dim=1).sum(1)))
    assert inner_ops(graph)[-2:] == ["concat", "reduce_sum"]


def test_reductions_over_channels() -> None:
    graph = exact(Lambda(lambda x: torch.cat([x.mean(1, True), x.amax(1, True)], 1)))
    assert inner_ops(graph) == ["reduce_mean", "reduce_max", "concat"]
    graph = exact(Lambda(lambda x: torch.max(x, dim=1, keepdim=True)[0] * x))
    assert inner_ops(graph) == ["reduce_max", "mul"]


def test_chunk_pieces_are_slices() -> None:
    graph = exact(Lambda(lambda x: torch.cat(x.chunk(2, dim=1)[::-1], 1)))
    assert inner_ops(graph) == ["slice", "slice", "concat"]


class EfficientChannelAttention(nn.Module):
    """ECA-Net: a Conv1d across the pooled channels gates the feature map."""

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.conv(y).sigmoid().view(x.shape[0], -1, 1, 1)
        return x * y.expand_as(x)


def test_eca_conv1d_is_a_conv_of_height_one() -> None:
    graph = exact(EfficientChannelAttention())
    assert (
        inner_ops(graph)[:3] == ["global_avg_pool", "reshape", "conv"]
        and inner_ops(graph)[-1] == "mul"
    )
    conv = graph.nodes[3]
    assert (conv.input_shape, conv.kernel_size, conv.padding) == ((1, 1, 8), (1, 3), (0, 1))


def test_expand_feeding_other_ops_is_an_expand_node() -> None:
    # add/mul/sub/div broadcast by themselves; anything else gets the copies made explicit
    graph = from_module(Lambda(lambda x: x.mean((2, 3), keepdim=True).expand_as(x).relu()), SHAPE)
    expand = next(n for n in graph.nodes if n.op == "expand")
    assert expand.output_shape == graph.nodes[-1].output_shape


# -- norms with the module's own parameters ----------------------------------------------------
class BatchNormAct2d(nn.BatchNorm2d):
    """timm's BatchNormAct2d: F.batch_norm with the layer's parameters, then an activation."""

    def __init__(self, c: int) -> None:
        super().__init__(c)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, self.eps
        )
        return self.act(x)  # type: ignore[no-any-return]


class LayerNorm2d(nn.LayerNorm):
    """ConvNeXt's channels-first LayerNorm."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def test_batch_norm_act_is_an_affine_batch_norm() -> None:
    graph = exact(nn.Sequential(nn.Conv2d(8, 8, 3), BatchNormAct2d(8)))
    assert inner_ops(graph) == ["conv", "batch_norm", "leaky_relu"]
    assert graph.nodes[2].affine and graph.nodes[2].params == 16


@pytest.mark.parametrize(
    ("norm", "op"),
    [
        (LayerNorm2d(8), "layer_norm"),
        (nn.GroupNorm(2, 8), "group_norm"),
        (nn.InstanceNorm2d(8, affine=True), "instance_norm"),
    ],
)
def test_norm_layers_count_their_parameters(norm: nn.Module, op: str) -> None:
    assert inner_ops(exact(nn.Sequential(nn.Conv2d(8, 8, 1), norm))) == ["conv", op]


def test_functional_group_norm_with_weights() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight, self.bias = nn.Parameter(torch.ones(8)), nn.Parameter(torch.zeros(8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.group_norm(x, 4, self.weight, self.bias)

    graph = exact(Net())
    assert inner_ops(graph) == ["group_norm"] and graph.nodes[1].affine


def test_functional_norm_with_a_scale_only_scales_each_channel() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(8))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.group_norm(x, 1, self.weight)

    graph = exact(Net())
    assert inner_ops(graph) == ["group_norm", "parameter", "reshape", "mul"]
    assert graph.nodes[3].output_shape == (8, 1, 1)


def test_layer_norm_without_bias_is_norm_then_scale() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(8, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(x.permute(0, 2, 3, 1))  # type: ignore[no-any-return]

    graph = exact(Net())
    assert (
        inner_ops(graph)[0] == "layer_norm"
        and "parameter" in inner_ops(graph)
        and "mul" in inner_ops(graph)
    )
    assert not graph.nodes[1].affine


class GlobalResponseNorm(nn.Module):
    """ConvNeXt-V2's GRN on channels-last features: a norm, its mean, and addcmul."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight, self.bias = nn.Parameter(torch.zeros(c)), nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        g = x.norm(p=2, dim=(1, 2), keepdim=True)
        n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
        return (x + torch.addcmul(self.bias, self.weight, x * n)).permute(0, 3, 1, 2)


def test_global_response_norm() -> None:
    graph = exact(GlobalResponseNorm(8))
    assert inner_ops(graph).count("parameter") == 2 and "reduce_sum" in inner_ops(graph)


# -- weights computed from parameters ----------------------------------------------------------
class StdConv2d(nn.Conv2d):
    """Weight standardisation (BiT, NFNet): the conv's weight is normalized per filter."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.batch_norm(
            self.weight.reshape(1, self.out_channels, -1), None, None, training=True, eps=1e-6
        ).reshape_as(self.weight)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


def test_weight_standardised_conv_is_one_conv() -> None:
    graph = exact(nn.Sequential(StdConv2d(8, 16, 3, padding=1), StdConv2d(16, 16, 3, groups=16)))
    assert inner_ops(graph) == ["conv", "depthwise_conv"]


def test_functional_conv_and_linear_with_owned_weights() -> None:
    conv, fc = nn.Conv2d(8, 4, 3, stride=2, padding="valid"), nn.Linear(4, 3)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = conv, fc

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.conv2d(x, self.conv.weight, self.conv.bias, 2)
            return F.linear(x.mean((2, 3)), self.fc.weight, self.fc.bias)

    assert inner_ops(exact(Net())) == ["conv", "global_avg_pool", "linear"]


# -- padding -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("layer", "op", "padding"),
    [
        (nn.ZeroPad2d((1, 2, 3, 4)), "pad_constant", (3, 1)),
        (nn.ConstantPad2d(1, 0.5), "pad_constant", (1, 1)),
        (nn.ReflectionPad2d(2), "pad_reflect", (2, 2)),
        (nn.ReplicationPad2d((0, 1, 0, 1)), "pad_replicate", (0, 0)),
        (Lambda(lambda x: F.pad(x, (1, 1, 2, 2), mode="reflect")), "pad_reflect", (2, 1)),
        (Lambda(lambda x: F.pad(x, (0, 1))), "pad_constant", (0, 0)),
    ],
)
def test_padding(layer: nn.Module, op: str, padding: tuple[int, int]) -> None:
    graph = exact(layer)
    expected = tuple(layer(torch.zeros(1, *SHAPE)).shape[1:])
    assert inner_ops(graph) == [op]
    assert graph.nodes[1].padding == padding and graph.output_shape == expected


def test_negative_padding_crops() -> None:
    graph = exact(Lambda(lambda x: F.pad(x, (-1, 2, -2, 0))))
    assert inner_ops(graph) == ["pad_constant", "slice"]
    assert graph.nodes[2].padding == (2, 1) and graph.output_shape == (8, 6, 9)


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("kernel", [2, 4, (3, 2)])
def test_same_padding_with_an_even_kernel_pads_first(kernel: int | tuple[int, int]) -> None:
    graph = exact(nn.Conv2d(8, 4, kernel, padding="same"))
    assert inner_ops(graph) == ["pad_constant", "conv"]
    assert graph.output_shape == (4, 8, 8)


# -- arithmetic with Python numbers and elementwise functions ---------------------------------
@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x: x * 0, ["zero"]),
        (lambda x: x * 2.0 + 1, ["scale", "shift"]),
        (lambda x: x / 6.0 - 0.5, ["scale", "shift"]),
        (lambda x: F.relu6(x + 3.0) / 6.0, ["shift", "relu6", "scale"]),
        (lambda x: 1 - x.sigmoid(), ["sigmoid", "neg", "shift"]),
        (lambda x: torch.maximum(x, x.tanh()), ["tanh", "maximum"]),
        (
            lambda x: torch.minimum(x, x.relu()) - x / x.exp(),
            ["relu", "minimum", "exp", "div", "sub"],
        ),
        (lambda x: x.abs().sqrt().rsqrt().log().neg(), ["abs", "sqrt", "rsqrt", "log", "neg"]),
        (lambda x: x.clamp(0, 6) + x.clamp(min=0), ["relu6", "relu", "add"]),
        (lambda x: torch.clamp(x, -1.0, 1.0), ["hardtanh"]),
        (lambda x: F.gelu(x, approximate="tanh"), ["gelu_tanh"]),
        (lambda x: F.softmax(x, 1) + F.log_softmax(x, -1), ["softmax", "log_softmax", "add"]),
        (lambda x: F.dropout(x, 0.5) + F.alpha_dropout(x, 0.5), ["add"]),
        (lambda x: x**2 + x.pow(0.5) + torch.square(x), ["mul", "sqrt", "add", "mul", "add"]),
        (lambda x: x.pow(-0.5) * x**-1, ["rsqrt", "reciprocal", "mul"]),
        (
            lambda x: x / x.norm(p=2, dim=(2, 3), keepdim=True),
            ["mul", "reduce_sum", "sqrt", "div"],
        ),
        (
            lambda x: torch.var(x, dim=1, keepdim=True) + x,
            ["reduce_mean", "sub", "mul", "reduce_mean", "scale", "add"],
        ),
        (
            lambda x: x.std((2, 3), unbiased=False, keepdim=True) + x,
            ["global_avg_pool", "sub", "mul", "global_avg_pool", "sqrt", "add"],
        ),
    ],
)
def test_arithmetic_and_functions(fn: object, expected: list[str]) -> None:
    assert inner_ops(exact(Lambda(fn))) == expected


@pytest.mark.parametrize(
    ("layer", "op"),
    [
        (nn.LeakyReLU(0.2), "leaky_relu"),
        (nn.ELU(), "elu"),
        (nn.SELU(), "selu"),
        (nn.CELU(), "celu"),
        (nn.Mish(), "mish"),
        (nn.Softplus(), "softplus"),
        (nn.Softsign(), "softsign"),
        (nn.GELU(approximate="tanh"), "gelu_tanh"),
        (nn.Hardtanh(-2.0, 2.0), "hardtanh"),
        (nn.ReLU6(), "relu6"),
        (nn.Softmax(dim=1), "softmax"),
        (nn.LogSoftmax(dim=1), "log_softmax"),
    ],
)
def test_activation_layers(layer: nn.Module, op: str) -> None:
    assert inner_ops(exact(layer)) == [op]


@pytest.mark.parametrize("slopes", [1, 8])
def test_prelu_counts_its_slopes(slopes: int) -> None:
    graph = exact(nn.PReLU(slopes))
    assert inner_ops(graph) == ["prelu"] and graph.params == slopes


# -- slicing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fn", "shape", "stride", "padding"),
    [
        (lambda x: x[:, :, 1:, 1:], (8, 7, 7), (1, 1), (1, 1)),
        (lambda x: x[..., ::2, ::2], (8, 4, 4), (2, 2), (0, 0)),
        (lambda x: x[:, 2:6, 1::3, 2:7:2], (4, 3, 3), (3, 2), (1, 2)),
    ],
)
def test_spatial_slices(
    fn: object, shape: tuple[int, ...], stride: tuple[int, int], padding: tuple[int, int]
) -> None:
    graph = exact(Lambda(fn))
    assert inner_ops(graph) == ["slice"]
    node = graph.nodes[1]
    assert (node.output_shape, node.stride, node.padding) == (shape, stride, padding)


# -- timm's registrations, honoured without importing timm ------------------------------------
class Conv2dSame(nn.Conv2d):
    """Stands in for timm's Conv2dSame: pads by TensorFlow's 'SAME' rule, sized from x."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        sizes = zip(x.shape[:1:-1], self.kernel_size[::-1], self.stride[::-1], strict=True)
        for size, k, s in sizes:
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)  # untraceable: int(size)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride)


def test_timm_registrations_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Conv2dSame, "__module__", "timm.layers.conv2d_same")
    registry = types.ModuleType("timm.layers._fx")
    registry._leaf_modules = {Conv2dSame}  # type: ignore[attr-defined]
    registry._autowrap_functions = set()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "timm.layers._fx", registry)
    assert timm_notrace()[0] == (Conv2dSame,)
    graph = exact(nn.Sequential(nn.ReLU(), Conv2dSame(8, 4, 3, stride=2)))
    assert inner_ops(graph) == ["relu", "pad_constant", "conv"]
    assert graph.nodes[2].output_shape == (8, 9, 9) and graph.output_shape == (4, 4, 4)


def resample(pos: torch.Tensor, size: int) -> torch.Tensor:
    """Stands in for timm's resample_abs_pos_embed: branches on a shape, so fx cannot trace it."""
    if pos.shape[-1] != size:
        pos = F.interpolate(pos, size=(size, size))
    return pos


class PositionEmbedding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, 8, 4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + resample(self.pos, x.shape[-1])


def test_timm_functions_are_wrapped_when_tracing_through_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = types.ModuleType("timm.layers._fx")
    registry._leaf_modules = set()  # type: ignore[attr-defined]
    registry._autowrap_functions = {resample}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "timm.layers._fx", registry)
    monkeypatch.delitem(sys.modules, "timm.layers.padding", raising=False)  # as if timm were new
    assert timm_notrace() == ((), ())  # no lowering: traced through first
    graph = exact(PositionEmbedding())  # ... which fails; wrapped, it folds (parameters only)
    assert inner_ops(graph) == ["parameter", "gather", "add"]


def test_no_timm_no_registrations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "timm.layers._fx", raising=False)
    assert timm_notrace() == ((), ())


def test_size_arithmetic_is_not_run_as_tensors() -> None:
    # h // p * w on sizes: a formula would turn the int into a meta tensor (and the
    # propagation would fall back to running the network for real)
    assert function_shape("call_function", operator.mul, (14, 14), {}) is None
    assert function_shape("call_function", operator.mul, (torch.zeros(2, 3), 2), {}) == (2, 3)


# -- failures stay cg-ir errors ----------------------------------------------------------------
def test_padding_the_channels_is_rejected() -> None:
    with pytest.raises(UnsupportedOperatorError, match="pads other axes") as caught:
        from_module(Lambda(lambda x: F.pad(x, (1, 1, 1, 1, 1, 1))), SHAPE)
    assert caught.value.op.endswith("pad")


def test_a_handler_error_becomes_a_cg_ir_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(lw: object, args: object, kwargs: object) -> object:
        raise TypeError("unexpected argument")

    monkeypatch.setitem(_table._FUNCTIONS, torch.sigmoid, broken)
    with pytest.raises(UnsupportedOperatorError, match="not in a form cg-ir lowers") as caught:
        from_module(nn.Sequential(nn.Conv2d(8, 8, 1), Lambda(torch.sigmoid)), SHAPE)
    assert caught.value.op == "torch.sigmoid" and caught.value.module_path == "1"


def test_dynamic_weights_are_rejected() -> None:
    with pytest.raises(UnsupportedOperatorError, match="dynamic weight"):
        from_module(Lambda(lambda x: F.conv2d(x, x)), SHAPE)


# -- the zoo: models whose idioms are the ones above ------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "torchvision:shufflenet_v2_x0_5",  # channel shuffle, chunk
        "torchvision:efficientnet_b0",  # stochastic depth
        "torchvision:convnext_tiny",  # functional layer norm, layer scale
        "timm:efficientnet_lite0",  # BatchNormAct2d
        "timm:tf_efficientnet_b0",  # Conv2dSame (timm's registrations)
        "timm:cspresnet50",  # LeakyReLU
        "timm:nf_resnet26",  # weight standardisation (not exact: the gains, see the report)
        "timm:resnest14d",  # split attention
        "timm:ecaresnet26t",  # Conv1d
        "timm:convnextv2_atto",  # GRN: norm, addcmul
    ],
)
def test_zoo_models_convert(name: str) -> None:
    result = check_model(name)
    assert result.converts, result.error_message
    assert result.conv_linear_flops == result.flop_counter_flops
    if not name.startswith("timm:nf_"):
        assert result.exact
