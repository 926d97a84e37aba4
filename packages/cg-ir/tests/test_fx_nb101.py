"""nasbench-pytorch's NAS-Bench-101 network converts with ``truncate`` autowrapped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from nasbench_pytorch.model import Network
from nasbench_pytorch.model.model import Placeholder, truncate
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import from_module

OPS5 = ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output"]
# vertices 1, 2, 3 feed the output: 128 channels split 43/43/42, so 1 -> 3 truncates 43 -> 42
MATRIX5 = [
    [0, 1, 1, 0, 0],
    [0, 0, 0, 1, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0],
]
OPS7 = ["input", "conv3x3-bn-relu", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3",
        "conv1x1-bn-relu", "output"]  # fmt: skip
# 3, 4, 5 feed the output (43/43/42); 4 -> 5 truncates; 0 -> 6 adds the projected input
MATRIX7 = [
    [0, 1, 1, 0, 0, 0, 1],
    [0, 0, 0, 1, 0, 0, 0],
    [0, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 1, 1],
    [0, 0, 0, 0, 0, 0, 1],
    [0, 0, 0, 0, 0, 0, 0],
]


def network(matrix: list[list[int]], ops: list[str]) -> Network:
    net = Network((np.array(matrix), ops), stem_out_channels=128, num_stacks=3,
                  num_modules_per_stack=1)  # fmt: skip
    for module in net.modules():  # unused slots: NAS-Bench-101 does not count them
        if isinstance(module, Placeholder):
            module.a.requires_grad_(False)
    return net


@pytest.mark.parametrize(
    ("matrix", "ops", "slices"),
    [
        (MATRIX5, OPS5, [(43, 42), (86, 85), (171, 170)]),
        (MATRIX7, OPS7, [(43, 42), (171, 170)]),  # 256 = 86 + 85 + 85: 4 -> 5 keeps 85
    ],
)
def test_nb101_converts_with_truncate_as_slice(
    matrix: list[list[int]], ops: list[str], slices: list[tuple[int, int]]
) -> None:
    net = network(matrix, ops)
    graph = from_module(net, (1, 3, 32, 32), autowrap_functions=(truncate,))
    cut = [n for n in graph.nodes if n.op == "slice"]
    assert [(n.input_shape[0], n.output_shape[0]) for n in cut] == slices
    assert graph.params == sum(p.numel() for p in net.parameters() if p.requires_grad)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net.eval()(torch.zeros(1, 3, 32, 32))
    weighted = sum(
        f
        for n, f in zip(graph.nodes, graph.node_flops(), strict=True)
        if n.op in ("conv", "depthwise_conv", "linear")
    )
    assert weighted == counter.get_total_flops()
    # the zeros_like start of each vertex sum folds away: no add has a zero input
    assert graph.op_histogram()["concat"] == 3
    assert graph.output_shape == (10, 1, 1)


def test_nb101_cells_fx_cannot_trace_are_kept_whole_to_the_same_graph() -> None:
    # nasbench_pytorch's truncate branches on a shape: fx cannot trace the Cell through it, so
    # the Cell is kept whole and run at the input's shapes, which gives the graph that
    # autowrapping truncate gives
    net = network(MATRIX5, OPS5)
    kept_whole = from_module(net, (3, 32, 32))
    assert kept_whole.same_structure(from_module(net, (3, 32, 32), autowrap_functions=(truncate,)))
