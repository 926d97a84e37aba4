"""The augmentation interface and a composition of augmentations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch

from cg_contrast.errors import InvalidArgumentError

__all__ = ["Augmentation", "Compose", "check_rate", "make_batch"]


def check_rate(name: str, value: float, high: float = 1.0) -> None:
    """Raise unless ``0 <= value < high``."""
    if not 0.0 <= value < high:
        raise InvalidArgumentError(f"{name}={value} must lie in [0, {high})")


def make_batch(
    batch: Any,
    x: torch.Tensor,
    op: torch.Tensor,
    edge_index: torch.Tensor,
    graph_of_node: torch.Tensor,
) -> Batch:
    """A new ``Batch`` with fresh tensors (never views of the input's storage)."""
    size = int(batch.num_graphs)
    counts = torch.bincount(graph_of_node, minlength=size)
    ptr = torch.zeros(size + 1, dtype=torch.long, device=x.device)
    ptr[1:] = torch.cumsum(counts, 0)
    out = Batch(x=x, op=op, edge_index=edge_index, batch=graph_of_node, ptr=ptr)
    out._num_graphs = size  # same count even if a graph had no node left (never happens here)
    return out


class Augmentation(ABC):
    """A random, non-mutating transformation of a batch of graphs."""

    @abstractmethod
    def __call__(self, batch: Any, rng: np.random.Generator) -> Batch:
        """A new augmented batch; ``batch`` is left untouched."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Compose(Augmentation):
    """Apply ``augmentations`` in order."""

    def __init__(self, augmentations: Sequence[Augmentation]) -> None:
        self.augmentations = list(augmentations)

    def __call__(self, batch: Any, rng: np.random.Generator) -> Batch:
        out = batch
        for aug in self.augmentations:
            out = aug(out, rng)
        if out is batch:  # empty composition: still hand back a copy, never the input
            out = make_batch(
                batch,
                batch.x.clone(),
                batch.op.clone(),
                batch.edge_index.clone(),
                batch.batch.clone(),
            )
        return out
