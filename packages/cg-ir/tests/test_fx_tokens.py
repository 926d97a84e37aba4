"""Token tensors and attention in from_module: generic layouts, exact params and FLOPs.

FLOPs of conv/linear/matmul nodes are compared with torch's FlopCounterMode, with
scaled-dot-product attention forced to its math backend (the fused CPU kernels are not counted
by FlopCounterMode; the math backend runs the two bmm it is made of). Conversions run the
models on meta tensors only; the reference count runs them on zeros.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import ComputationGraph, UnsupportedOperatorError, from_module
from cg_ir.zoo import load_model

from .module_checks import WEIGHTED_WITH_MATMUL, Lambda, inner_ops, trainable_params


def counted_flops(module: nn.Module, shape: tuple[int, ...]) -> int:
    # with gradients enabled: under no_grad nn.MultiheadAttention takes a fused path whose
    # FLOPs FlopCounterMode does not count
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, *shape))
    return int(counter.get_total_flops())


def assert_exact(module: nn.Module, shape: tuple[int, ...] = (3, 32, 32)) -> ComputationGraph:
    """Convert ``module`` and check params and conv/linear/matmul FLOPs against torch."""
    module.eval()
    graph = from_module(module, shape)
    assert graph.params == trainable_params(module)
    assert sum(n.flops for n in graph.nodes if n.op in WEIGHTED_WITH_MATMUL) == counted_flops(
        module, shape
    )
    return graph


# -- generic layouts -----------------------------------------------------------------------------
def shuffle(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
    return F.relu(x)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        # channel shuffle: the element order changes, so it is not a fold
        (shuffle, ["reshape", "transpose", "reshape", "relu"]),
        # patch embedding: (C, H, W) -> (C, HW) -> tokens (HW, C)
        (lambda x: x.flatten(2).transpose(1, 2).relu(), ["reshape", "transpose", "relu"]),
        # a channels-last map as tokens: NHWC's element order is (H, W, C)
        (
            lambda x: x.permute(0, 2, 3, 1).reshape(1, -1, 4).relu(),
            ["transpose", "reshape", "relu"],
        ),
        # NCHW <-> NHWC and squeeze/unsqueeze still fold
        (
            lambda x: x.permute(0, 2, 3, 1).permute(0, 3, 1, 2).unsqueeze(0).squeeze(0).relu(),
            ["relu"],
        ),
        # a chain of views costs one reshape
        (lambda x: x.view(1, 4, 64).view(1, 4, 8, 8).relu(), ["relu"]),
        (lambda x: x.view(1, 4, 64).view(1, 2, 128).view(1, 256, 1).relu(), ["reshape", "relu"]),
        # a permute that only moves size-1 axes is a view
        (lambda x: x.flatten(2).unsqueeze(1).transpose(0, 1).relu(), ["reshape", "relu"]),
    ],
)
def test_generic_data_movement(fn: Any, expected: list[str]) -> None:
    assert inner_ops(from_module(Lambda(fn), (4, 8, 8))) == expected


def test_recorded_shapes_of_tokens() -> None:
    graph = from_module(Lambda(lambda x: x.flatten(2).transpose(1, 2).relu()), (4, 8, 8))
    reshape, transpose, relu = graph.nodes[1:4]
    assert (reshape.input_shape, reshape.output_shape) == ((4, 8, 8), (4, 64))
    assert (transpose.input_shape, transpose.output_shape) == ((4, 64), (64, 4))
    assert relu.output_shape == graph.output_shape == (64, 4)


def test_slices_of_tokens_and_feature_maps() -> None:
    graph = from_module(Lambda(lambda x: x[:, :, 1::2, :3].relu()), (4, 8, 8))
    (cut,) = (n for n in graph.nodes if n.op == "slice")
    assert (cut.input_shape, cut.output_shape) == ((4, 8, 8), (4, 4, 3))
    assert (cut.stride, cut.padding) == ((2, 1), (1, 0))
    tokens = from_module(Lambda(lambda x: x.flatten(2).transpose(1, 2)[:, 0].relu()), (4, 8, 8))
    assert inner_ops(tokens) == ["reshape", "transpose", "slice", "reshape", "relu"]
    assert tokens.output_shape == (4, 1, 1)


# -- hand-written transformer blocks -------------------------------------------------------------
class Attention(nn.Module):
    """timm-style attention: one qkv linear, heads by reshape/permute/unbind."""

    def __init__(self, dim: int = 32, heads: int = 4, fused: bool = False) -> None:
        super().__init__()
        self.heads, self.fused = heads, fused
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.scale = (dim // heads) ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.fused:
            x = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        else:
            q, k, v = qkv.unbind(0)
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            x = attn @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class TinyViT(nn.Module):
    """Patch embedding, class token, position embedding, one block with layer scale."""

    def __init__(self, attention: nn.Module, dim: int = 32) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = attention
        self.mlp = nn.Sequential(nn.Linear(dim, 64), nn.GELU(), nn.Linear(64, dim))
        self.gamma = nn.Parameter(torch.ones(dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = x + self.attention(self.norm1(x))
        x = x + self.gamma * self.mlp(self.norm2(x))
        return self.head(x[:, 0])


def test_tiny_vit_is_exact() -> None:
    graph = assert_exact(TinyViT(Attention()))
    found = inner_ops(graph)
    assert found.count("parameter") == 3  # cls token, position embedding, layer scale
    assert found.count("matmul") == 2 and "softmax" in found and "scale" in found
    concat = next(n for n in graph.nodes if n.op == "concat")
    assert concat.output_shape == (17, 32)
    scores = next(n for n in graph.nodes if n.op == "matmul")
    assert (scores.input_shape, scores.output_shape, scores.in_channels) == (
        (4, 17, 8),
        (4, 17, 17),
        8,
    )


def test_scaled_dot_product_attention_is_exact() -> None:
    graph = assert_exact(TinyViT(Attention(fused=True)))
    assert inner_ops(graph).count("matmul") == 2


class MultiheadBlock(nn.Module):
    def __init__(self, batch_first: bool, cross: bool) -> None:
        super().__init__()
        self.batch_first, self.cross = batch_first, cross
        self.patch = nn.Conv2d(3, 32, 8, 8)
        self.memory = nn.Conv2d(3, 16, 16, 16) if cross else nn.Identity()
        kdim = 16 if cross else None
        self.attention = nn.MultiheadAttention(32, 4, batch_first=batch_first, kdim=kdim, vdim=kdim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.patch(x).flatten(2).transpose(1, 2)  # (1, 16, 32)
        keys = self.memory(x).flatten(2).transpose(1, 2) if self.cross else tokens  # (1, 4, 16)
        if not self.batch_first:
            tokens, keys = tokens.transpose(0, 1), keys.transpose(0, 1)
        y, _ = self.attention(tokens, keys, keys, need_weights=False)
        return y


@pytest.mark.parametrize(("batch_first", "cross"), [(True, False), (False, False), (True, True)])
def test_multihead_attention_is_exact(batch_first: bool, cross: bool) -> None:
    graph = assert_exact(MultiheadBlock(batch_first, cross))
    assert graph.output_shape == (16, 32)
    assert inner_ops(graph).count("linear") == (4 if cross else 2)
    assert inner_ops(graph).count("matmul") == 2
    scores = next(n for n in graph.nodes if n.op == "matmul")
    assert scores.output_shape == (4, 16, 4 if cross else 16)


def test_einsum_attention_is_exact() -> None:
    class Einsum(Attention):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            attn = torch.einsum("bhid,bhjd->bhij", q, k).softmax(-1)
            x = torch.einsum("bhij,bhjd->bhid", attn, v)
            return self.proj(x.transpose(1, 2).reshape(b, n, c))

    graph = assert_exact(TinyViT(Einsum()))
    assert inner_ops(graph).count("matmul") == 2


def test_normalize_and_channels_last_padding() -> None:
    cosine = from_module(Lambda(lambda x: F.normalize(x.flatten(2), dim=-1)), (4, 8, 8))
    assert inner_ops(cosine) == ["reshape", "mul", "reduce_sum", "sqrt", "div"]
    padded = from_module(
        Lambda(lambda x: F.pad(x.flatten(2).transpose(1, 2).view(1, 8, 8, 4), (0, 0, 0, 2, 0, 1))),
        (4, 8, 8),
    )
    pad = next(n for n in padded.nodes if n.op == "pad_constant")
    assert (pad.input_shape, pad.output_shape, pad.padding) == ((4, 8, 8), (4, 9, 10), (0, 0))


class WindowAttention(nn.Module):
    """Swin-style: cyclic shift, window partition, relative position bias, mask, reverse."""

    index: torch.Tensor
    mask: torch.Tensor

    def __init__(self, dim: int = 16, heads: int = 2, window: int = 4) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        )
        relative = (coords.flatten(1)[:, :, None] - coords.flatten(1)[:, None, :]).permute(1, 2, 0)
        index = (relative[..., 0] + window - 1) * (2 * window - 1) + relative[..., 1] + window - 1
        self.register_buffer("index", index.flatten())
        self.register_buffer("mask", torch.zeros(4, window * window, window * window))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        shortcut = x
        b, h, w, c = x.shape
        ws, n = self.window, self.window * self.window
        x = torch.roll(self.norm(x), shifts=(-2, -2), dims=(1, 2))
        x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, n, c)
        qkv = self.qkv(x).reshape(-1, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1) * (c // self.heads) ** -0.5
        bias = self.table[self.index].view(n, n, -1).permute(2, 0, 1).contiguous()
        attn = attn + bias.unsqueeze(0) + self.mask.unsqueeze(1)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, n, c)
        x = self.proj(x).view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
        x = torch.roll(x.reshape(b, h, w, c), shifts=(2, 2), dims=(1, 2))
        return (shortcut + x).permute(0, 3, 1, 2)


def test_window_attention_is_exact() -> None:
    graph = assert_exact(WindowAttention(), (16, 8, 8))
    found = inner_ops(graph)
    assert found.count("roll") == 2 and found.count("matmul") == 2
    assert "gather" in found and "constant" in found
    assert graph.output_shape == (16, 8, 8)
    scores = next(n for n in graph.nodes if n.op == "matmul")
    assert scores.output_shape == (4, 2, 16, 16)  # windows, heads, tokens, tokens


class LayerNorm2d(nn.LayerNorm):
    """timm/torchvision style: F.layer_norm on the permuted map with the module's weights."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias)
        return x.permute(0, 3, 1, 2)


