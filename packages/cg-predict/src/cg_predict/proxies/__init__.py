"""Zero-cost proxies computed live on a real module at initialisation.

``compute_proxies(module, input_shape)`` scores any classifier with synflow, jacov, snip, grasp,
fisher, grad_norm, nwot (Abdelfattah et al. 2021; Mellor et al. 2021), zico (Li et al. 2023),
meco (Jiang et al. 2023), swap and swap_reg (Peng et al. 2024), the AZ-NAS components
az_expressivity, az_progressivity, az_trainability (Lee & Ham 2024) and, from its cg-ir graph,
flops and params. Definitions and sign conventions of the first seven follow
NAS-Bench-Suite-Zero, whose precomputed scores are the reference (``proxy_agreement`` measures
how well ours agree; it has none for the newer ones); every proxy's module documents its
formula. Higher = better for all of them. ``az_nas_aggregate`` combines AZ-NAS's components
(with flops) over a set of networks by rank, as the paper does.

Numerics: synflow runs in float64 without batch normalisation; the others run in float32 in
train mode (batch statistics) and accumulate their sums in float64. Values are raw;
``log_scale`` gives NAS-Bench-Suite-Zero's logarithmic synflow. Default data: a seeded
synthetic batch of 32 images (NAS-Bench-Suite-Zero's batch size) drawn by the synthetic input
``DEFAULT_INPUT`` (``"smooth"``: natural-image-like noise as normalised CIFAR pixels; the others
of ``SYNTHETIC_INPUTS`` are ``"normal"``, white noise, and ``"pixel"``) with uniform labels, not
CIFAR images; pass ``synthetic_input=`` for another one, ``batch=`` for real data.
``ProxyCache`` stores scores on disk keyed by graph hash, weights, proxy, ``PROXY_VERSION``,
synthetic input, batch and the code that computed them; ``ProxyScore.seconds`` is each proxy's
wall time.

Examples:
    >>> import torch
    >>> from cg_predict.proxies import compute_proxies
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
    ...                           torch.nn.Linear(8, 10))
    >>> s = compute_proxies(net, (3, 16, 16), ["snip", "jacov"], batch_size=16, seed=0)
    >>> s["snip"].value > 0, s["jacov"].value < 0
    (True, True)
"""

from cg_predict.proxies._batch import DEFAULT_INPUT, SYNTHETIC_INPUTS, SyntheticInput
from cg_predict.proxies._cache import ProxyCache, ProxyScore
from cg_predict.proxies._compute import DEFAULT_BATCH_SIZE, compute_proxies
from cg_predict.proxies._registry import ALL, GRAPH_PROXIES, NETWORK_PROXIES, PROXY_VERSION
from cg_predict.proxies._scale import log_scale
from cg_predict.proxies.aggregate import AZ_NAS_COMPONENTS, az_nas_aggregate
from cg_predict.proxies.agreement import TARGETS, proxy_agreement

__all__ = [
    "ALL",
    "AZ_NAS_COMPONENTS",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_INPUT",
    "GRAPH_PROXIES",
    "NETWORK_PROXIES",
    "PROXY_VERSION",
    "SYNTHETIC_INPUTS",
    "SyntheticInput",
    "TARGETS",
    "ProxyCache",
    "ProxyScore",
    "az_nas_aggregate",
    "compute_proxies",
    "log_scale",
    "proxy_agreement",
]
