"""Edge dropping: remove a random fraction of edges, keeping every node reachable in-degree."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from cg_contrast.augment._base import Augmentation, check_rate, make_batch

__all__ = ["EdgeDrop"]


class EdgeDrop(Augmentation):
    """Drop each edge with probability ``rate``, but keep one random incoming edge per node.

    Keeping an in-edge per node that had one keeps every node connected to the graph's input
    (a node of a CG would otherwise be an orphan no data reaches).

    Examples:
        >>> import numpy as np, torch
        >>> from torch_geometric.data import Batch, Data
        >>> b = Batch.from_data_list([Data(x=torch.ones(3, 2), op=torch.zeros(3, dtype=torch.long),
        ...                                edge_index=torch.tensor([[0, 0, 1], [1, 2, 2]]))])
        >>> EdgeDrop(0.99)(b, np.random.default_rng(0)).edge_index.size(1)  # one in-edge each
        2
    """

    def __init__(self, rate: float = 0.2) -> None:
        check_rate("rate", rate)
        self.rate = rate

    def __call__(self, batch: Any, rng: np.random.Generator) -> Batch:
        """A new augmented batch; ``batch`` is left untouched."""
        ei = batch.edge_index
        e = ei.size(1)
        keep = rng.random(e) >= self.rate
        if e:
            # the first edge of a random permutation into each destination is protected
            perm = rng.permutation(e)
            dst = ei[1].cpu().numpy()[perm]
            _, first = np.unique(dst, return_index=True)
            keep[perm[first]] = True
        mask = torch.from_numpy(keep).to(ei.device)
        return make_batch(
            batch, batch.x.clone(), batch.op.clone(), ei[:, mask].clone(), batch.batch.clone()
        )
