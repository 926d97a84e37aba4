"""nwot, "NASWOT" (Mellor et al. 2021, second version): how differently the ReLUs split a batch.

Every rectifier module (``nn.ReLU``, ``nn.ReLU6``, ``nn.LeakyReLU``) sees an input; its binary
code per example is ``input > 0`` over all units. With ``c_n`` the concatenated codes of example
``n`` over all rectifiers, ``K[n, m]`` counts the units where examples ``n`` and ``m`` agree
(``N_units - Hamming distance``), and the score is ``log|det K|`` (natural log). One forward pass
in train mode, no labels. Higher = better; ``-inf`` when ``K`` is singular (e.g. identical codes).

Only rectifiers that are modules are seen: a ``torch.relu`` call inside ``forward`` is not.
The pruned NB-201 networks of cg-ir drop ops whose output never reaches the cell output; the
NASLib networks of NAS-Bench-Suite-Zero still run them, and their ReLUs add codes there.
"""

from __future__ import annotations

import torch
from torch import nn

from cg_predict.proxies._layers import forward_with_hooks, rectifier_modules

__all__ = ["nwot"]


def nwot(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Nwot of ``net`` on ``inputs`` (labels are not used)."""
    del targets
    rectifiers = rectifier_modules(net, "nwot", "binary activation codes")
    n = inputs.shape[0]
    kernel = torch.zeros((n, n), dtype=torch.float64, device=inputs.device)

    def on_input(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        # a pre-hook: an in-place ReLU has not overwritten its input yet
        nonlocal kernel
        codes = (args[0].detach().reshape(n, -1) > 0).double()
        kernel = kernel + codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T

    forward_with_hooks(net, inputs, rectifiers, on_input, pre=True)
    return float(torch.linalg.slogdet(kernel.cpu()).logabsdet)
