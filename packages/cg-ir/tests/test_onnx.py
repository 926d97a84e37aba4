"""cg_ir.onnx.from_onnx: ONNX exports of torch models give the graphs of from_module."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx  # pip install "cg-ir[onnx]"
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from cg_ir import ComputationGraph, families
from cg_ir.errors import (
    GraphSerializationError,
    ModelFileNotFoundError,
    UnsupportedOperatorError,
)
from cg_ir.fx import from_module
from cg_ir.onnx import from_onnx
from cg_ir.zoo import load_model

from . import zoo

# from_module's graph of cg_ir.nn.Zero has a zero node fed by the Zero's input; the export
# holds constant zeros with no edge from it (documented in cg_ir.onnx)
_ZERO_MODELS = {"slice-zero"}


def export(net: nn.Module, shape: tuple[int, ...], path: Path, dynamo: bool = False) -> Path:
    """``net`` exported so that every layer stays its own ONNX node (see cg_ir.onnx)."""
    net.eval()
    x = torch.randn(*(shape if len(shape) == 4 else (1, *shape)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            torch.onnx.export(net, (x,), str(path), dynamo=True, optimize=False, verbose=False)
        else:
            torch.onnx.export(
                net,
                (x,),
                str(path),
                dynamo=False,
                training=torch.onnx.TrainingMode.PRESERVE,
                do_constant_folding=False,
            )
    return path


def assert_same(expected: ComputationGraph, got: ComputationGraph) -> None:
    assert got.params == expected.params
    assert got.flops == expected.flops
    assert got.op_histogram() == expected.op_histogram()
    assert got.same_structure(expected)


# -- torch models: export, convert, compare --------------------------------------------------
@pytest.mark.parametrize("name", sorted(set(zoo.ZOO) - _ZERO_MODELS))
def test_zoo_export_matches_from_module(name: str, tmp_path: Path) -> None:
    factory, shape = zoo.ZOO[name]
    net = factory()
    got = from_onnx(export(net, shape, tmp_path / f"{name}.onnx"))
    assert_same(from_module(net, shape), got)


class ShuffleScale(nn.Module):
    """Channel shuffle (reshape/transpose), PReLU, a LayerScale parameter, reflection padding."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.PReLU(8)
        self.norm = nn.LayerNorm(8)
        self.gamma = nn.Parameter(torch.ones(8))
        self.pad = nn.ReflectionPad2d(1)
        self.conv2 = nn.Conv2d(8, 8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.conv(x))
        b, c, h, w = x.shape
        x = x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)
        y = self.norm(x.permute(0, 2, 3, 1)) * self.gamma
        x = self.conv2(self.pad(x + y.permute(0, 3, 1, 2)))
        return F.interpolate(x, scale_factor=2, mode="bilinear").softmax(1)


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_parameters_and_data_movement_match_from_module(dynamo: bool, tmp_path: Path) -> None:
    net = ShuffleScale()
    expected = from_module(net, (3, 8, 8))
    got = from_onnx(export(net, (3, 8, 8), tmp_path / "shuffle.onnx", dynamo))
    # both list the nodes in execution order: compare them as they are
    assert [n.features() for n in got.nodes] == [n.features() for n in expected.nodes]
    assert got.edges == expected.edges


def test_zero_module_export_loses_its_zero_nodes(tmp_path: Path) -> None:
    factory, shape = zoo.ZOO["slice-zero"]
    net = factory()
    expected = from_module(net, shape)
    got = from_onnx(export(net, shape, tmp_path / "slice-zero.onnx"))
    missing = Counter(expected.op_histogram()) - Counter(got.op_histogram())
    assert dict(missing) == {"zero": 2, "add": 2}  # x + Zero()(y) folds to x
    assert got.params == expected.params


_FAMILIES: list[tuple[str, bool]] = [("resnet", False), ("ofa-mbv3", False), ("nb201", True)]


@pytest.mark.parametrize(("family", "dynamo"), _FAMILIES)
def test_family_export_matches_to_cg(family: str, dynamo: bool, tmp_path: Path) -> None:
    fam = families.get(family)
    spec = fam.sample(np.random.default_rng(3))
    net = fam.to_module(spec)
    got = from_onnx(export(net, fam.input_shape(spec), tmp_path / "m.onnx", dynamo))
    assert_same(fam.to_cg(spec), got)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "dynamo"), [*_FAMILIES, ("nb301", True)])
