"""What cg-ir's tests check alike: a graph against the module it was made from, its ops."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from cg_ir import ComputationGraph

# the only ops that do matrix products, hence the only FLOPs FlopCounterMode counts
WEIGHTED = ("conv", "depthwise_conv", "linear")
# with attention and token mixing, matmul nodes do matrix products too
WEIGHTED_WITH_MATMUL = (*WEIGHTED, "matmul")


def trainable_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def weighted_flops(graph: ComputationGraph) -> int:
    return sum(n.flops for n in graph.nodes if n.op in WEIGHTED)


def assert_graph_matches_module(family: Any, spec: Any, *, logits: int) -> ComputationGraph:
    """Check ``family.to_cg(spec)`` against ``family.to_module(spec)``; return the graph.

    The graph has the module's trainable parameters and the FLOPs torch counts in a forward pass
    of one input, the module outputs ``logits`` classes, and the graph survives a JSON round trip.
    """
    module = family.to_module(spec).eval()
    graph: ComputationGraph = family.to_cg(spec)
    assert graph.params == trainable_params(module)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = module(torch.zeros(family.input_shape(spec)))
    assert tuple(out.shape) == (1, logits) and graph.output_shape == (logits, 1, 1)
    assert weighted_flops(graph) == counter.get_total_flops()
    assert ComputationGraph.from_json(graph.to_json()) == graph
    return graph


def inner_ops(graph: ComputationGraph) -> list[str]:
    """The graph's ops in order, without its input and output nodes."""
    return [n.op for n in graph.nodes][1:-1]


class Lambda(torch.nn.Module):
    """A module whose forward is ``fn``: one idiom per test, without a class each."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)  # type: ignore[no-any-return]
