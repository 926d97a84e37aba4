"""Owned tensors and the meeting points of the CNN and token lowerings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cg_ir.fx import from_module

COUNTED = ("conv", "depthwise_conv", "filter", "linear", "matmul")


def _counted_flops(graph) -> int:
    return sum(f for n, f in zip(graph.nodes, graph.node_flops(), strict=True) if n.op in COUNTED)


def _torch_flops(module: nn.Module, shape: tuple[int, ...]) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(torch.zeros(1, *shape))
    return counter.get_total_flops()


class FeatureMapIdioms(nn.Module):
    """What the CNN lowering folds or keeps small, on a feature map."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return torch.cat([1 / (y.abs() + 1), y * 1.0 + 0, y.chunk(2, 1)[1]], 1)


def test_feature_maps_keep_the_cnn_lowering_where_both_know_a_call():
    g = from_module(FeatureMapIdioms(), (4, 8, 8))
    ops = g.op_histogram()
    assert ops["slice"] == 1 and ops["reciprocal"] == 1 and "scale" not in ops


class PendingOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).view(1, 2, 2, 8, 8).transpose(1, 2).reshape(1, 2, 2, 64)


def test_a_reshape_pending_at_the_output_gives_the_output_its_shape():
    g = from_module(PendingOutput(), (4, 8, 8))
    assert g.output_shape == (2, 2, 64)


class TableMlp(nn.Module):
    """Swin V2's continuous position bias: an MLP over a constant table, gathered by index."""

    def __init__(self, heads: int = 2, tokens: int = 4) -> None:
        super().__init__()
        side = torch.arange(-tokens + 1, tokens, dtype=torch.float32)
        self.register_buffer("table", side[:, None].repeat(1, 2))  # (2L - 1, 2)
        index = torch.arange(tokens)[:, None] - torch.arange(tokens)[None, :] + tokens - 1
        self.register_buffer("index", index.reshape(-1))
        self.mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, heads))
        self.qkv = nn.Linear(8, 24)
        self.heads, self.tokens = heads, tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)  # (1, L, 8)
        q, k, v = self.qkv(tokens).reshape(1, self.tokens, 3, self.heads, 4).permute(2, 0, 3, 1, 4)
        bias = self.mlp(self.table)[self.index].view(self.tokens, self.tokens, self.heads)
        scores = q @ k.transpose(-2, -1) + bias.permute(2, 0, 1)
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(1, self.tokens, 8)


def test_weighted_work_on_owned_tensors_is_lowered_and_counted():
    net = TableMlp()
    g = from_module(net, (8, 2, 2))
    assert g.params == sum(p.numel() for p in net.parameters())
    assert _counted_flops(g) == _torch_flops(net, (8, 2, 2))
    gather = next(i for i, n in enumerate(g.nodes) if n.op == "gather")
    assert [g.nodes[p].op for p in g.predecessors(gather)][1] == "constant"  # the index


class EinsumLookup(nn.Module):
    """MaxViT's one-hot einsum lookup of a relative-position table (owned tensors only)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(3, 7))
        self.register_buffer("lookup", torch.randn(4, 4, 7))
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = torch.einsum("nh,ixh->nix", self.table, self.lookup)  # (3, 4, 4)
        return self.conv(x) + bias[None]


def test_einsum_products_of_any_index_layout():
    net = EinsumLookup()
    g = from_module(net, (3, 4, 4))
    assert "matmul" in g.op_histogram()
    assert _counted_flops(g) == _torch_flops(net, (3, 4, 4))
    assert g.params == sum(p.numel() for p in net.parameters())


class ScaledStdConv(nn.Module):
    """NFNet's scaled weight standardisation: a standardised kernel times a learned gain."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(6, 4, 3, 3))
        self.gain = nn.Parameter(torch.ones(6, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.batch_norm(self.weight.reshape(1, 6, -1), None, None, training=True, momentum=0.0)
        return F.conv2d(x, w.reshape_as(self.weight) * self.gain, padding=1)


def test_a_gain_on_a_standardised_kernel_is_its_own_mul():
    net = ScaledStdConv()
    g = from_module(net, (4, 8, 8))
    assert [n.op for n in g.nodes if n.op != "input"][:1] == ["conv"]
    assert "mul" in g.op_histogram() and g.params == 6 * 4 * 9 + 6
    assert _counted_flops(g) == _torch_flops(net, (4, 8, 8))


class BlurPool(nn.Module):
    """Anti-aliased downsampling: a fixed binomial kernel in a buffer, per channel."""

    def __init__(self, channels: int = 4) -> None:
        super().__init__()
        taps = torch.tensor([1.0, 2.0, 1.0])
        kernel = (taps[:, None] * taps[None, :]) / 16
        self.register_buffer("kernel", kernel[None, None].repeat(channels, 1, 1, 1))
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel, stride=2, padding=1, groups=self.channels)


def test_a_convolution_with_a_fixed_kernel_is_a_filter():
    net = BlurPool()
    g = from_module(net, (4, 8, 8))
    assert g.op_histogram()["filter"] == 1 and g.params == 0
    assert _counted_flops(g) == _torch_flops(net, (4, 8, 8))


class GroupStd(nn.Module):
    """EvoNorm's group statistics: a per-group std expanded back over the group and reshaped."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        grouped = y.reshape(1, 2, 4, 8, 8)
        std = grouped.var(dim=(2, 3, 4), keepdim=True).add(1e-5).sqrt()
        return y / std.expand(grouped.shape).reshape(1, 8, 8, 8)


def test_an_expanded_tensor_that_is_reshaped_is_an_expand_node():
    g = from_module(GroupStd(), (4, 8, 8))
    expand = next(n for n in g.nodes if n.op == "expand")
    assert expand.output_shape == (2, 4, 8, 8) and g.output_shape == (8, 8, 8)
