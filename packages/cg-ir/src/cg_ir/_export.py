"""Conversions of a computation graph to networkx and PyTorch Geometric."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cg_ir.features import FEATURE_SCHEMA_VERSION, node_features, op_ids

if TYPE_CHECKING:
    import networkx as nx
    from torch_geometric.data import Data

    from cg_ir._graph import ComputationGraph

__all__ = ["to_networkx", "to_pyg"]


def to_networkx(graph: ComputationGraph) -> nx.MultiDiGraph:
    import networkx as nx

    g = nx.MultiDiGraph()
    for i, node in enumerate(graph.nodes):
        g.add_node(i, **node._asdict())
    g.add_edges_from(graph.edges)
    return g


def to_pyg(graph: ComputationGraph) -> Data:
    try:
        import torch
        from torch_geometric.data import Data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_pyg() needs torch and torch-geometric: pip install 'cg-ir[pyg]' and a torch build"
        ) from exc
    edge_index = torch.tensor(graph.edges, dtype=torch.long).reshape(-1, 2).t().contiguous()
    return Data(
        x=torch.from_numpy(node_features(graph)),
        op=torch.from_numpy(op_ids(graph)),
        edge_index=edge_index,
        num_nodes=graph.num_nodes,
        feature_schema_version=FEATURE_SCHEMA_VERSION,
    )