@pytest.mark.parametrize("seed", range(3))
def test_family_samples_match(family: str, dynamo: bool, seed: int, tmp_path: Path) -> None:
    fam = families.get(family)
    spec = fam.sample(np.random.default_rng(seed))
    net = fam.to_module(spec)
    got = from_onnx(export(net, fam.input_shape(spec), tmp_path / "m.onnx", dynamo))
    assert_same(fam.to_cg(spec), got)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_nb101_samples_match_but_for_merged_slices(seed: int, tmp_path: Path) -> None:
    # torch.export cannot export nasbench_pytorch's networks (an assert on a buffer), and the
    # TorchScript exporter merges the identical channel slices (``truncate``) of one tensor
    fam = families.get("nb101")
    spec = fam.sample(np.random.default_rng(seed))
    expected = fam.to_cg(spec)
    got = from_onnx(export(fam.to_module(spec), fam.input_shape(spec), tmp_path / "m.onnx"))
    merged = Counter(expected.op_histogram()) - Counter(got.op_histogram())
    assert not Counter(got.op_histogram()) - Counter(expected.op_histogram())
    assert set(merged) <= {"slice"}
    assert got.params == expected.params
    if not merged:
        assert got.same_structure(expected)


def test_torchscript_exporter_merges_repeated_ops(tmp_path: Path) -> None:
    # DARTS cells apply ReLU to one tensor on several edges; the TorchScript exporter's common
    # subexpression elimination keeps one, the torch.export-based exporter keeps them all
    class TwoEdges(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 1))
            self.b = nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) + self.b(x)

    net = TwoEdges()
    merged = from_onnx(export(net, (4, 8, 8), tmp_path / "ts.onnx"))
    assert merged.op_histogram()["relu"] == 1
    assert from_module(net, (4, 8, 8)).op_histogram()["relu"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(zoo.ZOO) - _ZERO_MODELS))
def test_zoo_dynamo_export_matches_from_module(name: str, tmp_path: Path) -> None:
    factory, shape = zoo.ZOO[name]
    net = factory()
    got = from_onnx(export(net, shape, tmp_path / f"{name}.onnx", dynamo=True))
    assert_same(from_module(net, shape), got)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v3_small", "mobilenet_v2"])
def test_torchvision_export_matches_from_module(model: str, tmp_path: Path) -> None:
    net, shape = load_model(f"torchvision:{model}")
    got = from_onnx(export(net, shape, tmp_path / f"{model}.onnx"))
    assert_same(from_module(net, shape), got)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_older_opsets_fuse_activations_back(opset: int, tmp_path: Path) -> None:
    # GELU is written with Erf before opset 20, Hardswish as x * HardSigmoid(x) before 14
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.GELU(), nn.Conv2d(8, 8, 1), nn.SiLU(), nn.Hardswish(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4),
    )  # fmt: skip
    path = tmp_path / "old.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.eval(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False,
            opset_version=opset, do_constant_folding=False,
        )  # fmt: skip
    assert_same(from_module(net, (3, 8, 8)), from_onnx(path))


def test_default_export_fuses_batch_norm_into_conv(tmp_path: Path) -> None:
    net = nn.Sequential(nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU()).eval()
    path = tmp_path / "fused.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(1, 3, 8, 8),), str(path), dynamo=False)
    got = from_onnx(path)
    assert [n.op for n in got.nodes] == ["input", "conv", "relu", "output"]
    assert got.nodes[1].bias


def test_inputs_path_bytes_and_proto_agree(tmp_path: Path) -> None:
    factory, shape = zoo.ZOO["vgg"]
    path = export(factory(), shape, tmp_path / "vgg.onnx")
    by_path = from_onnx(path)
    assert from_onnx(str(path)) == by_path
    assert from_onnx(path.read_bytes()) == by_path
    assert from_onnx(onnx.load(str(path))) == by_path
    assert by_path.nodes[1].name == "features.0"


# -- hand-built ONNX models ------------------------------------------------------------------
def _init(name: str, shape: tuple[int, ...], value: float | None = None) -> onnx.TensorProto:
    rng = np.random.default_rng(0)
    data = rng.normal(size=shape) if value is None else np.full(shape, value)
    return numpy_helper.from_array(data.astype(np.float32), name)


