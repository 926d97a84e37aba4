"""Random small CNNs from a hypothesis strategy convert exactly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import ComputationGraph
from cg_ir.fx import from_module

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh, "hardsigmoid": nn.Hardsigmoid,
}  # fmt: skip


@dataclass(frozen=True)
class Block:
    kind: str  # conv | residual | concat | se | pool
    width: int
    kernel: int
    stride: int
    dilation: int
    groups: str  # one | two | depthwise
    act: str
    bias: bool
    norm: bool


blocks = st.builds(
    Block,
    kind=st.sampled_from(["conv", "residual", "concat", "se", "pool"]),
    width=st.sampled_from([4, 6, 8, 12]),
    kernel=st.sampled_from([1, 3, 5]),
    stride=st.sampled_from([1, 2]),
    dilation=st.sampled_from([1, 1, 2]),
    groups=st.sampled_from(["one", "two", "depthwise"]),
    act=st.sampled_from(sorted(ACTIVATIONS)),
    bias=st.booleans(),
    norm=st.booleans(),
)


def conv(c_in: int, b: Block, c_out: int, stride: int) -> nn.Sequential:
    groups = {"one": 1, "two": 2 if c_in % 2 == 0 and c_out % 2 == 0 else 1}.get(b.groups, c_in)
    if b.groups == "depthwise":
        c_out = c_in * max(1, c_out // c_in)
    pad = b.dilation * (b.kernel // 2)
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, b.kernel, stride, pad, b.dilation, groups, bias=b.bias)
    ]
    if b.norm:
        layers.append(nn.BatchNorm2d(c_out))
    return nn.Sequential(*layers, ACTIVATIONS[b.act]())


class Unit(nn.Module):
    def __init__(self, c_in: int, b: Block, size: int) -> None:
        super().__init__()
        self.kind = b.kind
        stride = b.stride if size >= 4 else 1
        if b.kind == "conv":
            self.body = conv(c_in, b, b.width, stride)
        elif b.kind == "residual":
            first = conv(c_in, b, b.width, stride)
            c = first[0].out_channels  # depthwise: a multiple of c_in
            self.body = nn.Sequential(first, nn.Conv2d(c, c, 3, 1, 1))
            short = stride != 1 or c_in != c
            self.short = nn.Conv2d(c_in, c, 1, stride) if short else nn.Identity()
            self.act = ACTIVATIONS[b.act]()
        elif b.kind == "concat":
            self.body = conv(c_in, b, b.width, stride)
            self.side = nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.Conv2d(c_in, 4, 1))
        elif b.kind == "se":
            self.body = nn.Sequential(
                nn.AdaptiveAvgPool2d(1),
                nn.Conv2d(c_in, 4, 1),
                nn.ReLU(),
                nn.Conv2d(4, c_in, 1),
                ACTIVATIONS[b.act](),
            )
        else:
            window = max(stride, min(b.kernel, 3))
            pool = nn.MaxPool2d if b.bias else nn.AvgPool2d
            self.body = pool(window, stride, window // 2)  # type: ignore[assignment]
        with torch.no_grad():
            self.out_shape = self(torch.zeros(1, c_in, size, size)).shape[1:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "residual":
            return self.act(self.body(x) + self.short(x))
        if self.kind == "concat":
            return torch.cat([self.body(x), self.side(x)], dim=1)
        if self.kind == "se":
            return x * self.body(x)
        return self.body(x)  # type: ignore[no-any-return]


class RandomNet(nn.Module):
    def __init__(self, channels: int, size: int, spec: list[Block], flat_head: bool) -> None:
        super().__init__()
        self.input = (channels, size)
        units = []
        c, h = channels, size
        for b in spec:
            unit = Unit(c, b, h)
            units.append(unit)
            c, h = unit.out_shape[0], unit.out_shape[1]
        self.units = nn.Sequential(*units)
        self.flat_head = flat_head
        self.head = nn.Linear(c * h * h if flat_head else c, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.units(x)
        x = x.flatten(1) if self.flat_head else x.mean((2, 3))
        return self.head(x)


nets = st.builds(
    RandomNet,
    channels=st.sampled_from([1, 3, 4]),
    size=st.sampled_from([5, 8, 12]),
    spec=st.lists(blocks, min_size=1, max_size=5),
    flat_head=st.booleans(),
)


@pytest.mark.property
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=nets)
def test_random_cnn_converts_exactly(net: RandomNet) -> None:
    c_in, size = net.input
    graph = from_module(net, (c_in, size, size))
    assert graph.params == sum(p.numel() for p in net.parameters() if p.requires_grad)
    net.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.randn(1, c_in, size, size))
    weighted = sum(
        f
        for n, f in zip(graph.nodes, graph.node_flops(), strict=True)
        if n.op in ("conv", "depthwise_conv", "linear")
    )
    assert weighted == counter.get_total_flops()
    assert ComputationGraph.from_json(graph.to_json()) == graph
    again = from_module(net, (1, c_in, size, size))
    assert again == graph and again.canonical_hash() == graph.canonical_hash()
