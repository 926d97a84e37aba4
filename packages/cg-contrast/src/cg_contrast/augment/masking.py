"""Node-feature masking: zero the float features of a random fraction of nodes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from cg_contrast.augment._base import Augmentation, check_rate, make_batch

__all__ = ["NodeFeatureMask"]


class NodeFeatureMask(Augmentation):
    """Zero ``x`` of each node with probability ``rate``.

    Op ids are kept: they say which operator a node is, and the vocabulary has no mask token.

    Examples:
        >>> import numpy as np, torch
        >>> from torch_geometric.data import Batch, Data
        >>> b = Batch.from_data_list([Data(x=torch.ones(4, 2), op=torch.zeros(4, dtype=torch.long),
        ...                                edge_index=torch.tensor([[0, 1, 2], [1, 2, 3]]))])
        >>> out = NodeFeatureMask(0.5)(b, np.random.default_rng(0))
        >>> out.x.shape == b.x.shape, float(b.x.sum())  # the input is untouched
        (True, 8.0)
    """

    def __init__(self, rate: float = 0.2) -> None:
        check_rate("rate", rate)
        self.rate = rate

    def __call__(self, batch: Any, rng: np.random.Generator) -> Batch:
        """A new augmented batch; ``batch`` is left untouched."""
        n = batch.x.size(0)
        keep = torch.from_numpy(rng.random(n) >= self.rate).to(batch.x.device)
        x = batch.x * keep[:, None].to(batch.x.dtype)
        return make_batch(batch, x, batch.op.clone(), batch.edge_index.clone(), batch.batch.clone())
