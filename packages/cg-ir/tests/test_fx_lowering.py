"""Lowering details of from_module: layouts, folds, in-place ops, options, side effects."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cg_ir import InvalidArgumentError, UntraceableModuleError, from_module
from cg_ir.nn import Zero

from .module_checks import Lambda


def ops(module: nn.Module, shape: tuple[int, ...] = (4, 8, 8), **options: object) -> list[str]:
    graph = from_module(module, shape, **options)  # type: ignore[arg-type]
    return [n.op for n in graph.nodes]


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (lambda x: x[:, :4], []),  # every channel: folded
        (lambda x: x[:, 0:2], ["slice"]),
        (lambda x: x[:, 1:3, :, :], ["slice"]),
        (lambda x: x[..., :, :][:, :3], ["slice"]),
        (lambda x: x.flatten(1).view(1, 4, 8, 8).relu(), ["relu"]),
        (lambda x: x.mean((2, 3))[:, :, None, None] * x, ["global_avg_pool", "mul"]),
        (lambda x: x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2).relu(), ["relu"]),
        (
            lambda x: torch.squeeze(x.amax((-1, -2), keepdim=True), 3).squeeze(2),
            ["global_max_pool"],
        ),
        (lambda x: torch.zeros_like(x) + x, []),
        (lambda x: x + torch.zeros_like(x).to(x.device), []),
        (lambda x: torch.cat([x], 1), []),
        (lambda x: torch.concat([x, x.sigmoid()], dim=-3), ["sigmoid", "concat"]),
        (lambda x: x.unsqueeze(-1).squeeze(-1).relu_(), ["relu"]),
        (lambda x: F.dropout2d(x.clone().detach().float(), 0.5), []),
        (lambda x: F.layer_norm(x.permute(0, 2, 3, 1), (4,)), ["layer_norm"]),
        (lambda x: F.group_norm(x, 2), ["group_norm"]),
        (lambda x: F.adaptive_max_pool2d(x, (2, None)), ["adaptive_max_pool"]),
        (lambda x: F.adaptive_avg_pool2d(x, 3), ["adaptive_avg_pool"]),
        (lambda x: F.interpolate(x, size=(16, 16), mode="bilinear"), ["upsample_bilinear"]),
        (
            lambda x: torch.mul(x, x.mean(-1, keepdim=True).mean(-2, keepdim=True)),
            ["reduce_mean", "reduce_mean", "mul"],
        ),
    ],
)
def test_function_lowering(fn: object, expected: list[str]) -> None:
    assert ops(Lambda(fn))[1:-1] == expected


class DeadCode(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.sort(x)  # unsupported, but nothing uses it
        unused = F.leaky_relu(x)  # noqa: F841
        return x.relu()


def test_dead_code_is_dropped() -> None:
    assert ops(DeadCode()) == ["input", "relu", "output"]


def test_input_shape_with_or_without_batch() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    graphs = [from_module(net, s) for s in ((3, 9, 9), (1, 3, 9, 9), (8, 3, 9, 9), [3, 9, 9])]
    assert all(g == graphs[0] for g in graphs)
    assert graphs[0].output_shape == (4, 7, 7)


def test_root_layer_converts_with_root_name() -> None:
    graph = from_module(nn.Conv2d(3, 8, 3, groups=1, bias=False), (3, 8, 8))
    assert [(n.op, n.name) for n in graph.nodes] == [("input", ""), ("conv", ""), ("output", "")]


def test_conv_attributes() -> None:
    graph = from_module(nn.Conv2d(8, 16, (3, 5), (2, 1), (1, 2), (1, 1), groups=4), (8, 9, 9))
    (conv,) = [n for n in graph.nodes if n.op == "conv"]
    assert (conv.kernel_size, conv.stride, conv.padding, conv.dilation) == (
        (3, 5),
        (2, 1),
        (1, 2),
        (1, 1),
    )
    assert (conv.groups, conv.in_channels, conv.out_channels, conv.bias) == (4, 8, 16, True)
    dw = from_module(nn.Conv2d(8, 8, 3, padding="same", dilation=2, groups=8), (8, 9, 9))
    assert dw.nodes[1].op == "depthwise_conv" and dw.nodes[1].padding == (2, 2)


def test_pool_attributes() -> None:
    net = nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, ceil_mode=True))
    pool_max, pool_avg = from_module(net, (4, 9, 9)).nodes[1:3]
    assert (pool_max.kernel_size, pool_max.stride, pool_max.padding, pool_max.dilation) == (
        (3, 3),
        (2, 2),
        (1, 1),
        (1, 1),
    )
    assert (pool_avg.kernel_size, pool_avg.stride, pool_avg.dilation) == ((2, 2), (2, 2), (0, 0))
    assert pool_avg.output_shape == (4, 3, 3)


class InplaceAdd(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        out.add_(x)  # result unused: later reads of `out` see the sum
        self.act(out)  # likewise
        return out.sigmoid()


def test_inplace_updates_are_followed() -> None:
    graph = from_module(InplaceAdd(), (4, 8, 8))
    assert [n.op for n in graph.nodes] == ["input", "conv", "add", "relu", "sigmoid", "output"]
    assert graph.predecessors(2) == (1, 0)


class Flagged(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor, pool: bool = True) -> torch.Tensor:
        x = self.conv(x)
        return F.max_pool2d(x, 2) if pool else x


def test_concrete_args_specialise() -> None:
    with pytest.raises(UntraceableModuleError, match="concrete_args"):
        ops(Flagged())  # `pool` is traced as a value, and branched on
    assert ops(Flagged(), concrete_args={"pool": True})[1:-1] == ["conv", "max_pool"]
    assert ops(Flagged(), concrete_args={"pool": False})[1:-1] == ["conv"]


class StandardizedConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight - self.weight.mean()
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


def test_leaf_modules_keep_a_layer_subclass_whole() -> None:
    net = nn.Sequential(StandardizedConv(4, 8, 3, padding=1), nn.ReLU())
    traced = from_module(net, (4, 8, 8))  # the standardised weight folds into the conv
    graph = from_module(net, (4, 8, 8), leaf_modules=(StandardizedConv,))
    assert [n.op for n in graph.nodes] == ["input", "conv", "relu", "output"]
    assert graph.params == traced.params == sum(p.numel() for p in net.parameters())


class ItemReLU(nn.ReLU):
    """Reads a value, which meta tensors cannot: shape propagation runs it for real."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x) if x.abs().sum().item() >= 0 else x


class Constant(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(4)
        self.act = ItemReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x)) + x * torch.tensor(2.0)


def test_module_is_left_as_it_was() -> None:
    net = Constant().train()
    net.bn.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    attributes = set(vars(net))
    graph = from_module(net, (4, 8, 8), leaf_modules=(ItemReLU,))  # real fallback run
    ops = [n.op for n in graph.nodes]
    assert ops == ["input", "batch_norm", "relu", "constant", "mul", "add", "output"]
    assert net.training and not net.bn.training and net.act.training
    assert set(vars(net)) == attributes  # fx's constants were not stored on the module
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].device.type == "cpu" for k in after)


def test_zero_module() -> None:
    assert ops(Zero(), (4, 8, 8)) == ["input", "zero", "output"]
    graph = from_module(Zero(6, stride=2), (4, 7, 7))
    assert (graph.nodes[1].input_shape, graph.nodes[1].output_shape) == ((4, 7, 7), (6, 4, 4))
    assert graph.params == 0 and graph.flops == 0
    with pytest.raises(InvalidArgumentError, match="stride must be a positive int"):
        Zero(stride=0)
    with pytest.raises(InvalidArgumentError, match="out_channels must be positive or None"):
        Zero(0)
