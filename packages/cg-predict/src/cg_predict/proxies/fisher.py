"""fisher (Theis et al. 2018, Turner et al. 2020; NAS proxy of Abdelfattah et al. 2021).

For every output channel ``k`` of every conv and linear layer, with activation ``a`` (the
layer's output) and ``d = dL/da`` from the mean cross-entropy on the batch (train mode), the
channel's saliency is ``0.5 * mean_n (sum_spatial a * d)^2``. NAS-Bench-Suite-Zero spreads each
channel's value over all weights of that channel and sums them, so a channel counts
``fan_in = weight[k].numel()`` times; this module does the same, giving
``sum_l sum_k fan_in_l * 0.5 * mean_n (sum_spatial a_nk * d_nk)^2``. Higher = better.
A layer called several times adds up its calls.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from cg_predict.proxies._layers import cross_entropy, weighted_layers

__all__ = ["fisher"]


def fisher(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fisher of ``net`` on ``(inputs, targets)``."""
    totals: list[torch.Tensor] = []

    def watch(weight: torch.Tensor) -> Callable[[nn.Module, object, torch.Tensor], None]:
        fan_in = weight[0].numel()

        def on_forward(module: nn.Module, args: object, out: torch.Tensor) -> None:
            if not out.requires_grad:
                return
            act = out.detach().clone()  # a later in-place op must not change what we multiply

            def on_grad(grad: torch.Tensor) -> None:
                per_example = (act * grad).flatten(2).sum(2) if act.dim() > 2 else act * grad
                saliency = 0.5 * per_example.double().pow(2).mean(0)
                totals.append(saliency.sum() * fan_in)

            out.register_hook(on_grad)

        return on_forward

    handles: list[RemovableHandle] = [
        layer.register_forward_hook(watch(weight))
        for layer, weight in weighted_layers(net, "fisher")
    ]
    try:
        cross_entropy(net, inputs, targets, "fisher").backward()
    finally:
        for handle in handles:
            handle.remove()
    return float(sum(float(t) for t in totals))
