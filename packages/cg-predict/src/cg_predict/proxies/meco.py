"""meco, "MeCo" (Jiang et al., NeurIPS 2023): how decorrelated the channels of each layer are.

One forward pass of the batch in train mode, no labels. For every conv and linear layer ``l``
(module order), its output for the **first example** of the batch is reshaped to ``(C_l, S)``
(``S`` spatial positions; a linear layer's output is ``(C_l, 1)``), ``P_l`` is the Pearson
correlation matrix of its ``C_l`` channels over those positions, and the score is
``sum_l lambda_min(P_l)``, in float64. As in the authors' code, undefined correlations (a
channel constant over the positions: a 1x1 map, all of a linear layer, a dead channel) are
replaced by 0, so such a layer adds at most 0. Higher = better.

This is their plain ``meco``: the full ``C x C`` matrix, no channel-count factor; their
``meco_opt`` instead estimates ``lambda_min`` from 8 random channels and multiplies it by
``C / 8`` to undo that sub-sampling, which a full matrix does not need. The authors hook the
output of *every* module (containers, normalisations, activations); here only the layers with
weights (``torch.nn.Conv*d``, ``nn.Linear``) are read, so that the score does not depend on how
a network happens to nest its modules.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import forward_with_hooks, weighted_layers

__all__ = ["meco"]


def meco(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """MeCo of ``net`` on the first example of ``inputs`` (labels are not used).

    Examples:
        >>> import torch
        >>> torch.manual_seed(0) is not None
        True
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
        ...                           torch.nn.Linear(4 * 4 * 4, 5))
        >>> 0.0 <= meco(net, torch.randn(2, 3, 6, 6), torch.zeros(2)) <= 1.0
        True
    """
    del targets
    layers = weighted_layers(net, "meco")
    eigenvalues: list[torch.Tensor] = []

    def on_output(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        channels = output[0].detach().double().reshape(output.shape[1], -1)
        if channels.shape[1] < 2:
            return  # one position: every correlation is undefined, so 0 and lambda_min = 0
        # atleast_2d: corrcoef of a single channel is a 0-d tensor
        corr = torch.atleast_2d(torch.corrcoef(channels))
        corr = torch.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
        eigenvalues.append(torch.linalg.eigvalsh(corr)[0])  # ascending: the smallest

    forward_with_hooks(net, inputs, (layer for layer, _ in layers), on_output)
    return float(sum(float(e) for e in eigenvalues))
