"""The newer training-free proxies: zico, meco, swap, swap_reg, AZ-NAS's components, aggregate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cg_ir import families
from cg_predict.errors import InvalidArgumentError, ProxyComputationError
from cg_predict.proxies import ALL, NETWORK_PROXIES, az_nas_aggregate, compute_proxies
from cg_predict.proxies._registry import resolve_names
from cg_predict.proxies.az_nas import az_trainability
from cg_predict.proxies.swap import SWAP_MU, SWAP_SIGMA

NEW = (
    "zico",
    "meco",
    "swap",
    "swap_reg",
    "az_expressivity",
    "az_progressivity",
    "az_trainability",
)
SHAPE = (3, 10, 10)


def tiny_cnn(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.Conv2d(6, 6, 3, stride=2, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 4),
    )


def _batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn((n, *SHAPE), generator=g), torch.randint(4, (n,), generator=g)


def test_registry_lists_the_new_proxies_after_the_old_ones():
    names = list(NETWORK_PROXIES)
    assert names[:7] == ["synflow", "jacov", "snip", "grasp", "fisher", "grad_norm", "nwot"]
    assert tuple(names[7:]) == NEW
    assert ALL == (*names, "flops", "params")
    assert resolve_names(["swap_reg", "zico", "swap_reg"]) == ("swap_reg", "zico")
    assert "az_nas" not in ALL  # a set-level aggregate, not a per-network proxy


@pytest.mark.parametrize("name", NEW)
def test_each_new_proxy_is_finite_deterministic_and_side_effect_free(name: str):
    net = tiny_cnn()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    first = compute_proxies(net, SHAPE, name, batch=_batch(), seed=2)[name]
    second = compute_proxies(net, SHAPE, name, batch=_batch(), seed=2)[name]
    assert math.isfinite(first.value) and first.value == second.value
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    # called directly (train mode, as compute_proxies runs them): the weights stay the same
    net.train()
    weights = [p.detach().clone() for p in net.parameters()]
    NETWORK_PROXIES[name](net, *_batch())
    assert all(torch.equal(w, p) for w, p in zip(weights, net.parameters(), strict=True))


def test_zico_on_one_linear_layer_matches_the_closed_form():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3, 2, bias=False))
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, -1.0, 2.0]])
    y = torch.tensor([0, 1])
    w = net[1].weight.detach().double().numpy()
    # one example per half: dCE/dW = (softmax(W x) - onehot(y)) x^T
    grads = []
    for xi, yi in zip(x.double().numpy(), y.numpy(), strict=True):
        p = np.exp(w @ xi) / np.exp(w @ xi).sum()
        grads.append(np.outer(p - np.eye(2)[yi], xi).ravel())
    g = np.stack(grads)
    std = g.std(axis=0)
    expected = math.log(np.sum(np.abs(g).mean(axis=0)[std > 0] / std[std > 0]))
    assert NETWORK_PROXIES["zico"](net, x.reshape(2, 1, 3), y) == pytest.approx(expected)


def test_meco_is_one_minus_the_channel_correlation():
    conv = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))  # passes both channels through
    net = nn.Sequential(conv, nn.Flatten(), nn.Linear(8, 3))  # a linear layer adds 0
    a, b = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    x = torch.tensor([[a, b], [b, a]]).reshape(2, 2, 2, 2)
    r = np.corrcoef(a, b)[0, 1]  # eigenvalues of [[1, r], [r, 1]]: 1 - r and 1 + r
    assert NETWORK_PROXIES["meco"](net, x, torch.zeros(2)) == pytest.approx(1 - abs(r))


def _relu_net(rows: list[list[float]], bias: list[float] | None = None) -> nn.Module:
    weight = torch.tensor(rows)
    net = nn.Sequential(nn.Linear(weight.shape[1], weight.shape[0]), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(weight)
        net[0].bias.copy_(torch.tensor(bias or [0.0] * weight.shape[0]))
    return net


def test_swap_counts_the_distinct_patterns_of_a_hand_built_batch():
    # units: x0 > 0, x1 > 0, x0 + x1 > 0, 2 x0 > 0 (the same pattern as the first)
    net = _relu_net([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    x = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    assert NETWORK_PROXIES["swap"](net, x, torch.zeros(3)) == 3.0
    params = 4 * 2 + 4
    factor = math.exp(-((params / 1e3 - SWAP_MU) ** 2) / SWAP_SIGMA)
    assert NETWORK_PROXIES["swap_reg"](net, x, torch.zeros(3)) == pytest.approx(3.0 * factor)


@pytest.mark.parametrize(("odd_one", "expected"), [(1.0, 1.0), (0.25, 2.0)])
def test_swap_tells_patterns_apart_beyond_the_first_63_examples(odd_one: float, expected: float):
    net = _relu_net([[1.0], [1.0]], bias=[0.0, -0.5])  # x > 0 and x > 0.5
    x = torch.ones((70, 1))
    x[65] = odd_one  # 0.25 switches the second unit off for example 65 only
    assert NETWORK_PROXIES["swap"](net, x, torch.zeros(70)) == expected


def _az_net() -> nn.Module:
    """Two 1x1 convs: the identity, then both channels := the first one."""
    first, second = nn.Conv2d(2, 2, 1, bias=False), nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        first.weight.copy_(torch.eye(2).reshape(2, 2, 1, 1))
        second.weight.copy_(torch.tensor([[1.0, 0.0], [1.0, 0.0]]).reshape(2, 2, 1, 1))
    return nn.Sequential(first, second, nn.Flatten())


_AZ_INPUT = torch.tensor([[1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, -1.0]]).reshape(1, 2, 2, 2)


def test_az_expressivity_and_progressivity_on_known_spectra():
    # block 1 outputs two uncorrelated unit-variance channels: entropy log 2; block 2 one
    # direction only: entropy 0 (up to the 1e-8 inside the log)
    expressivity = NETWORK_PROXIES["az_expressivity"](_az_net(), _AZ_INPUT, torch.zeros(1))
    progressivity = NETWORK_PROXIES["az_progressivity"](_az_net(), _AZ_INPUT, torch.zeros(1))
    assert expressivity == pytest.approx(math.log(2), abs=1e-6)
    assert progressivity == pytest.approx(-math.log(2), abs=1e-6)


def test_az_trainability_is_the_isometry_score_of_the_block_jacobian():
    net = _az_net()  # built first: initialising its layers draws from the RNG too
    torch.manual_seed(5)
    value = NETWORK_PROXIES["az_trainability"](net, _AZ_INPUT, torch.zeros(1))
    torch.manual_seed(5)  # the same Rademacher g_out
    g_out = (torch.bernoulli(torch.full((1, 2, 2, 2), 0.5)) * 2 - 1).double()
    rows = g_out.permute(0, 2, 3, 1).reshape(4, 2).numpy()
    jacobian = np.array([[1.0, 0.0], [1.0, 0.0]])  # per position: out = J in
    s = np.linalg.svd((rows @ jacobian).T @ rows / 4, compute_uv=False).max()
    assert value == pytest.approx(-s - 1 / (s + 1e-6) + 2)
    identity = nn.Sequential(_az_net()[0], nn.Identity(), nn.Flatten())
    assert NETWORK_PROXIES["az_trainability"](identity, _AZ_INPUT, torch.zeros(1)) == -math.inf


class _NoContainer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


@pytest.mark.parametrize(
    ("name", "net", "message"),
    [
        (
            "zico",
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            "zico: the module has no conv",
        ),
        (
            "meco",
            nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
            "meco: the module has no conv",
        ),
        ("swap", nn.Sequential(nn.Flatten(), nn.Linear(300, 4)), "swap: the module has no nn.ReLU"),
        ("swap_reg", nn.Sequential(nn.Flatten(), nn.Linear(300, 4)), "swap: the module has no"),
        ("az_expressivity", _NoContainer(), "az_expressivity: found 0 4-D feature map"),
        ("az_progressivity", _NoContainer(), "az_progressivity: found 0 4-D feature map"),
        ("az_trainability", _NoContainer(), "az_trainability: found 0 4-D feature map"),
    ],
)
def test_a_network_without_applicable_layers_is_refused(name: str, net: nn.Module, message: str):
    with pytest.raises(ProxyComputationError, match=message):
        compute_proxies(net, SHAPE, name, batch_size=4)


def test_az_nas_aggregate_sums_log_rank_fractions():
    table = {"a": [1.0, 2.0, 2.0, 4.0], "b": [4.0, 3.0, 2.0, -math.inf]}
    # ranks a: 1, 2.5, 2.5, 4 (ties averaged); b: 4, 3, 2, 1 (-inf lowest)
    expected = [
        math.log(1 / 4) + math.log(4 / 4),
        math.log(2.5 / 4) + math.log(3 / 4),
        math.log(2.5 / 4) + math.log(2 / 4),
        math.log(4 / 4) + math.log(1 / 4),
    ]
    assert az_nas_aggregate(table) == pytest.approx(expected)
    with pytest.raises(InvalidArgumentError, match="same, non-zero number"):
        az_nas_aggregate({"a": [1.0, 2.0], "b": [1.0]})
    with pytest.raises(InvalidArgumentError, match=r"'b' has NaN at network\(s\) \[1\]"):
        az_nas_aggregate({"a": [1.0, 2.0], "b": [1.0, math.nan]})
    with pytest.raises(InvalidArgumentError, match="at least one column"):
        az_nas_aggregate({})


@pytest.mark.slow
@pytest.mark.parametrize(
    "family", ["nb101", "nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet", "resnet"]
)
def test_new_proxies_run_on_every_family(family: str):
    fam = families.get(family)
    spec = fam.sample(np.random.default_rng(0))
    torch.manual_seed(0)
    module = fam.to_module(spec)
    scores = compute_proxies(module, fam.input_shape(spec), NEW, batch_size=8)
    assert all(not math.isnan(s.value) for s in scores.values()), scores
    assert all(math.isfinite(scores[n].value) for n in ("zico", "meco", "swap")), scores


class _Constant(nn.Module):
    """A block whose output does not depend on its input (a cell of "none" ops only)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)


def test_az_trainability_of_a_block_with_a_constant_output_is_not_an_error() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), _Constant(), nn.Conv2d(4, 4, 3, padding=1))
    score = az_trainability(net, torch.randn(4, 3, 8, 8), torch.zeros(4))
    assert not math.isnan(score)
