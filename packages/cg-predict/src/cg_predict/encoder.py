"""The graph encoder: a GNN that maps a batch of computation graphs to one vector per graph.

Node embedding follows the paper (GENNAPE's ``CGNodeEmbedding``): an ``Embedding`` of the op id
concatenated with a ``Linear`` projection of the scaled float features of
``cg_ir.features.FEATURE_COLUMNS`` (shapes, kernel, stride, groups, bias, ...). The message
passing layers are the paper's k-GNN (``GraphConv``) or GIN/GINE; the readout is a mean, a
learned attention pooling, or a mean plus a log-scaled sum (graph size). Edges are directed as
in the graph (producer -> consumer); reversed copies can be added (``reverse_edges``), in which
case GINE sees the direction as an edge feature.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINConv, GINEConv, GraphConv, global_add_pool, global_mean_pool
from torch_geometric.nn.aggr import AttentionalAggregation

from cg_ir import vocabulary
from cg_ir.features import FEATURE_COLUMNS
from cg_predict.errors import InvalidArgumentError

__all__ = ["ACTIVATIONS", "GNN_KINDS", "READOUTS", "Encoder", "EncoderConfig"]

GNN_KINDS = ("graphconv", "gin", "gine")
READOUTS = ("mean", "attention", "mean-sum")
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def _choice(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        raise InvalidArgumentError(f"{name}={value!r} is not valid; choose one of {options}")


@dataclass(frozen=True)
class EncoderConfig:
    """Everything needed to rebuild an :class:`Encoder` (it is saved in checkpoints).

    Attributes:
        gnn: ``"graphconv"`` (k-GNN, the paper's), ``"gin"`` or ``"gine"``.
        num_layers: message passing layers (the paper's k-GNN uses 6).
        dim: width of node states and of the graph embedding.
        op_dim: width of the op-id embedding; the float features get ``dim - op_dim``.
        activation: ``"relu"`` or ``"tanh"`` (the paper's k-GNN), applied after every layer.
            ReLU is the default: in-family on NB-201 (800 training cells, 15 epochs, test on
            unseen isomorphism classes) it ranked better (SRCC 0.77 vs 0.71) and trains about
            1.5x faster on the CPU, where tanh is the most expensive op of a layer.
        readout: ``"mean-sum"`` (default), ``"mean"`` (the paper's) or ``"attention"``.
            ``"mean-sum"`` mixes the mean and the asinh of the sum of the node states with a
            linear layer. A mean cannot see how big a graph is; the readout is chosen on
            source families only (nested leave-one-family-out,
            ``cg_predict.evaluate.select_on_sources``; the workspace's
            ``tools/select_on_sources.py``).
        reverse_edges: also pass messages from consumer to producer.
        num_ops: size of the op vocabulary (``len(cg_ir.vocabulary())``).
        num_features: float features per node (``len(FEATURE_COLUMNS)``).

    Examples:
        >>> EncoderConfig(gnn="gin", dim=64).dim
        64
        >>> EncoderConfig(readout="max")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.InvalidArgumentError: readout='max' is not valid; choose one of ...
    """

    gnn: str = "graphconv"
    num_layers: int = 6
    dim: int = 32
    op_dim: int = 16
    activation: str = "relu"
    readout: str = "mean-sum"
    reverse_edges: bool = False
    num_ops: int = len(vocabulary())
    num_features: int = len(FEATURE_COLUMNS)

    def __post_init__(self) -> None:
        _choice("gnn", self.gnn, GNN_KINDS)
        _choice("readout", self.readout, READOUTS)
        _choice("activation", self.activation, tuple(ACTIVATIONS))
        if self.num_layers < 1:
            raise InvalidArgumentError(f"num_layers={self.num_layers} must be at least 1")
        if not 0 < self.op_dim < self.dim:
            raise InvalidArgumentError(
                f"op_dim={self.op_dim} must lie strictly between 0 and dim={self.dim}: the rest "
                "of dim embeds the float features"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderConfig:
        """Rebuild from ``to_dict``; unknown keys are an error (they mean another version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidArgumentError(
                f"unknown encoder config keys {unknown}; valid keys: {sorted(known)}"
            )
        return cls(**data)


def _adjacency_t(edge_index: Tensor, num_nodes: int) -> Tensor:
    """The transposed adjacency as a sparse CSR matrix: row = destination, column = source.

    Built by hand (stable sort by destination) because rows must be sorted for CSR.
    """
    src, dst = edge_index
    order = torch.argsort(dst, stable=True)
    counts = torch.bincount(dst, minlength=num_nodes)
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    rowptr[1:] = torch.cumsum(counts, 0)
    values = torch.ones(order.numel(), device=edge_index.device)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": we use only spmm
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            rowptr, src[order], values, size=(num_nodes, num_nodes), check_invariants=False
        )


class Encoder(nn.Module):
    """GNN over computation graphs; ``embed(batch)`` gives a ``[num_graphs, dim]`` tensor.

    ``batch`` is a ``torch_geometric.data.Batch`` (or anything with the same attributes) holding
    ``x`` (float features), ``op`` (op ids), ``edge_index``, ``batch`` and ``num_graphs``, as made
    by ``cg_predict.graphs.GraphSet.batch`` or by PyG's ``DataLoader`` over ``cg.to_pyg()``.

    Examples:
        >>> import torch
        >>> from cg_ir import ComputationGraph, Node
        >>> from torch_geometric.data import Batch
        >>> g = ComputationGraph([Node("input", (3, 8, 8), (3, 8, 8)),
        ...                       Node("relu", (3, 8, 8), (3, 8, 8)),
        ...                       Node("output", (3, 8, 8), (3, 8, 8))], [(0, 1), (1, 2)])
        >>> _ = torch.manual_seed(0)
        >>> enc = Encoder(EncoderConfig(dim=16, op_dim=8, num_layers=2))
        >>> enc.embed(Batch.from_data_list([g.to_pyg(), g.to_pyg()])).shape
        torch.Size([2, 16])
    """

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EncoderConfig()
        self.op_embedding = nn.Embedding(config.num_ops, config.op_dim)
        self.feature_proj = nn.Linear(config.num_features, config.dim - config.op_dim)
        self.convs = nn.ModuleList(self._conv(config) for _ in range(config.num_layers))
        self.act = ACTIVATIONS[config.activation]()
        self.pool: AttentionalAggregation | None = None
        if config.readout == "attention":
            gate = nn.Sequential(
                nn.Linear(config.dim, config.dim), nn.Tanh(), nn.Linear(config.dim, 1)
            )
            self.pool = AttentionalAggregation(gate_nn=gate)
        self.size_proj: nn.Linear | None = None
        if config.readout == "mean-sum":
            self.size_proj = nn.Linear(2 * config.dim, config.dim)

    @staticmethod
    def _conv(config: EncoderConfig) -> nn.Module:
        d = config.dim
        if config.gnn == "graphconv":
            return GraphConv(d, d, aggr="add")
        mlp = nn.Sequential(nn.Linear(d, d), ACTIVATIONS[config.activation](), nn.Linear(d, d))
        if config.gnn == "gin":
            return GINConv(mlp, train_eps=True)
        # edge feature: one-hot direction (forward, reverse); constant when no reverse edges
        return GINEConv(mlp, train_eps=True, edge_dim=2)

    @property
    def dim(self) -> int:
        """Width of the graph embedding."""
        return self.config.dim

    def node_embedding(self, x: Tensor, op: Tensor) -> Tensor:
        """Initial node states: op-id embedding concatenated with projected features."""
        return torch.cat([self.op_embedding(op), self.feature_proj(x)], dim=-1)

    def _edges(self, edge_index: Tensor) -> tuple[Tensor, Tensor]:
        """Edges (with reversed copies if configured) and their one-hot direction."""
        forward = torch.zeros(edge_index.size(1), 2, device=edge_index.device)
        forward[:, 0] = 1.0
        if not self.config.reverse_edges:
            return edge_index, forward
        reverse = torch.zeros_like(forward)
        reverse[:, 1] = 1.0
        return torch.cat([edge_index, edge_index.flip(0)], dim=1), torch.cat([forward, reverse])

    def node_states(self, batch: Any) -> Tensor:
        """Node states after the last layer, ``[num_nodes, dim]``."""
        h = self.node_embedding(batch.x, batch.op)
        edge_index, edge_attr = self._edges(batch.edge_index)
        if self.config.gnn == "gine":
            for conv in self.convs:
                h = self.act(conv(h, edge_index, edge_attr))
            return h
        # GraphConv and GIN sum over in-neighbours: one sparse matrix product with the
        # adjacency, built once for all layers, is several times faster on CPU than PyG's
        # gather/scatter over edge_index and gives bit-identical sums.
        adj_t = _adjacency_t(edge_index, h.size(0))
        for conv in self.convs:
            if isinstance(conv, GraphConv):
                # GraphConv.forward's math, lin_rel(A h) + lin_root(h), as two fused GEMMs:
                # saves a temporary and an addition per layer on the inference hot path
                rel, root = conv.lin_rel, conv.lin_root
                out = torch.addmm(rel.bias, torch.sparse.mm(adj_t, h), rel.weight.t())
                h = self.act(out.addmm_(h, root.weight.t()))
            else:
                h = self.act(conv(h, adj_t))
        return h

    def embed(self, batch: Any) -> Tensor:
        """One embedding per graph of ``batch``, ``[num_graphs, dim]``."""
        h = self.node_states(batch)
        size = int(batch.num_graphs)
        if self.pool is not None:
            out: Tensor = self.pool(h, batch.batch, dim_size=size)
            return out
        pooled: Tensor = global_mean_pool(h, batch.batch, size=size)
        if self.size_proj is not None:
            # asinh of the sum: a log-scaled measure of how much of each feature the graph
            # holds (its size), which a mean cannot see
            total = torch.asinh(global_add_pool(h, batch.batch, size=size))
            pooled = self.size_proj(torch.cat([pooled, total], dim=-1))
        return pooled

    def forward(self, batch: Any) -> Tensor:
        """Same as :meth:`embed`."""
        return self.embed(batch)
