"""Every zoo network converts: valid graph, exact parameters and conv/linear FLOPs, stable hash."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import ComputationGraph
from cg_ir.fx import from_module

WEIGHTED = ("conv", "depthwise_conv", "linear")


def load_zoo() -> ModuleType:
    # --import-mode=importlib puts no test folder on sys.path: load the sibling file by path
    name = "cg_ir_fx_test_zoo"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("zoo.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ZOO = load_zoo().ZOO  # parametrize needs the names when pytest collects this module


def trainable(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def counted_flops(module: torch.nn.Module, shape: tuple[int, ...]) -> int:
    module.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(1, *shape[-3:]))
    return int(counter.get_total_flops())


def weighted_flops(graph: ComputationGraph) -> int:
    return sum(f for n, f in zip(graph.nodes, graph.node_flops(), strict=True) if n.op in WEIGHTED)


@pytest.fixture(scope="module")
def converted() -> dict[str, tuple[torch.nn.Module, ComputationGraph]]:
    torch.manual_seed(0)
    out = {}
    for name, (factory, shape) in ZOO.items():
        module = factory()
        out[name] = (module, from_module(module, shape))
    return out


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_network_converts_exactly(
    name: str, converted: dict[str, tuple[torch.nn.Module, ComputationGraph]]
) -> None:
    module, graph = converted[name]
    shape = ZOO[name][1]
    assert graph.nodes[0].op == "input" and graph.nodes[0].output_shape == tuple(shape[-3:])
    assert graph.params == trainable(module)
    assert weighted_flops(graph) == counted_flops(module, shape)
    assert ComputationGraph.from_json(graph.to_json()) == graph
    with torch.no_grad():
        out = module.eval()(torch.zeros(1, *shape[-3:]))
    c, h, w = graph.output_shape
    assert out.numel() == c * h * w


@pytest.mark.parametrize("name", sorted(ZOO))
def test_same_module_traced_twice_hashes_equal(
    name: str, converted: dict[str, tuple[torch.nn.Module, ComputationGraph]]
) -> None:
    module, graph = converted[name]
    again = from_module(module, ZOO[name][1])
    assert again == graph
    assert again.canonical_hash() == graph.canonical_hash()


def test_zoo_networks_hash_apart(
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    hashes = {name: g.canonical_hash() for name, (_, g) in converted.items()}
    assert len(set(hashes.values())) == len(hashes)


def test_node_names_are_module_paths(
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    module, graph = converted["resnet-basic"]
    paths = dict(module.named_modules())
    for node in graph.nodes:
        if node.op in ("conv", "batch_norm", "linear"):
            assert node.name in paths
    adds = [n.name for n in graph.nodes if n.op == "add"]
    assert adds and all(isinstance(paths[name], torch.nn.Module) for name in adds)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("convnext", {"layer_norm": 7, "linear": 9, "gelu": 4, "depthwise_conv": 4}),
        ("mobilenet-v3", {"hardsigmoid": 3, "mul": 3, "hardswish": 7}),
        ("efficientnet", {"silu": 10, "sigmoid": 3, "mul": 3}),
        ("unet", {"upsample_bilinear": 1, "upsample_nearest": 1, "concat": 2}),
        ("inception", {"concat": 2, "group_norm": 2, "global_max_pool": 1, "avg_pool": 1}),
        ("slice-zero", {"zero": 2, "slice": 1, "concat": 1}),
        ("functional", {"relu6": 2, "hardswish": 1, "hardsigmoid": 1, "tanh": 2, "gelu": 1}),
    ],
)
def test_zoo_op_counts(
    name: str,
    expected: dict[str, int],
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    histogram = converted[name][1].op_histogram()
    assert {op: histogram.get(op, 0) for op in expected} == expected


def test_vgg_linear_sees_the_unflattened_map(
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    graph = converted["vgg"][1]
    first = next(n for n in graph.nodes if n.op == "linear")
    assert first.input_shape == (16, 4, 4)
    assert (first.in_channels, first.out_channels, first.output_shape) == (256, 64, (64, 1, 1))


def test_convnext_linear_is_per_position(
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    graph = converted["convnext"][1]
    first = next(n for n in graph.nodes if n.op == "linear")
    assert (first.input_shape, first.output_shape) == ((16, 8, 8), (64, 8, 8))
    assert first.in_channels == 16


def test_slice_zero_shapes(
    converted: dict[str, tuple[torch.nn.Module, ComputationGraph]],
) -> None:
    graph = converted["slice-zero"][1]
    zeros = [(n.input_shape, n.output_shape) for n in graph.nodes if n.op == "zero"]
    assert zeros == [((16, 16, 16), (24, 8, 8)), ((32, 8, 8), (32, 8, 8))]
    (cut,) = [n for n in graph.nodes if n.op == "slice"]
    assert (cut.input_shape, cut.output_shape) == ((16, 8, 8), (8, 8, 8))
