"""What the proxies share: the scored layers, the logits check and the cross-entropy loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cg_predict.errors import ProxyComputationError

__all__ = ["WEIGHTED", "cross_entropy", "logits", "weighted_layers"]

# The layers whose weights the pruning-based proxies score, as in Abdelfattah et al. 2021
# (there: Conv2d and Linear); every convolution dimension counts here.
WEIGHTED: tuple[type[nn.Module], ...] = (nn.modules.conv._ConvNd, nn.Linear)


def weighted_layers(net: nn.Module, proxy: str) -> list[tuple[nn.Module, torch.Tensor]]:
    """The conv and linear layers of ``net`` with their weights, in module order (each once).

    Raises:
        ProxyComputationError: none at all, so the proxy would score nothing.
    """
    layers = [
        (m, m.weight)
        for m in net.modules()
        if isinstance(m, WEIGHTED) and isinstance(m.weight, torch.Tensor)
    ]
    if not layers:
        raise ProxyComputationError(
            f"{proxy}: the module has no conv or linear layer (torch.nn.Conv*d / nn.Linear) whose "
            "weights it could score; this proxy needs at least one"
        )
    return layers


def logits(output: object, proxy: str, batch_size: int) -> torch.Tensor:
    """The module's output, checked to be ``(batch, classes)`` logits.

    Raises:
        ProxyComputationError: the output is not a tensor of that shape.
    """
    if not isinstance(output, torch.Tensor) or output.dim() != 2 or output.shape[0] != batch_size:
        got = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ProxyComputationError(
            f"{proxy}: the module must return a (batch, classes) logits tensor, got {got}; wrap "
            "it so that forward returns the classifier's logits"
        )
    return output


def cross_entropy(
    net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, proxy: str
) -> torch.Tensor:
    """Mean cross-entropy of ``net`` on the batch (the loss of snip, grasp, fisher, grad_norm)."""
    return F.cross_entropy(logits(net(inputs), proxy, inputs.shape[0]), targets)
