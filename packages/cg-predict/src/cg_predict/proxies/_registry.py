"""The proxies by name: what each needs (a network and a batch, or only the graph)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from cg_ir import ComputationGraph
from cg_predict.errors import UnknownProxyError
from cg_predict.proxies.az_nas import az_expressivity, az_progressivity, az_trainability
from cg_predict.proxies.cost import flops, params
from cg_predict.proxies.fisher import fisher
from cg_predict.proxies.grad_norm import grad_norm
from cg_predict.proxies.grasp import grasp
from cg_predict.proxies.jacov import jacov
from cg_predict.proxies.meco import meco
from cg_predict.proxies.nwot import nwot
from cg_predict.proxies.snip import snip
from cg_predict.proxies.swap import swap, swap_reg
from cg_predict.proxies.synflow import synflow
from cg_predict.proxies.zico import zico

__all__ = ["ALL", "NETWORK_PROXIES", "GRAPH_PROXIES", "PROXY_VERSION", "resolve_names"]

PROXY_VERSION = 1
"""Bumped whenever any proxy's numbers change; part of every cache key."""

NetworkProxy = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]


NETWORK_PROXIES: dict[str, NetworkProxy] = {
    "synflow": synflow,
    "jacov": jacov,
    "snip": snip,
    "grasp": grasp,
    "fisher": fisher,
    "grad_norm": grad_norm,
    "nwot": nwot,
    "zico": zico,
    "meco": meco,
    "swap": swap,
    "swap_reg": swap_reg,
    "az_expressivity": az_expressivity,
    "az_progressivity": az_progressivity,
    "az_trainability": az_trainability,
}
GRAPH_PROXIES: dict[str, Callable[[ComputationGraph], float]] = {"flops": flops, "params": params}

ALL: tuple[str, ...] = (*NETWORK_PROXIES, *GRAPH_PROXIES)
"""Every proxy name, in the order results are reported."""


def resolve_names(names: str | Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple without duplicates, in the given order.

    Raises:
        UnknownProxyError: a name that is not a proxy; the message lists the valid ones.
    """
    listed = (names,) if isinstance(names, str) else tuple(names)
    unknown = [n for n in listed if n not in ALL]
    if unknown:
        raise UnknownProxyError(
            f"unknown zero-cost prox{'ies' if len(unknown) > 1 else 'y'} "
            f"{', '.join(map(repr, unknown))}; valid names: {', '.join(ALL)}"
        )
    return tuple(dict.fromkeys(listed))
