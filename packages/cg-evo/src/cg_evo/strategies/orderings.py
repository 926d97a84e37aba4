"""Strategies that query in a fixed order: ``random``, ``cost-order`` and ``proxy-order``.

They are the honest baselines: on NB-201, querying in order of decreasing parameter count
finds the CIFAR-10 best within about 70 queries, so a search result means something only next
to them (same candidates, seeds and query budgets).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from cg_evo.proxy_table import score_cells
from cg_evo.space import in_key_sample
from cg_evo.strategies._base import ENSEMBLE_PROXIES, Context, shuffled_descending
from cg_evo.surrogate import warm_ensemble
from cg_predict.ranking import rank_blend

__all__ = [
    "ENSEMBLE_PROXIES",
    "CostOrder",
    "ProxyOrder",
    "RandomOrder",
    "ensemble_ranking",
    "proxy_ranking",
    "query_in_order",
]


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


# (family, proxy, key) -> score, for this process: every seed after the first reads here
_SCORES: dict[tuple[str, str, str], float] = {}


def proxy_scores(
    ctx: Context, indices: npt.NDArray[np.int64], proxy: str | None = None
) -> npt.NDArray[np.float64]:
    """``proxy`` (default ``settings.proxy``) of candidates ``indices``.

    From ``score_cells``, kept for this process.
    """
    name, family = proxy or ctx.settings.proxy, ctx.space.family.name
    keys = [ctx.space.keys[int(i)] for i in indices]
    missing = [k for k in keys if (family, name, k) not in _SCORES]
    if missing:
        for key, value in score_cells(family, name, missing).items():
            _SCORES[family, name, key] = value
    return np.array([_SCORES[family, name, k] for k in keys], dtype=np.float64)


def _proxy_sample(ctx: Context) -> npt.NDArray[np.int64]:
    """The candidates a proxy scores: the space's share of the ``proxy_candidates`` sample."""
    space = ctx.space
    sample = in_key_sample(space.keys, ctx.settings.proxy_candidates, space.pool_size)
    return np.flatnonzero(sample).astype(np.int64)


def proxy_ranking(ctx: Context) -> npt.NDArray[np.int64]:
    """The proxy sample's candidates (``settings.proxy_candidates``) by decreasing proxy score.

    Ties in seeded random order; a score of -inf (the output ignores the input) or NaN last.
    """
    pool = _proxy_sample(ctx)
    scores = proxy_scores(ctx, pool)
    scores[~np.isfinite(scores)] = np.nan
    return pool[shuffled_descending(scores, ctx.rng)]


def ensemble_ranking(ctx: Context) -> npt.NDArray[np.int64]:
    """The proxy sample's candidates by decreasing zero-shot ensemble score.

    The ensemble is ``cg_evo.surrogate.warm_ensemble`` with the proxies ``ENSEMBLE_PROXIES``,
    a rank blend (``cg_predict.ranking.rank_blend``) of the source model's scores, FLOPs,
    params and those proxies on the sample; a proxy score that is not finite ranks lowest.
    Ties in seeded random order.
    """
    assert ctx.predictor is not None
    pool = _proxy_sample(ctx)
    weights = warm_ensemble(ctx.space.family.name, ENSEMBLE_PROXIES)
    columns = ctx.predictor.zero_shot_columns(pool)
    for proxy in ENSEMBLE_PROXIES:
        if proxy in weights:
            scores = proxy_scores(ctx, pool, proxy)
            columns[proxy] = np.where(np.isfinite(scores), scores, -np.inf)
    return pool[shuffled_descending(rank_blend(columns, weights), ctx.rng)]


class ProxyOrder:
    """Largest first by a zero-cost proxy of cg-predict (``settings.proxy``)."""

    name = "proxy-order"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Query the proxy sample's candidates by decreasing score (``proxy_ranking``)."""
        query_in_order(ctx, proxy_ranking(ctx))
