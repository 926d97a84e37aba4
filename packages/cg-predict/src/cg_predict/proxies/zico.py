"""zico, "ZiCo" (Li et al., ICLR 2023): how large and how steady the weight gradients are.

The authors back-propagate the mean cross-entropy of several batches and, for every conv and
linear layer ``l`` (train mode), take over the batches each weight's mean absolute gradient
``mean|g|`` and its standard deviation ``std(g)`` (population, ``ddof=0``). The score is
``sum_l log(sum_{w in l, std > 0} mean|g_w| / std(g_w))`` (natural log): weights whose gradient
does not vary are left out, and a layer whose sum is 0 adds nothing, as in their code.

The signature gives one batch, and the authors need at least two: the batch is split into two
halves (the first ``N // 2`` examples, then the rest), each half's loss back-propagated on its
own; the statistics are over those two gradients, so ``std = |g1 - g2| / 2``. A layer the loss
does not reach (no gradient) is left out too. Higher = better.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cg_predict.errors import ProxyComputationError
from cg_predict.proxies._layers import cross_entropy, weighted_layers

__all__ = ["zico"]


def zico(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """ZiCo of ``net`` on the two halves of the batch (at least two examples).

    Examples:
        >>> import torch
        >>> torch.manual_seed(0) is not None
        True
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
        >>> x, y = torch.randn(8, 1, 3, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
        >>> math.isfinite(zico(net, x, y))
        True
    """
    n = inputs.shape[0]
    if n < 2:
        raise ProxyComputationError(f"zico: needs a batch of at least 2 examples, got {n}")
    layers = weighted_layers(net, "zico")
    half = n // 2
    grads: list[list[torch.Tensor | None]] = []
    for part in (slice(0, half), slice(half, n)):
        net.zero_grad(set_to_none=True)
        cross_entropy(net, inputs[part], targets[part], "zico").backward()
        grads.append([None if w.grad is None else w.grad.detach().double() for _, w in layers])
    net.zero_grad(set_to_none=True)

    total = 0.0
    for first, second in zip(*grads, strict=True):
        if first is None or second is None:
            continue
        both = torch.stack((first.reshape(-1), second.reshape(-1)))
        std = both.std(dim=0, correction=0)
        varies = std > 0
        ratio = float((both.abs().mean(dim=0)[varies] / std[varies]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total
