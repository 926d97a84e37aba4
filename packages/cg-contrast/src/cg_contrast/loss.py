r"""Contrastive losses on unit-normalized projections.

Both losses use the paper's agreement (its Eq. 4.1) over a batch of ``N`` projections ``z``::

    chi[i, j] = log( exp(z_i . z_j / tau) / sum_{r != i} exp(z_i . z_r / tau) )

:func:`spectral_supcon_loss` is the paper's Eq. 4.5: SupCon with the *family* as the class, so
the positives ``P(i)`` of anchor ``i`` are the other batch members of its family, weighted by
``alpha_s(i) = softmax_{s in P(i)}(-sigma(i, s) / 0.05)`` where ``sigma`` is the spectral
distance. **Sign decision**: the paper writes "the softmax of sigma", literally a softmax of a
*distance*, which would give the most weight to the least similar graph; its stated intent is
to "smoothly favor similar computation graphs", so we use ``-sigma`` (more weight to more
similar graphs). ``alpha_sign=+1`` reproduces the literal reading for ablation.

:func:`nt_xent_loss` is SimCLR's NT-Xent (Eq. 4.2): two views per graph, each view's positive
is the other view of the same graph, every other batch member is a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from cg_contrast.errors import InvalidArgumentError

__all__ = ["agreement", "nt_xent_loss", "spectral_supcon_loss"]


def agreement(z: Tensor, tau: float) -> Tensor:
    """``[N, N]`` log-softmax of similarities over ``r != i`` (the diagonal is ``-inf``)."""
    if tau <= 0:
        raise InvalidArgumentError(f"temperature tau={tau} must be positive")
    sim = (z @ z.t()) / tau
    eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, float("-inf"))
    return F.log_softmax(sim, dim=1)


def spectral_supcon_loss(
    z: Tensor,
    families: Tensor,
    spectra: Tensor,
    tau: float = 0.1,
    alpha_temperature: float = 0.05,
    alpha_sign: float = -1.0,
) -> Tensor:
    """The paper's SupCon loss with spectral-similarity weights (mean over anchors).

    Args:
        z: ``[N, p]`` projections; they are unit-normalized here.
        families: ``[N]`` integer family class of every graph.
        spectra: ``[N, k]`` spectra (:func:`cg_contrast.spectral.spectral_features`).
        tau: temperature of the similarities.
        alpha_temperature: temperature of the weights' softmax (the paper's 0.05).
        alpha_sign: ``-1`` weighs similar graphs more (our reading), ``+1`` the literal text.

    Anchors without a same-family partner in the batch do not contribute.

    Examples:
        >>> import torch
        >>> z = torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
        >>> fam, spec = torch.tensor([0, 0, 1, 1]), torch.zeros(4, 3)
        >>> bool(spectral_supcon_loss(z, fam, spec) < spectral_supcon_loss(z, fam[[0, 2, 1, 3]],
        ...                                                                  spec))
        True
    """
    if alpha_temperature <= 0:
        raise InvalidArgumentError(f"alpha_temperature={alpha_temperature} must be positive")
    if alpha_sign not in (-1.0, 1.0):
        raise InvalidArgumentError(f"alpha_sign={alpha_sign} must be -1 or +1")
    z = F.normalize(z, dim=1)
    chi = agreement(z, tau)
    n = len(z)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    positive = (families[:, None] == families[None, :]) & ~eye
    sigma = torch.cdist(spectra.double(), spectra.double()).to(z.dtype)
    logits = (alpha_sign * sigma / alpha_temperature).masked_fill(~positive, float("-inf"))
    has = positive.any(dim=1)
    if not bool(has.any()):
        return z.sum() * 0.0  # no positive pair in the batch: nothing to learn, keep the graph
    alpha = torch.softmax(logits[has], dim=1)  # rows without positives were dropped
    terms = (alpha * chi[has].masked_fill(~positive[has], 0.0)).sum(dim=1)
    return -terms.mean()


def nt_xent_loss(z1: Tensor, z2: Tensor, tau: float = 0.1) -> Tensor:
    """SimCLR's NT-Xent over two views ``[B, p]`` each (mean over the ``2B`` anchors).

    Examples:
        >>> import torch
        >>> a = torch.eye(3)
        >>> bool(nt_xent_loss(a, a) < nt_xent_loss(a, a[[1, 2, 0]]))
        True
    """
    if z1.shape != z2.shape:
        raise InvalidArgumentError(f"views must have the same shape, got {z1.shape} and {z2.shape}")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    chi = agreement(z, tau)
    b = len(z1)
    partner = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return -chi[torch.arange(2 * b, device=z.device), partner].mean()
