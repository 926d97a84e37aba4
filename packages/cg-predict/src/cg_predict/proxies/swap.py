"""swap and swap_reg, "SWAP-Score" (Peng et al., ICLR 2024): distinct sample-wise patterns.

One forward pass of the batch (``N`` examples) in train mode, no labels. Every unit of every
rectifier module (``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU``, as for ``nwot``) has a binary
*sample-wise pattern*: ``output > 0`` for each of the ``N`` examples, a vector of ``N`` bits.
``swap`` is the number of distinct patterns over all units of all rectifiers (at most
``min(2**N, units)``). The authors hook only the ReLUs whose input is a 4-D feature map; here
every rectifier module counts, so that networks with rectifiers after a linear layer are scored
too (on NB-201 and NB-301, whose rectifiers all see feature maps, this is the same).

``swap_reg`` is their regularised score ``swap * exp(-(P - mu)**2 / sigma)`` with ``P`` the
network's parameters in thousands (their ``count_parameters_in_MB * 1e3``; every parameter
counts). The authors pass ``mu`` and ``sigma`` per search space on the command line and publish
no default; here ``SWAP_MU = 1500`` (about the largest NB-201 network, 1.5 M parameters) and
``SWAP_SIGMA = SWAP_MU ** 2``, a gentle size prior: the factor runs from ``exp(-1) ~ 0.37`` for
a network without parameters to 1 at ``mu``, and falls again past it (so the score also caps
the size of what a search finds, the regulariser's purpose in the paper). Higher = better.

Only rectifiers that are modules are seen: a ``torch.relu`` call inside ``forward`` is not.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from cg_predict.proxies._layers import forward_with_hooks, rectifier_modules

__all__ = ["SWAP_MU", "SWAP_SIGMA", "swap", "swap_reg"]

SWAP_MU = 1500.0
"""The regulariser's centre, in thousands of parameters (see the module docstring)."""
SWAP_SIGMA = SWAP_MU**2
"""The regulariser's width, in squared thousands of parameters."""

# bits per packed word: 63 keeps every word a non-negative int64
_BITS = 63


def swap(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """The number of distinct sample-wise activation patterns of ``net`` on ``inputs``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 3), torch.nn.ReLU())
        >>> with torch.no_grad():
        ...     _ = net[1].weight.copy_(torch.tensor([[1.0], [1.0], [-1.0]]))
        ...     _ = net[1].bias.zero_()
        >>> # units 0 and 1 share the pattern (on, off), unit 2 has (off, on)
        >>> swap(net, torch.tensor([[1.0], [-1.0]]), torch.zeros(2))
        2.0
    """
    del targets
    rectifiers = rectifier_modules(net, "swap", "activation patterns")
    n = inputs.shape[0]
    # the N-bit pattern of each unit, packed into ceil(N / 63) int64 words: (units, words)
    weights = torch.tensor([1 << (i % _BITS) for i in range(n)], dtype=torch.int64)
    words = torch.arange(n) // _BITS
    packed: list[torch.Tensor] = []

    def on_output(module: nn.Module, args: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        bits = (output.detach().reshape(n, -1) > 0).long().cpu() * weights[:, None]
        codes = torch.zeros((int(words[-1]) + 1, bits.shape[1]), dtype=torch.int64)
        packed.append(codes.index_add_(0, words, bits).T)

    forward_with_hooks(net, inputs, rectifiers, on_output)
    return float(torch.unique(torch.cat(packed), dim=0).shape[0])


def swap_reg(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """``swap`` times the parameter-count regulariser ``exp(-(P - SWAP_MU)**2 / SWAP_SIGMA)``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 3), torch.nn.ReLU())
        >>> x = torch.tensor([[1.0], [-1.0]])
        >>> swap_reg(net, x, torch.zeros(2)) < swap(net, x, torch.zeros(2))
        True
    """
    thousands = sum(p.numel() for p in net.parameters()) / 1e3
    return swap(net, inputs, targets) * math.exp(-((thousands - SWAP_MU) ** 2) / SWAP_SIGMA)
