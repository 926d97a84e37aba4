"""Local search around the best network found so far, with and without a predictor.

Local search is a strong baseline on NAS benchmarks (White, Nolen and Savani, "Exploring the
loss landscape in neural architecture search", UAI 2021): on NB-201 the best networks are
few edge changes apart. Here it is the first-improvement form: every query goes to a network
nearest to the best one found so far (``SearchSpace.nearest_candidates``: on NB-201 its
single-edge changes not queried yet, then two-edge ones; in a sparse pool the nearest pool
networks), so the search moves as soon as a query beats the incumbent, and widens its radius
around the incumbent when every nearer network is queried instead of restarting elsewhere.
The strategies differ in which of those networks they query first:

- ``local-search``: one at random, after ``warm_start`` random queries (the initial design of
  ``rea``'s random population);
- ``cost-local-search``: the largest by ``cost``, after the ``warm_start`` largest networks
  (``cost-order``'s start): the trivial ordering "largest first" applied around the incumbent;
- ``predictor-ls``: the best-predicted, after ``predictor-ea``'s warm start; the predictor is
  fine-tuned on every label paid for on the ``FineTuneConfig.growth`` schedule.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cg_evo.strategies._base import Context, query_first, shuffled_descending
from cg_evo.strategies.evolution import refit_if_due, unknown_networks, warm_start

__all__ = ["CostLocalSearch", "LocalSearch", "PredictorLocalSearch", "incumbent_neighbours"]


def incumbent_neighbours(ctx: Context) -> npt.NDArray[np.int64]:
    """The unqueried networks nearest to the best one queried so far, one row of each.

    The incumbent is the first network queried with the best label. Empty once every
    network is queried.
    """
    q = ctx.queries
    incumbent = q.order[int(np.argmax(q.labels))]
    nearest = ctx.space.nearest_candidates(incumbent, q.known_classes)
    return unknown_networks(nearest, ctx)


class LocalSearch:
    """``local-search``: a random network near the incumbent per query (oracle only)."""

    name = "local-search"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Random initial design, then random networks nearest to the incumbent."""
        query_first(ctx.rng.permutation(len(ctx.space)), ctx, ctx.settings.warm_start)
        while (near := incumbent_neighbours(ctx)).size:
            ctx.queries.ask(int(ctx.rng.choice(near)))


class CostLocalSearch:
    """``cost-local-search``: the largest network near the incumbent per query (oracle only)."""

    name = "cost-local-search"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """The largest networks first, then the largest nearest to the incumbent."""
        cost = ctx.space.cost(ctx.settings.cost)
        query_first(shuffled_descending(cost, ctx.rng), ctx, ctx.settings.warm_start)
        while (near := incumbent_neighbours(ctx)).size:
            ctx.queries.ask(int(near[shuffled_descending(cost[near], ctx.rng)[0]]))


class PredictorLocalSearch:
    """``predictor-ls``: the best-predicted network near the incumbent per query."""

    name = "predictor-ls"
    uses_predictor = True

    def run(self, ctx: Context) -> None:
        """``predictor-ea``'s warm start, then the best-predicted networks near the incumbent."""
        assert ctx.predictor is not None
        warm_start(ctx)
        while True:
            refit_if_due(ctx)
            near = incumbent_neighbours(ctx)
            if near.size == 0:
                return  # every network is queried
            scores = ctx.predictor.scores(near)
            ctx.queries.ask(int(near[shuffled_descending(scores, ctx.rng)[0]]))
