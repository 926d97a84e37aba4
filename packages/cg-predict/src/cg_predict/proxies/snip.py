"""snip (Lee et al. 2019, as a NAS proxy in Abdelfattah et al. 2021): connection sensitivity.

SNIP multiplies each weight by a mask ``c = 1`` and scores ``|dL/dc|``; at ``c = 1`` that
derivative is ``W * dL/dW``, so one forward and backward pass of the mean cross-entropy on the
batch (train mode) gives the score ``sum |W * dL/dW|`` over the weights of every conv and linear
layer. Higher = better.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import cross_entropy, weighted_layers

__all__ = ["snip"]


def snip(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Snip of ``net`` on ``(inputs, targets)``."""
    layers = weighted_layers(net, "snip")
    cross_entropy(net, inputs, targets, "snip").backward()
    total = 0.0
    for _, weight in layers:
        if weight.grad is not None:
            total += float((weight.detach() * weight.grad).double().abs().sum())
    return total
