"""grasp (Wang et al. 2020, as a NAS proxy in Abdelfattah et al. 2021): gradient signal flow.

With ``g = dL/dW`` (mean cross-entropy on the batch, train mode) over the weights ``W`` of every
conv and linear layer, and ``H`` the Hessian of ``L`` in those weights, the score is
``sum(-W * Hg)``: the sign is NAS-Bench-Suite-Zero's (theirs is negated relative to GraSP's
pruning criterion because accuracy correlated negatively with it), so higher = better.
``Hg`` is one Hessian-vector product: differentiate ``g_detached . dL/dW`` (built with
``create_graph``) once more. Both derivatives come from one forward pass; the reference code
runs the same batch forward twice, which gives the same logits in train mode. Hard sigmoid and
hard swish modules are swapped for twice-differentiable twins first (``twice_differentiable``).
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import cross_entropy, twice_differentiable, weighted_layers

__all__ = ["grasp"]


def grasp(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Grasp of ``net`` on ``(inputs, targets)``."""
    net = twice_differentiable(net)
    weights = [weight for _, weight in weighted_layers(net, "grasp")]
    loss = cross_entropy(net, inputs, targets, "grasp")
    grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
    used = [(w, g) for w, g in zip(weights, grads, strict=True) if g is not None]
    if not used:  # the loss does not depend on any weight: no signal flows
        return 0.0
    z = sum((g.detach() * g).sum() for _, g in used)
    assert isinstance(z, torch.Tensor)
    hess_grads = torch.autograd.grad(z, [w for w, _ in used], allow_unused=True)
    total = 0.0
    for (w, _), hg in zip(used, hess_grads, strict=True):
        if hg is not None:
            total += float((-w.detach() * hg).double().sum())
    return total
