"""Strategies that query in a fixed order: ``random``, ``cost-order`` and ``proxy-order``.

They are the honest baselines: on NB-201, querying in order of decreasing parameter count
finds the CIFAR-10 best within about 70 queries, so a search result means something only next
to them (same candidates, seeds and query budgets).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from cg_evo.strategies._base import Context, shuffled_descending

__all__ = ["CostOrder", "ProxyOrder", "RandomOrder", "query_in_order"]


def query_in_order(ctx: Context, order: Iterable[int]) -> None:
    """Ask for each candidate in ``order`` (twins of known classes are free)."""
    for index in order:
        ctx.queries.ask(int(index))


class RandomOrder:
    """Uniformly random order of the candidates."""

    name = "random"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Query a seeded permutation of the candidates."""
        query_in_order(ctx, ctx.rng.permutation(len(ctx.space)))


class CostOrder:
    """Largest first by ``settings.cost`` (``params`` or ``flops``).

    Under a budget only candidates that fit are ordered: "largest that fits first".
    """

    name = "cost-order"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Query by decreasing cost, ties in seeded random order."""
        query_in_order(ctx, shuffled_descending(ctx.space.cost(ctx.settings.cost), ctx.rng))


# (family, proxy, key) -> score, for this process: a cached score still costs building the
# module (its weights are part of the disk cache's key), so every seed after the first reads here
_SCORES: dict[tuple[str, str, str], float] = {}


def proxy_scores(ctx: Context, indices: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """``settings.proxy`` of candidates ``indices``, computed live on cg-ir's modules.

    Weights and the synthetic batch are those of cg-predict's live proxies (seed 0), and the
    scores share their disk cache, so every seed and run reuses them.
    """
    from cg_predict.evaluate import live_proxy_cache
    from cg_predict.proxies import DEFAULT_BATCH_SIZE
    from cg_predict.proxies.agreement import cell_proxies

    name, family = ctx.settings.proxy, ctx.space.family.name
    keys = [ctx.space.keys[int(i)] for i in indices]
    missing = [k for k in keys if (family, name, k) not in _SCORES]
    if missing:
        cache = live_proxy_cache(family)
        for key in missing:
            scores = cell_proxies(
                family, key, [name], seed=0, batch_size=DEFAULT_BATCH_SIZE, cache=cache
            )
            _SCORES[family, name, key] = scores[name].value
    return np.array([_SCORES[family, name, k] for k in keys], dtype=np.float64)


class ProxyOrder:
    """Largest first by a zero-cost proxy of cg-predict (``settings.proxy``)."""

    name = "proxy-order"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Score the candidates (or a seeded sample of them) and query by decreasing score."""
        count = len(ctx.space)
        cap = ctx.settings.proxy_candidates
        if cap is None or cap >= count:
            pool = np.arange(count, dtype=np.int64)
        else:
            pool = np.sort(ctx.rng.choice(count, size=cap, replace=False)).astype(np.int64)
        scores = proxy_scores(ctx, pool)
        scores[~np.isfinite(scores)] = np.nan  # -inf: the output ignores the input
        query_in_order(ctx, pool[shuffled_descending(scores, ctx.rng)])
