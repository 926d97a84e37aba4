"""grad_norm (Abdelfattah et al. 2021): how strongly the loss pulls on the weights at init.

One forward and backward pass of the mean cross-entropy on the batch (train mode: batch
normalisation uses the batch's statistics); the score is the sum over conv and linear layers of
the Euclidean norm of that layer's weight gradient, ``sum_l ||dL/dW_l||_2``. Higher = better.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import cross_entropy, weighted_layers

__all__ = ["grad_norm"]


def grad_norm(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """grad_norm of ``net`` on ``(inputs, targets)``."""
    layers = weighted_layers(net, "grad_norm")
    cross_entropy(net, inputs, targets, "grad_norm").backward()
    total = 0.0
    for _, weight in layers:
        if weight.grad is not None:
            total += float(weight.grad.detach().double().norm())
    return total
