"""jacov (Mellor et al. 2021, first version; NAS proxy of Abdelfattah et al. 2021).

The Jacobian of the summed logits with respect to each input example, ``J_n = d(sum_c
f_c(x_n))/dx_n``, flattened to one row per example (one backward pass, train mode); ``C`` is the
correlation matrix of those rows and ``lambda`` its eigenvalues. The score is
``-sum(log(lambda + k) + 1 / (lambda + k))`` with ``k = 1e-5``: near 0 for decorrelated
Jacobians (the network tells examples apart), very negative for correlated ones. Higher = better.

When the correlation is undefined (the output does not depend on the input, e.g. an NB-201
cell with no path from input to output) the score is ``-inf``: such a network ranks last.
NAS-Bench-Suite-Zero stores ``-1e8`` there; the rank is the same.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cg_predict.proxies._layers import logits

__all__ = ["jacov"]

_K = 1e-5


def jacov(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Jacov of ``net`` on ``inputs`` (labels are not used)."""
    del targets
    x = inputs.clone().requires_grad_(True)
    out = logits(net(x), "jacov", x.shape[0])
    (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
    if grad is None:
        return -math.inf
    jac = grad.detach().reshape(x.shape[0], -1).double().cpu().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(jac)
    if not np.all(np.isfinite(corr)):
        return -math.inf
    eig = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(eig + _K) + 1.0 / (eig + _K)))