def test_layer_norm_over_channels_via_permutes() -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3), LayerNorm2d(8), nn.Conv2d(8, 8, 1))
    graph = assert_exact(net)
    assert inner_ops(graph) == ["conv", "layer_norm", "conv"]
    assert graph.nodes[2].affine


def test_layer_norm_without_bias_is_a_norm_and_a_parameter_product() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 8, 8),
        nn.Flatten(2),
        Lambda(lambda x: x.transpose(1, 2)),
        nn.LayerNorm(8, bias=False),
    )
    graph = assert_exact(net)
    assert inner_ops(graph)[-3:] == ["layer_norm", "parameter", "mul"]


class ShapeBranchingBlock(nn.Module):
    """MobileViT-style: unfold to patches only after resizing when the size needs it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.SiLU())
        self.attention = Attention(16, 2)
        self.norm = nn.LayerNorm(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        b, c, h, w = x.shape
        if h % 2 or w % 2:  # fx cannot trace a branch on a shape
            x = F.interpolate(x, size=(h + h % 2, w + w % 2), mode="bilinear")
        p = 4  # 2x2 patches: (B, C, H, W) -> (B * 4, N, C)
        x = x.reshape(b * c * (h // 2), 2, w // 2, 2).transpose(1, 2)
        x = x.reshape(b, c, -1, p).transpose(1, 3).reshape(b * p, -1, c)
        x = self.norm(x + self.attention(x))
        x = x.reshape(b, p, -1, c).transpose(1, 3).reshape(b * c * (h // 2), w // 2, 2, 2)
        return x.transpose(1, 2).reshape(b, c, h, w)


def test_leaf_module_lowered_at_concrete_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    from cg_ir.fx import _attention

    calls = (*_attention.ATTENTION_CALLS, (ShapeBranchingBlock, _attention.inline_module))
    monkeypatch.setattr(_attention, "ATTENTION_CALLS", calls)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), ShapeBranchingBlock(), nn.Conv2d(16, 4, 1))
    net.eval()
    graph = from_module(net, (3, 8, 8), leaf_modules=(ShapeBranchingBlock,))
    assert graph.params == sum(p.numel() for p in net.parameters())
    weighted = sum(n.flops for n in graph.nodes if n.op in WEIGHTED_WITH_MATMUL)
    assert weighted == counted_flops(net, (3, 8, 8))
    names = {n.name for n in graph.nodes if n.op in ("batch_norm", "matmul")}
    assert names == {"1"}  # every node inside is named by the leaf's path
    assert [n.op for n in graph.nodes].count("matmul") == 2


# -- errors ------------------------------------------------------------------------------------
@contextlib.contextmanager
def raises_unsupported(match: str) -> Iterator[None]:
    with pytest.raises(UnsupportedOperatorError, match=match):
        yield


def test_causal_attention_is_reported() -> None:
    fn = Lambda(lambda x: F.scaled_dot_product_attention(x, x, x, is_causal=True))
    with raises_unsupported("is_causal"):
        from_module(fn, (4, 8, 8))


def test_advanced_indexing_of_tokens_is_reported() -> None:
    class Pick(nn.Module):
        order: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("order", torch.tensor([1, 0]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.flatten(2)[:, self.order]

    with raises_unsupported("basic indexing"):
        from_module(Pick(), (4, 8, 8))


# -- transformer and hybrid zoo models -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "torchvision:vit_b_16",  # nn.MultiheadAttention, class token, position embedding
        "torchvision:swin_t",  # fx-wrapped shifted_window_attention, lowered at its shapes
        "torchvision:maxvit_t",  # block/grid partition, einsum attention
        "torchvision:convnext_tiny",  # LayerNorm2d by permutes, layer scale
        "timm:vit_tiny_patch16_224",  # fused SDPA attention
        "timm:swin_tiny_patch4_window7_224",  # window partition/reverse, roll, bias gather
        "timm:efficientformer_l1",  # Meta4D/Meta3D, attention biases
        "timm:convnext_tiny",
    ],
)
def test_zoo_transformers_are_exact(name: str) -> None:
    model, shape = load_model(name)
    assert_exact(model, shape)
