"""synflow (Tanaka et al. 2020, as a NAS proxy in Abdelfattah et al. 2021): data-free path norm.

Every parameter and buffer is replaced by its absolute value, batch normalisation is removed
(replaced by the identity, NAS-Bench-Suite-Zero's ``synflow`` with ``bn=False``), the network runs
in float64 on a single all-ones input, ``R = sum(output)`` is back-propagated, and the score is
``sum |theta * dR/dtheta|`` over the weights of every conv and linear layer (biases are made
positive but not scored). Higher = better. The batch, its labels and the seed play no part.

The raw value spans tens of orders of magnitude across a search space (about 1e0 to 1e50 on
NB-201): it is returned raw; NAS-Bench-Suite-Zero stores its natural logarithm, which
``cg_predict.proxies.log_scale`` reproduces (ranks, hence Spearman, are the same). float64
keeps it finite far beyond float32's 3e38; a network deep enough to overflow even float64 gives
``inf``.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import logits, weighted_layers

__all__ = ["synflow"]


def _drop_batch_norm(net: nn.Module) -> None:
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, name, nn.Identity())


def synflow(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Synflow of ``net`` (a private copy: it is changed in place); ``inputs`` give the shape."""
    del targets  # data-free
    _drop_batch_norm(net)
    net.double()
    with torch.no_grad():
        for tensor in [*net.parameters(), *net.buffers()]:
            if tensor.is_floating_point():
                tensor.abs_()
    layers = weighted_layers(net, "synflow")
    ones = torch.ones((1, *inputs.shape[1:]), dtype=torch.float64, device=inputs.device)
    logits(net(ones), "synflow", 1).sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=inputs.device)
    for _, weight in layers:
        if weight.grad is not None:  # a layer the output does not depend on scores 0
            total += (weight.detach() * weight.grad).abs().sum()
    return float(total)
