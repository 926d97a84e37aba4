"""Regularized evolution (Real et al., AAAI 2019), with and without a predictor screening it.

``rea``: a population of ``population`` random candidates; then, repeatedly, a tournament of
``tournament`` members picks the best-labelled parent, its mutant is queried and joins the
population, and the oldest member leaves.

``predictor-ea`` (the seed paper's search): the first ``warm_start`` queries follow the declared
initial design (``warm_design``: the source model's best zero-shot candidates, the largest, the
best by the zero-cost proxy, the best by the zero-shot ensemble, or each of those in turn); the
predictor is fine-tuned
on every label paid for (on the ``FineTuneConfig.growth`` schedule). Each generation breeds
``mutants`` mutants by tournament selection from the population, the predictor scores them, and
only the ``per_generation`` best-predicted networks not queried before are queried (one row of
each: twins are one network; they count as queries, as the fine-tuning samples do); they join
the population and the oldest members leave.
With ``random_per_generation`` > 0, that many of the ``per_generation`` queries are drawn at
random from the other unqueried mutants instead (epsilon-greedy): a predictor that prefers one
region otherwise pays only for labels from that region, and its refits cannot learn that it was
wrong. With ``random_after_stall`` > 0, only the generations that follow that many generations
in a row without a better label make random queries.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

from cg_evo.space import Queries
from cg_evo.strategies._base import PORTFOLIO, Context, query_first, shuffled_descending
from cg_evo.strategies.orderings import ensemble_ranking, proxy_ranking

__all__ = [
    "PredictorEvolution",
    "RegularizedEvolution",
    "refit_if_due",
    "unknown_networks",
    "warm_order",
    "warm_start",
]


def _tournament(population: deque[int], queries: Queries, ctx: Context) -> int:
    members = list(population)
    drawn = ctx.rng.choice(len(members), size=min(ctx.settings.tournament, len(members)))
    labels = [queries.label(members[int(i)]) for i in drawn]
    return members[int(drawn[int(np.argmax(labels))])]


class RegularizedEvolution:
    """Oracle-only regularized evolution (``rea``)."""

    name = "rea"
    uses_predictor = False

    def run(self, ctx: Context) -> None:
        """Random initial population, then one mutant of a tournament winner per query."""
        q, space = ctx.queries, ctx.space
        size = ctx.settings.population
        population = deque(query_first(ctx.rng.permutation(len(space)), ctx, size), maxlen=size)
        while True:
            child = space.mutate(_tournament(population, q, ctx), ctx.rng, q.known_classes)
            q.ask(child)
            population.append(child)


def _round_robin(orders: Sequence[npt.NDArray[np.int64]]) -> Iterator[int]:
    """The first candidate of each order in turn, then the second of each, and so on."""
    for rank in range(max(len(order) for order in orders)):
        for order in orders:
            if rank < len(order):
                yield int(order[rank])


def warm_order(ctx: Context, design: str) -> Iterator[int]:
    """The candidates in the order the warm-start ``design`` queries them (repeats possible).

    ``zero-shot``: the source model's best-predicted candidates; ``cost``: the largest by
    ``settings.cost``; ``proxy``: the best by ``settings.proxy`` among the proxy sample, as
    ``proxy-order`` starts (ties in seeded random order); ``ensemble``: the best by the
    family's zero-shot ensemble among the proxy sample (``ensemble_ranking``); ``portfolio``:
    the designs of ``PORTFOLIO`` in turn.
    """
    assert ctx.predictor is not None
    if design == "portfolio":
        orders = [np.fromiter(warm_order(ctx, member), dtype=np.int64) for member in PORTFOLIO]
        return _round_robin(orders)
    if design == "cost":
        order = shuffled_descending(ctx.space.cost(ctx.settings.cost), ctx.rng)
    elif design == "proxy":
        order = proxy_ranking(ctx)
    elif design == "ensemble":
        order = ensemble_ranking(ctx)
    else:
        scores = ctx.predictor.scores(np.arange(len(ctx.space)))
        order = np.argsort(-scores, kind="stable")
    return (int(index) for index in order)


def warm_start(ctx: Context) -> list[int]:
    """Query the ``warm_start`` first distinct candidates of the declared design; return them.

    The design is ``settings.warm_design`` (``warm_order``).
    """
    return query_first(warm_order(ctx, ctx.settings.warm_design), ctx, ctx.settings.warm_start)


def refit_if_due(ctx: Context) -> None:
    """Fine-tune the predictor on all paid labels when the schedule says so."""
    assert ctx.predictor is not None
    q = ctx.queries
    if ctx.predictor.due(q.paid):
        ctx.predictor.refit(q.known_indices(), list(q.labels))


def unknown_networks(candidates: npt.ArrayLike, ctx: Context) -> npt.NDArray[np.int64]:
    """The ``candidates`` whose network is not queried yet, the first row of each, in order.

    Twins (rows of one isomorphism class) are one network with one prediction: a generation
    that screened both could query them both, paying once and getting the second back free, so
    it would query fewer networks than ``per_generation`` and put that network twice in the
    population.
    """
    rows = np.asarray(candidates, dtype=np.int64)
    classes = ctx.space.classes[rows]
    unknown = ~ctx.queries.known_classes[classes]
    _, first = np.unique(classes[unknown], return_index=True)
    return rows[unknown][np.sort(first)]


def _picks(ranked: npt.NDArray[np.int64], ctx: Context, *, explore: bool) -> list[int]:
    """A generation's queries among the fresh mutants ``ranked`` best-predicted first.

    Exploring, the first ``per_generation - random_per_generation``, then
    ``random_per_generation`` drawn at random from the rest; otherwise (or when it is 0) the
    first ``per_generation``, with no draw, so those generations repeat the greedy ones.
    """
    s = ctx.settings
    random_queries = s.random_per_generation if explore else 0
    greedy = s.per_generation - random_queries
    picks = [int(i) for i in ranked[:greedy]]
    rest = ranked[greedy:]
    if random_queries and rest.size:
        size = min(random_queries, rest.size)
        picks += [int(i) for i in ctx.rng.choice(rest, size=size, replace=False)]
    return picks


class PredictorEvolution:
    """Regularized evolution whose mutants are screened by the predictor (``predictor-ea``)."""

    name = "predictor-ea"
    uses_predictor = True

    def run(self, ctx: Context) -> None:
        """Warm start, then generations of screened mutants (see the module docstring)."""
        assert ctx.predictor is not None
        q, space, s = ctx.queries, ctx.space, ctx.settings
        population: deque[int] = deque(warm_start(ctx), maxlen=s.population)
        best = max((q.label(i) for i in population), default=-math.inf)
        stalled = 0  # generations in a row without a better label
        while True:
            refit_if_due(ctx)
            parents = [_tournament(population, q, ctx) for _ in range(s.mutants)]
            mutants = {space.mutate(parent, ctx.rng, q.known_classes) for parent in parents}
            fresh = unknown_networks(sorted(mutants), ctx)
            if fresh.size == 0:  # every mutant is known: screen random unknown candidates
                fresh = unknown_networks(ctx.rng.permutation(len(space))[: s.mutants], ctx)
            scores = ctx.predictor.scores(fresh)
            ranked = fresh[np.argsort(-scores, kind="stable")]
            generation_best = -math.inf
            for index in _picks(ranked, ctx, explore=stalled >= s.random_after_stall):
                q.ask(index)
                population.append(index)
                generation_best = max(generation_best, q.label(index))
            stalled = 0 if generation_best > best else stalled + 1
            best = max(best, generation_best)
