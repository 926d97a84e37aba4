"""flops and params: the computation graph's cost (cg-ir), as ranking baselines.

``flops`` is ``ComputationGraph.flops`` (floating-point operations at batch size 1, a
multiply-add counting two, see ``cg_ir.Node.flops``) and ``params`` its trainable parameter
count; both raw counts, higher = better. NAS-Bench-Suite-Zero reports them in millions, on
NASLib's unpruned networks (ops whose output never reaches the cell output still count there;
cg-ir prunes them). Neither depends on weights or data.
"""

from __future__ import annotations

from cg_ir import ComputationGraph

__all__ = ["flops", "params"]


def flops(graph: ComputationGraph) -> float:
    """FLOPs of one forward pass at batch size 1."""
    return float(graph.flops)


def params(graph: ComputationGraph) -> float:
    """Trainable parameters."""
    return float(graph.params)
