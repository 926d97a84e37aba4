"""The projection head and GENNAPE's dropout views."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from cg_predict.encoder import Encoder

__all__ = ["DropoutViews", "Projection"]


class Projection(nn.Module):
    """``z = W2 tanh(W1 h)``: the projection ``Proj`` of the paper (normalized in the loss)."""

    def __init__(self, dim: int, proj_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.Tanh(), nn.Linear(dim, proj_dim))

    def forward(self, h: Tensor) -> Tensor:
        out: Tensor = self.net(h)
        return out


class DropoutViews:
    """Dropout inside the encoder while training, so two passes give two views (SimCSE style).

    cg-predict's encoder has no dropout layer (and its fused GraphConv path calls no
    sub-module per layer), so dropout is attached by forward hooks to the initial node
    embedding (op embedding and feature projection) and applied to the pooled embedding. The
    hooks act only in training mode: the saved encoder is cg-predict's plain ``Encoder``.
    """

    def __init__(self, encoder: Encoder, p: float) -> None:
        self.p = p
        self._handles = [
            m.register_forward_hook(self._hook)
            for m in (encoder.op_embedding, encoder.feature_proj)
        ]

    def _hook(self, module: nn.Module, args: Any, output: Tensor) -> Tensor:
        return F.dropout(output, self.p, training=module.training)

    def pooled(self, h: Tensor, training: bool) -> Tensor:
        """Dropout on the graph embedding."""
        return F.dropout(h, self.p, training=training)

    def remove(self) -> None:
        """Detach the hooks."""
        for handle in self._handles:
            handle.remove()
