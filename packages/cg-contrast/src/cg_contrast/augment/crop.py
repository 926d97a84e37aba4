"""Subgraph cropping: keep a random window of consecutive nodes of each graph."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from cg_contrast.augment._base import Augmentation, check_rate, make_batch

__all__ = ["SubgraphCrop"]


class SubgraphCrop(Augmentation):
    """Keep, in each graph, the induced subgraph of a random window of ``keep`` of its nodes.

    Nodes of a computation graph are in topological order, so a window of consecutive nodes
    is a contiguous stretch of the network (a few layers), not scattered nodes. At least one
    node is kept per graph.

    Examples:
        >>> import numpy as np, torch
        >>> from torch_geometric.data import Batch, Data
        >>> b = Batch.from_data_list([Data(x=torch.ones(4, 2), op=torch.zeros(4, dtype=torch.long),
        ...                                edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))])
        >>> out = SubgraphCrop(0.5)(b, np.random.default_rng(0))
        >>> out.num_nodes, out.edge_index.size(1)
        (2, 1)
    """

    def __init__(self, keep: float = 0.8) -> None:
        check_rate("1 - keep", 1.0 - keep)
        self.keep = keep

    def __call__(self, batch: Any, rng: np.random.Generator) -> Batch:
        """A new augmented batch; ``batch`` is left untouched."""
        graph = batch.batch.cpu().numpy()
        size = int(batch.num_graphs)
        counts = np.bincount(graph, minlength=size)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        window = np.maximum(np.ceil(counts * self.keep).astype(np.int64), 1)
        offset = np.floor(rng.random(size) * (counts - window + 1)).astype(np.int64)
        local = np.arange(len(graph)) - starts[graph]
        lo = offset[graph]
        kept = (local >= lo) & (local < lo + window[graph])
        new_id = np.cumsum(kept) - 1  # new index of every kept node
        ei = batch.edge_index.cpu().numpy()
        emask = kept[ei[0]] & kept[ei[1]] if ei.size else np.zeros(0, bool)
        edges = torch.from_numpy(new_id[ei[:, emask]]).to(batch.edge_index.device)
        node_mask = torch.from_numpy(kept).to(batch.x.device)
        return make_batch(
            batch,
            batch.x[node_mask].clone(),
            batch.op[node_mask].clone(),
            edges.reshape(2, -1),
            batch.batch[node_mask].clone(),
        )
