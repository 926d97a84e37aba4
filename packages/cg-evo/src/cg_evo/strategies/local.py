"""Local search around the best network found so far, with and without a predictor.

Local search is a strong baseline on NAS benchmarks (White, Nolen and Savani, "Exploring the
loss landscape in neural architecture search", UAI 2021): on NB-201 the best networks are
few edge changes apart. Here it is the first-improvement form: every query goes to a network
nearest to the centre of the climb, the best one it has found (``SearchSpace
.nearest_candidates``: on NB-201 its single-edge changes not queried yet; in a sparse pool the
nearest pool networks), so the climb moves as soon as a query beats its centre. Once every
nearest network of the centre is queried (a local optimum), ``StrategySettings
.at_local_optimum`` says what follows: ``"widen"`` keeps the climb around the best network
found so far and looks farther (then two-edge changes, and so on), ``"restart"`` starts a new
climb at the first unqueried network of the strategy's order (NASLib's local search restarts
at random). The strategies differ in that order, which also picks among the nearest networks:

- ``local-search``: at random, after ``warm_start`` random queries (the initial design of
  ``rea``'s random population);
- ``cost-local-search``: largest ``cost`` first, after the ``warm_start`` largest networks
  (``cost-order``'s start): the trivial ordering "largest first" applied around the centre;
- ``predictor-ls``: best-predicted first, after ``predictor-ea``'s warm start; the predictor is
  fine-tuned on every label paid for on the ``FineTuneConfig.growth`` schedule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cg_evo.space import IntArray
from cg_evo.strategies._base import Context, query_first, shuffled_descending
from cg_evo.strategies.evolution import refit_if_due, unknown_networks, warm_start

__all__ = ["CostLocalSearch", "LocalSearch", "PredictorLocalSearch", "climb"]

# the first of the given networks in a strategy's order (rows of the space, never empty)
Pick = Callable[[IntArray], int]


def climb(ctx: Context, pick: Pick) -> None:
    """Local search from the best network queried so far until every network is known.

    Every query is ``pick`` of the unqueried networks nearest to the centre (the climb's best,
    the first with its label); at a local optimum ``ctx.settings.at_local_optimum`` widens
    around the best network found so far, or restarts at ``pick`` of every unqueried network.
    """
    q = ctx.queries
    widen = ctx.settings.at_local_optimum == "widen"
    best = int(np.argmax(q.labels))
    centre, centre_label = q.order[best], q.labels[best]
    while True:
        near = unknown_networks(
            ctx.space.nearest_candidates(centre, q.known_classes, widen=widen), ctx
        )
        restart = near.size == 0
        if restart:
            near = unknown_networks(np.arange(len(ctx.space)), ctx)
            if near.size == 0:
                return  # every network is queried
        index = pick(near)
        label = q.ask(index)
        if restart or label > centre_label:
            centre, centre_label = index, label


class LocalSearch:
    """``local-search``: a random network near the centre per query (oracle only)."""

    name = "local-search"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Random initial design, then random networks nearest to the centre."""
        query_first(ctx.rng.permutation(len(ctx.space)), ctx, ctx.settings.warm_start)
        climb(ctx, lambda rows: int(ctx.rng.choice(rows)))


class CostLocalSearch:
    """``cost-local-search``: the largest network near the centre per query (oracle only)."""

    name = "cost-local-search"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """The largest networks first, then the largest nearest to the centre."""
        cost = ctx.space.cost(ctx.settings.cost)
        query_first(shuffled_descending(cost, ctx.rng), ctx, ctx.settings.warm_start)
        climb(ctx, lambda rows: int(rows[shuffled_descending(cost[rows], ctx.rng)[0]]))


class PredictorLocalSearch:
    """``predictor-ls``: the best-predicted network near the centre per query."""

    name = "predictor-ls"
    uses_predictor = True

    def run(self, ctx: Context) -> None:
        """``predictor-ea``'s warm start, then the best-predicted networks near the centre."""
        predictor = ctx.predictor
        assert predictor is not None
        warm_start(ctx)

        def best_predicted(rows: IntArray) -> int:
            refit_if_due(ctx)
            return int(rows[shuffled_descending(predictor.scores(rows), ctx.rng)[0]])

        climb(ctx, best_predicted)
