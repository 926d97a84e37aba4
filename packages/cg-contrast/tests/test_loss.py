from __future__ import annotations

import math

import pytest
import torch

from cg_contrast.errors import InvalidArgumentError
from cg_contrast.loss import agreement, nt_xent_loss, spectral_supcon_loss


def test_alpha_favours_the_spectrally_similar_positive() -> None:
    # anchor 0 has two same-family positives: 1 (spectrally near) and 2 (far). Its embedding
    # agrees with 1 in one case and with 2 in the other; with softmax(-sigma) the loss is lower
    # when it agrees with the similar graph, with the literal softmax(+sigma) the opposite.
    fam = torch.tensor([0, 0, 0, 1])
    spec = torch.tensor([[0.0], [0.01], [1.0], [0.5]])
    near = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    far = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]])
    assert spectral_supcon_loss(near, fam, spec) < spectral_supcon_loss(far, fam, spec)
    assert spectral_supcon_loss(near, fam, spec, alpha_sign=1.0) > spectral_supcon_loss(
        far, fam, spec, alpha_sign=1.0
    )


def test_uniform_alpha_equals_supcon() -> None:
    torch.manual_seed(0)
    z = torch.randn(6, 4)
    fam = torch.tensor([0, 0, 0, 1, 1, 2])  # graph 5 has no positive: left out
    chi = agreement(torch.nn.functional.normalize(z, dim=1), 0.5)
    want = -torch.stack(
        [chi[i, [j for j in range(6) if j != i and fam[j] == fam[i]]].mean() for i in range(5)]
    ).mean()
    got = spectral_supcon_loss(z, fam, torch.zeros(6, 11), tau=0.5)
    assert torch.isclose(got, want)


def test_nt_xent_matches_definition_and_gradients_flow() -> None:
    torch.manual_seed(1)
    z1 = torch.randn(3, 4, requires_grad=True)
    z2 = torch.randn(3, 4)
    loss = nt_xent_loss(z1, z2, tau=0.2)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.t() / 0.2).detach()
    terms = []
    for i in range(6):
        j = (i + 3) % 6
        denom = sum(math.exp(sim[i, r]) for r in range(6) if r != i)
        terms.append(-(sim[i, j] - math.log(denom)))
    assert math.isclose(float(loss.detach()), float(torch.stack(terms).mean()), rel_tol=1e-5)
    loss.backward()
    assert z1.grad is not None and torch.isfinite(z1.grad).all()


def test_no_positive_pair_gives_zero_and_bad_args_raise() -> None:
    z = torch.randn(3, 2, requires_grad=True)
    assert float(spectral_supcon_loss(z, torch.arange(3), torch.zeros(3, 1)).detach()) == 0.0
    with pytest.raises(InvalidArgumentError, match="tau"):
        agreement(z, 0.0)
    with pytest.raises(InvalidArgumentError, match="alpha_sign"):
        spectral_supcon_loss(z, torch.arange(3), torch.zeros(3, 1), alpha_sign=0.5)
    with pytest.raises(InvalidArgumentError, match="same shape"):
        nt_xent_loss(z, z[:2])