def _model(
    nodes: list[onnx.NodeProto],
    input_shape: list[int | str],
    initializers: list[onnx.TensorProto],
    opset: int = 18,
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, input_shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "net", [x], [y], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_tensorflow_style_nhwc_model_converts() -> None:
    # tf2onnx: NHWC input, a Transpose to NCHW, SAME padding with stride 2 (uneven), Clip(0, 6),
    # back to NHWC, a spatial mean, Dense as MatMul + Add, Softmax
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["c"], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Clip", ["c", "lo", "hi"], ["r"]),
        helper.make_node("Transpose", ["r"], ["rt"], perm=[0, 2, 3, 1]),
        helper.make_node("ReduceMean", ["rt", "axes"], ["m"], keepdims=0),
        helper.make_node("MatMul", ["m", "fc"], ["mm"]),
        helper.make_node("Add", ["mm", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=-1),
    ]
    inits = [
        _init("w", (16, 3, 3, 3)),
        _init("lo", (), 0.0),
        _init("hi", (), 6.0),
        numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
        _init("fc", (16, 10)),
        _init("fc_b", (10,)),
    ]
    g = from_onnx(_model(nodes, ["batch", 32, 32, 3], inits))
    assert [n.op for n in g.nodes] == [
        "input", "pad_constant", "conv", "relu6", "global_avg_pool", "linear", "softmax", "output"
    ]  # fmt: skip
    assert g.input_shape == (3, 32, 32)
    pad, conv = g.nodes[1], g.nodes[2]
    assert pad.output_shape == (3, 33, 33) and pad.padding == (0, 0)
    assert conv.output_shape == (16, 16, 16) and conv.padding == (0, 0)
    assert g.params == 16 * 27 + 16 * 10 + 10


def test_data_movement_and_padding_ops_convert() -> None:
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], mode="reflect"),
        helper.make_node("Conv", ["p", "w"], ["c"], group=8),
        helper.make_node("Split", ["c", "split"], ["s0", "s1"], axis=1),
        helper.make_node("HardSigmoid", ["s1"], ["g"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["s1", "g"], ["hs"]),  # x * hardsigmoid(x): hardswish
        helper.make_node("Resize", ["s0", "", "scales"], ["u"], mode="nearest"),
        helper.make_node("MaxPool", ["u"], ["d"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Concat", ["d", "hs"], ["cat"], axis=1),
        helper.make_node("LeakyRelu", ["cat"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "pads"),
        _init("w", (8, 1, 3, 3)),
        numpy_helper.from_array(np.array([3, 5], np.int64), "split"),
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
    ]
    g = from_onnx(_model(nodes, [1, 8, 8, 8], inits))
    ops = [n.op for n in g.nodes]
    assert ops[:3] == ["input", "pad_reflect", "depthwise_conv"]
    assert Counter(ops)["slice"] == 2 and "hardswish" in ops and "sigmoid" not in ops
    assert {"upsample_nearest", "max_pool", "concat", "leaky_relu"} <= set(ops)
    assert g.output_shape == (8, 8, 8)


def test_unknown_op_names_op_and_node() -> None:
    nodes = [helper.make_node("LRN", ["x"], ["y"], size=3, name="/features/norm1/LRN")]
    with pytest.raises(UnsupportedOperatorError, match="'LRN' at 'features.norm1'") as info:
        from_onnx(_model(nodes, [1, 3, 8, 8], []))
    assert info.value.op == "LRN"
    assert "supported ops" in str(info.value)


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError, match="no ONNX file"):
        from_onnx(tmp_path / "absent.onnx")


@pytest.mark.parametrize(
    "content", [b"", b"not an onnx model at all", b"\x08\x07\x12\x03abc\x3a\xff\xff\xff"]
)
def test_corrupt_content_raises(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(GraphSerializationError, match="bad.onnx"):
        from_onnx(path)


def test_truncated_file_raises(tmp_path: Path) -> None:
    factory, shape = zoo.ZOO["vgg"]
    data = export(factory(), shape, tmp_path / "vgg.onnx").read_bytes()
    with pytest.raises(GraphSerializationError):
        from_onnx(data[: len(data) // 2])


def test_two_inputs_are_rejected() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph([helper.make_node("Add", ["x", "z"], ["y"])], "g", [x, z], [y])
    with pytest.raises(UnsupportedOperatorError, match="2 inputs"):
        from_onnx(helper.make_model(graph))


def test_name_is_noted_on_errors() -> None:
    nodes = [helper.make_node("LRN", ["x"], ["y"], size=3)]
    with pytest.raises(UnsupportedOperatorError) as info:
        from_onnx(_model(nodes, [1, 3, 8, 8], []), name="my-net")
    assert "my-net" in "".join(getattr(info.value, "__notes__", []))


# -- transformers ------------------------------------------------------------------------------
class TinyViT(nn.Module):
    """A ViT in miniature: patches, class token, position embedding, batch-first attention."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 5, dim))
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        x = x + self.mlp(self.norm2(x))
        return self.head(x[:, 0])


class TinySDPA(nn.Module):
    """Attention written out with F.scaled_dot_product_attention on (B, heads, L, d) tensors."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


def test_vit_export_matches_from_module(tmp_path: Path) -> None:
    net = TinyViT()
    got = from_onnx(export(net, (3, 8, 8), tmp_path / "vit.onnx"))
    assert_same(from_module(net, (3, 8, 8)), got)
    assert got.params == sum(p.numel() for p in net.parameters())


def test_sdpa_export_converts_with_the_model_params(tmp_path: Path) -> None:
    net = TinySDPA()
    got = from_onnx(export(net, (6, 16), tmp_path / "sdpa.onnx"))
    assert got.params == sum(p.numel() for p in net.parameters())
    ops = [n.op for n in got.nodes]
    assert ops.count("matmul") == 2 and ops.count("softmax") == 1 and ops.count("linear") == 2


class TinySwin(nn.Module):
    """Swin's ingredients: channels-last map, roll, windows, a gathered relative-bias table."""

    def __init__(self, dim: int = 8, heads: int = 2, window: int = 2) -> None:
        super().__init__()
        self.window, self.heads = window, heads
        self.patch = nn.Conv2d(3, dim, 2, stride=2)
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        index = torch.arange(window**2 * window**2) % self.table.shape[0]
        self.register_buffer("index", index)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.patch(x).permute(0, 2, 3, 1))
        b, h, w, c = x.shape
        n, s = self.window, self.window // 2
        y = F.pad(x, (0, 0, 0, 0, 0, 0))
        y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = y.view(b, h // n, n, w // n, n, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, n * n, c)
        qkv = self.qkv(y).reshape(y.shape[0], n * n, 3, self.heads, c // self.heads)
        qkv = qkv.permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.table[self.index].view(n * n, n * n, -1).permute(2, 0, 1).unsqueeze(0)
        attn = (q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1) + bias
        y = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(y.shape[0], n * n, c))
        y = y.view(b, h // n, w // n, n, n, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)
        x = x + torch.roll(y, shifts=(s, s), dims=(1, 2))
        return self.head(self.pool(x.permute(0, 3, 1, 2)).flatten(1))


def test_swin_export_matches_from_module(tmp_path: Path) -> None:
    net = TinySwin()
    got = from_onnx(export(net, (3, 8, 8), tmp_path / "swin.onnx"))
    assert_same(from_module(net, (3, 8, 8)), got)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["vit_b_32", "swin_t", "maxvit_t"])
def test_torchvision_transformer_export_matches_from_module(model: str, tmp_path: Path) -> None:
    from cg_ir.zoo import load_model

    net, shape = load_model(f"torchvision:{model}")
    got = from_onnx(export(net, shape, tmp_path / f"{model}.onnx"))
    assert_same(from_module(net, shape), got)


def test_a_mean_over_the_channels_is_reduce_mean() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    graph = helper.make_graph([node], "mean", [x], [y], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    g = from_onnx(model)
    assert [n.op for n in g.nodes] == ["input", "reduce_mean", "output"]


# -- what timm's CNNs export to: ops and patterns lowered as torch.fx lowers them -------------
class EcaGate(nn.Module):
    """ECA attention (timm's EcaModule): a Conv1d across the channel means, expand_as."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        y = self.eca(x.mean((2, 3)).view(x.shape[0], 1, -1))
        return x * y.sigmoid().view(x.shape[0], -1, 1, 1).expand_as(x)


class SplitAttention(nn.Module):
    """SKNet/ResNeSt: stacked paths summed, a radix softmax over a 4-D view, a weighted sum."""

    def __init__(self) -> None:
        super().__init__()
        self.paths = nn.ModuleList([nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 1)])
        self.fc = nn.Conv2d(8, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = torch.stack([p(x) for p in self.paths], dim=1)
        attn = self.fc(paths.sum(1).mean((2, 3), keepdim=True))
        attn = attn.view(x.shape[0], 1, 2, -1).transpose(1, 2).softmax(1).reshape(x.shape[0], -1)
        return (paths * attn.reshape(x.shape[0], 2, 8, 1, 1)).sum(dim=1)


class StarNorms(nn.Module):
    """StarReLU (learned scalars, x ** 2), weight-only norms, rsqrt, torch.var, norms, pow."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.s = nn.Parameter(torch.ones(1))
        self.b = nn.Parameter(torch.zeros(1))
        self.ln = nn.LayerNorm(8, bias=False)
        self.gn_weight = nn.Parameter(torch.ones(8))
        self.gamma = nn.Parameter(torch.ones(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.s * F.relu(x) ** 2 + self.b + x.abs().pow(0.5)
        x = self.ln(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x = F.group_norm(x, 1, self.gn_weight)
        x = x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-5)
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)
        x = x + self.gamma.view(1, -1, 1, 1) * x * (gx / (gx.mean(1, keepdim=True) + 1e-6))
        return x / x.var(dim=(2, 3), keepdim=True).add(1e-5).sqrt()


class Cosine(nn.Module):
    """Cosine similarity of tokens (Swin V2's attention): F.normalize, a matmul."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(8, 8)
        self.k = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.flatten(2).transpose(1, 2)
        q, k = F.normalize(self.q(t), dim=-1), F.normalize(self.k(t), dim=-1)
        return (q @ k.transpose(-2, -1)).softmax(-1)


class BlurGain(nn.Module):
    """A blur filter in a buffer (timm's BlurPool2d) and NFNet's gained standardised conv."""

    def __init__(self) -> None:
        super().__init__()
        blur = torch.tensor([1.0, 2.0, 1.0])
        kernel = (blur[:, None] * blur[None, :]) / 16
        self.register_buffer("filt", kernel[None, None].repeat(3, 1, 1, 1), persistent=False)
        self.weight = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.gain = nn.Parameter(torch.ones(8, 1, 1, 1))
        self.skip_gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), self.filt, stride=2, groups=3)
        w = F.batch_norm(
            self.weight.reshape(1, 8, -1), None, None,
            weight=(self.gain * 27**-0.5).view(-1), training=True, momentum=0.0, eps=1e-6,
        ).reshape_as(self.weight)  # fmt: skip
        y = F.conv2d(x, w, padding=1)
        return y * self.skip_gain + y


class PaddedGroupNorm(nn.Module):
    """BiT's stem: ConstantPad2d (ONNX shape inference stops at its computed pads), SiLU,
    GroupNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.pad = nn.ConstantPad2d(1, 0.0)
        self.norm = nn.GroupNorm(2, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.silu(self.pad(self.conv(x))))


class AttentionPool(nn.Module):
    """CLIP's attention pool: a mean token, separate q, k, v projections, SDPA, AdaptiveAvgPool."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.pos = nn.Parameter(torch.zeros(5, 8))
        self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.proj = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        x = self.pool(x).flatten(2).transpose(1, 2)
        x = torch.cat([x.mean(1, keepdim=True), x], dim=1) + self.pos.unsqueeze(0)
        q = self.q(x).reshape(b, 5, 2, 4).transpose(1, 2)
        k = self.k(x).reshape(b, 5, 2, 4).transpose(1, 2)
        v = self.v(x).reshape(b, 5, 2, 4).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, 5, 8))[:, 0]


@pytest.mark.parametrize(
    ("net", "shape"),
    [
        (EcaGate, (3, 8, 8)),
        (SplitAttention, (3, 8, 8)),
        (StarNorms, (3, 8, 8)),
        (Cosine, (8, 4, 4)),
        (BlurGain, (3, 8, 8)),
        (PaddedGroupNorm, (3, 8, 8)),
        (AttentionPool, (8, 4, 4)),
    ],
)
def test_cnn_building_blocks_match_from_module(
    net: type[nn.Module], shape: tuple[int, ...], tmp_path: Path
) -> None:
    module = net()
    got = from_onnx(export(module, shape, tmp_path / "m.onnx"))
    assert_same(from_module(module, shape), got)


def test_blur_filter_and_gain_keep_the_learned_parameters(tmp_path: Path) -> None:
    module = BlurGain()
    got = from_onnx(export(module, (3, 8, 8), tmp_path / "m.onnx"))
    assert got.params == sum(p.numel() for p in module.parameters())
    assert [n.op for n in got.nodes].count("filter") == 1
