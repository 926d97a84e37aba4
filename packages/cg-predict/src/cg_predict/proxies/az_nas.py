"""AZ-NAS's per-network components (Lee & Ham, CVPR 2024): expressivity, progressivity, ...

``az_expressivity``, ``az_progressivity`` and ``az_trainability``; their fourth, complexity, is
FLOPs: the graph proxy ``flops``. The paper's aggregate ranks a *set* of networks, so it is no
per-network proxy: see ``cg_predict.proxies.az_nas_aggregate``.

All three read the feature maps ``f_0, ..., f_L`` between the network's blocks, from one forward
pass of the batch in train mode (no labels). The authors' networks list them explicitly (on
NB-201: the stem's output, then every cell's); here they are found by module type: the blocks
are the children (nested ``nn.Sequential``/``nn.ModuleList`` flattened) of the
``nn.Sequential``/``nn.ModuleList`` whose children hold the most conv and linear layers (then:
the most children holding one; then the outermost), which is NB-201's and NB-301's ``cells``,
NB-101's ``layers``, OFA-MobileNetV3's and the cbm families' ``blocks``, the ResNet family's
``stages`` (their blocks). ``f_0`` is the first block's input (unless it is the network's input
itself), ``f_1..f_L`` the blocks' outputs; only 4-D ``(B, C, H, W)`` maps count. On NB-201 this
is exactly the authors' list.

- ``az_expressivity``: for each ``f_i``, the ``B*H*W`` positions as samples of ``C`` channels,
  ``Sigma`` their (centred, ``1/n``) covariance, ``p`` its eigenvalues over their sum, and
  ``E_i = -sum p log(p + 1e-8)`` (natural log); the score is ``sum_i E_i``.
- ``az_progressivity``: ``min_i (E_i - E_{i-1})``: the smallest gain of expressivity from one
  block to the next (needs two maps).
- ``az_trainability``: for each consecutive pair, a Rademacher (+-1) ``g_out`` shaped like
  ``f_i`` is back-propagated to ``g_in = (d f_i / d f_{i-1})^T g_out``; when the block reduces
  the resolution by a factor ``r``, ``g_in`` is pixel-unshuffled by ``r`` to ``f_i``'s (an odd
  size, 55 -> 28 in OFA-MobileNetV3, is first zero-padded at the bottom and right to ``28 r``,
  where the authors' ``int(55 / 28) = 1`` would fail); both are flattened to
  ``(B*H*W, C)`` and ``s`` is the largest singular value of ``g_in^T g_out / (B*H*W)``; the pair
  scores ``-s - 1 / (s + 1e-6) + 2`` (0 at ``s = 1``, a block that keeps the gradient's
  scale), and the score is their mean. A block that passes the gradient through unchanged
  (``g_in == g_out``: an identity) scores ``-inf``, as in the authors' code; a block whose
  output does not depend on its input has ``g_in = 0`` (their ``none`` ops multiply by 0).

Deviations, forced by the signature or chosen for robustness: the authors re-initialise the
network (Kaiming normal, fan-in) and feed Gaussian noise; here the given weights and batch are
used. Sums and decompositions run in float64, and eigenvalues that round-off makes slightly
negative are set to 0 (the authors' float32 ``log`` of a negative would give NaN). A score that
is NaN (e.g. a feature map that is constant everywhere) is ``-inf``, as in their code. Higher =
better for all three.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cg_predict.errors import ProxyComputationError
from cg_predict.proxies._layers import WEIGHTED

__all__ = ["az_expressivity", "az_progressivity", "az_trainability"]

_CONTAINERS = (nn.Sequential, nn.ModuleList)


def az_expressivity(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """AZ-NAS expressivity: the summed eigen-entropy of the block features.

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.Conv2d(4, 4, 3))
        >>> 0 < az_expressivity(net, torch.randn(2, 3, 8, 8), torch.zeros(2)) <= 3 * math.log(4)
        True
    """
    del targets
    with torch.no_grad():
        features = _block_features(net, inputs, "az_expressivity", minimum=1)
    return _finite_or_ninf(sum(_entropy(f) for f in features))


def az_progressivity(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """AZ-NAS progressivity: the smallest gain of eigen-entropy from one block to the next."""
    del targets
    with torch.no_grad():
        entropies = [_entropy(f) for f in _block_features(net, inputs, "az_progressivity")]
    return _finite_or_ninf(min(b - a for a, b in zip(entropies, entropies[1:], strict=False)))


def az_trainability(net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """AZ-NAS trainability: how close each block's gradient map is to an isometry, averaged.

    Examples:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
        ...                           torch.nn.Conv2d(4, 4, 3))
        >>> az_trainability(net, torch.randn(2, 3, 8, 8), torch.zeros(2)) <= 0  # 0: isometry
        True
    """
    del targets
    features = _block_features(net, inputs.clone().requires_grad_(True), "az_trainability")
    scores = []
    for f_in, f_out in reversed(list(zip(features, features[1:], strict=False))):
        g_out = torch.bernoulli(torch.full_like(f_out, 0.5)) * 2 - 1
        g_in = None
        # a constant map (a cell of "none" ops only, or what follows one) has no gradient
        if f_out.requires_grad and f_in.requires_grad:
            (g_in,) = torch.autograd.grad(f_out, f_in, g_out, retain_graph=True, allow_unused=True)
        if g_in is None:  # the block ignores its input: the zero gradient of a "none" op
            g_in = torch.zeros_like(f_in)
        if g_in.shape == g_out.shape and torch.equal(g_in, g_out):
            scores.append(-math.inf)
            continue
        scores.append(_isometry(g_in.detach().double(), g_out.double()))
    return _finite_or_ninf(sum(scores) / len(scores))


def _blocks(net: nn.Module) -> list[nn.Module]:
    """The (flattened) children of the container that covers the network's layers best.

    Best: the most conv/linear layers inside its children, then the most children holding
    one; the first in module order on ties (an outer container before the ones inside it).
    """
    best: list[nn.Module] = []
    for module in net.modules():
        if isinstance(module, _CONTAINERS):
            blocks = _flatten(module)
            if _coverage(blocks) > _coverage(best):
                best = blocks
    return best


def _flatten(container: nn.Module) -> list[nn.Module]:
    flat: list[nn.Module] = []
    for child in container.children():
        flat.extend(_flatten(child) if isinstance(child, _CONTAINERS) else [child])
    return flat


def _coverage(blocks: list[nn.Module]) -> tuple[int, int]:
    """(conv/linear layers inside ``blocks``, blocks holding at least one)."""
    counts = [sum(isinstance(m, WEIGHTED) for m in block.modules()) for block in blocks]
    return sum(counts), sum(c > 0 for c in counts)


def _block_features(
    net: nn.Module, inputs: torch.Tensor, proxy: str, minimum: int = 2
) -> list[torch.Tensor]:
    """The 4-D maps entering the first block and leaving each block (see the module docstring).

    Raises:
        ProxyComputationError: fewer than ``minimum`` such maps.
    """
    blocks = _blocks(net)
    features: list[torch.Tensor] = []

    def on_input(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        if args and isinstance(args[0], torch.Tensor) and args[0] is not inputs:
            features.append(args[0])

    def on_output(module: nn.Module, args: tuple[torch.Tensor, ...], output: object) -> None:
        if isinstance(output, torch.Tensor):
            features.append(output)

    handles = [blocks[0].register_forward_pre_hook(on_input)] if blocks else []
    handles += [block.register_forward_hook(on_output) for block in blocks]
    try:
        net(inputs)
    finally:
        for handle in handles:
            handle.remove()
    maps = [f for f in features if f.dim() == 4]
    if len(maps) < minimum:
        raise ProxyComputationError(
            f"{proxy}: found {len(maps)} 4-D feature map(s) between blocks, needs at least "
            f"{minimum}; the blocks are the children of the nn.Sequential / nn.ModuleList with "
            "the most children holding a conv or linear layer, and must return (B, C, H, W) maps"
        )
    return maps


def _entropy(feature: torch.Tensor) -> float:
    """The entropy of the normalised eigenvalues of the channel covariance (``E_i``)."""
    x = feature.detach().double().permute(0, 2, 3, 1).reshape(-1, feature.shape[1])
    x = x - x.mean(dim=0, keepdim=True)
    eigenvalues = torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp(min=0.0)
    p = eigenvalues / eigenvalues.sum()
    return float(-(p * torch.log(p + 1e-8)).sum())


def _isometry(g_in: torch.Tensor, g_out: torch.Tensor) -> float:
    """``-s - 1/(s + 1e-6) + 2`` for the top singular value ``s`` of the gradient map."""
    b, c, h, w = g_out.shape
    if g_in.shape[2:] != g_out.shape[2:]:
        stride = math.ceil(g_in.shape[2] / h)
        if g_in.shape[2] < h or g_in.shape[3] < w or math.ceil(g_in.shape[3] / w) != stride:
            raise ProxyComputationError(
                f"az_trainability: a block maps {tuple(g_in.shape[2:])} to {(h, w)}; only "
                "resolutions reduced by the same factor in both dimensions are supported"
            )
        # an odd input (55 -> 28) is zero-padded at the bottom and right to a whole multiple
        pad = (0, w * stride - g_in.shape[3], 0, h * stride - g_in.shape[2])
        g_in = F.pixel_unshuffle(F.pad(g_in, pad), stride)
    rows_in = g_in.permute(0, 2, 3, 1).reshape(b * h * w, -1)
    rows_out = g_out.permute(0, 2, 3, 1).reshape(b * h * w, c)
    s = float(torch.linalg.svdvals(rows_in.T @ rows_out / (b * h * w)).max())
    return -s - 1.0 / (s + 1e-6) + 2.0


def _finite_or_ninf(value: float) -> float:
    return -math.inf if math.isnan(value) else float(value)
