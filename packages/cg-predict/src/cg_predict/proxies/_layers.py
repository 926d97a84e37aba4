"""What the proxies share: the scored layers, the logits check and the cross-entropy loss."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from cg_predict.errors import ProxyComputationError

__all__ = [
    "WEIGHTED",
    "cross_entropy",
    "forward_with_hooks",
    "logits",
    "rectifier_modules",
    "twice_differentiable",
    "weighted_layers",
]

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


# The activations whose binary codes the pattern-based proxies read (nwot, swap): modules only,
# since functional relu calls cannot be hooked.
RECTIFIERS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)


def rectifier_modules(net: nn.Module, proxy: str, codes: str) -> list[nn.Module]:
    """The ReLU-family modules of ``net``, in module order.

    Raises:
        ProxyComputationError: none at all; ``codes`` says what the proxy reads from them.
    """
    found = [m for m in net.modules() if isinstance(m, RECTIFIERS)]
    if not found:
        raise ProxyComputationError(
            f"{proxy}: the module has no nn.ReLU / nn.ReLU6 / nn.LeakyReLU module to read "
            f"{codes} from (functional relu calls cannot be hooked); use relu modules"
        )
    return found


def forward_with_hooks(
    net: nn.Module,
    inputs: torch.Tensor,
    modules: Iterable[nn.Module],
    hook: Callable[..., None],
    *,
    pre: bool = False,
) -> None:
    """One forward pass of ``inputs`` without gradients, ``hook`` on every one of ``modules``.

    ``pre``: a forward pre-hook ``hook(module, args)`` (it sees the input before an in-place
    activation overwrites it), else a forward hook ``hook(module, args, output)``. The hooks
    are removed afterwards, also when the pass fails.
    """
    handles = [
        m.register_forward_pre_hook(hook) if pre else m.register_forward_hook(hook) for m in modules
    ]
    try:
        with torch.no_grad():
            net(inputs)
    finally:
        for handle in handles:
            handle.remove()


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


class _ClampHardsigmoid(nn.Module):
    """``relu6(x + 3) / 6`` via ``clamp``: unlike ``hardsigmoid``, twice differentiable."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 3.0).clamp(0.0, 6.0) / 6.0


class _ClampHardswish(_ClampHardsigmoid):
    """``x * relu6(x + 3) / 6``, twice differentiable (see ``_ClampHardsigmoid``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * super().forward(x)


_TWICE_DIFFERENTIABLE: dict[type[nn.Module], type[nn.Module]] = {
    nn.Hardsigmoid: _ClampHardsigmoid,
    nn.Hardswish: _ClampHardswish,
}


def twice_differentiable(net: nn.Module) -> nn.Module:
    """``net`` with every ``nn.Hardsigmoid``/``nn.Hardswish`` replaced, in place, by a twin.

    PyTorch has no derivative of ``hardsigmoid_backward``/``hardswish_backward``, so a
    Hessian-vector product (grasp) through MobileNetV3's activations fails; the twins compute
    the same values with ``clamp``. Only for the private copies the proxies run on.
    """
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            twin = _TWICE_DIFFERENTIABLE.get(type(child))
            if twin is not None:
                setattr(parent, name, twin())
    return net
