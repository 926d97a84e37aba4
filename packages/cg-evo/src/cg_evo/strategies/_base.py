"""What every strategy gets: the candidates, the paid queries, a seeded generator, settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from cg_evo.names import LOCAL_OPTIMUM_MOVES, WARM_DESIGNS

if TYPE_CHECKING:
    from cg_evo.space import Queries, SearchSpace
    from cg_evo.surrogate import SearchPredictor

__all__ = [
    "ENSEMBLE_PROXIES",
    "PORTFOLIO",
    "WARM_DESIGNS",
    "Context",
    "Strategy",
    "StrategySettings",
    "query_first",
    "shuffled_descending",
]

# The designs the "portfolio" warm start takes its queries from in turn: no single one starts
# well on every family (the best by params on OFA, by the source model on NB-101 and NB-301).
PORTFOLIO = ("zero-shot", "cost", "proxy", "ensemble")
# The network proxies of the ensemble warm start: the two a full search scores over its proxy
# sample anyway (proxy-order's synflow, the paper's; best-proxy-order's MeCo), so the warm start
# adds no proxy evaluation; every other proxy costs a forward and backward pass per cell.
ENSEMBLE_PROXIES = ("synflow", "meco")


@dataclass(frozen=True)
class StrategySettings:
    """Settings shared by the strategies (each reads the ones it needs).

    Attributes:
        population: regularized evolution's population (the newest members survive).
        tournament: members drawn per parent choice; the best-labelled one is the parent.
        mutants: mutants the predictor screens per generation (predictor-ea).
        per_generation: best-predicted candidates queried per generation (predictor-ea and
            predictor-topk).
        random_per_generation: of predictor-ea's ``per_generation`` queries, this many are
            mutants drawn at random among the unqueried ones the predictor ranked below the
            rest (epsilon-greedy), so that the labels a refit learns from are not all from the
            region the predictor already prefers; 0: every query is a best-predicted mutant.
        random_after_stall: predictor-ea makes those random queries only in generations that
            follow this many generations in a row without a better label (0: in every
            generation), so that a search which keeps improving stays greedy. The defaults,
            1 of 5 after 4 (a population's worth of queries), were chosen for every searched
            family on the other families' pools
            (``results/selection/selection-search-stall.json``).
        warm_start: first queries of the predictor strategies.
        warm_design: how they are chosen: ``"zero-shot"`` (the source model's ranking of
            every candidate, the paper's), ``"cost"`` (a declared initial design: largest
            ``cost`` first, as ``cost-order`` starts), ``"proxy"`` (best ``proxy`` first
            among the proxy sample, as ``proxy-order`` starts) or ``"ensemble"`` (best first by
            the family's zero-shot ensemble restricted to the source model, FLOPs, params and
            the proxies the search tables hold, among the proxy sample:
            ``cg_evo.strategies.orderings.ensemble_ranking``) or ``"portfolio"`` (the first
            of each of the designs of ``PORTFOLIO`` in turn, then the second of each, ...).
        at_local_optimum: what the local searches do once every network nearest to their
            centre is queried: ``"widen"`` (query the nearest unqueried networks of the best
            one found so far, farther each time) or ``"restart"`` (start a new climb at the
            first unqueried network of the strategy's order: at random, largest, or
            best-predicted; the best label found so far stays the result).
        cost: the cost ``cost-order`` sorts by, largest first.
        proxy: the cg-predict proxy ``proxy-order`` sorts by, largest first.
        proxy_candidates: about this many of the pool's cells are scored by the proxy
            (``proxy-order``, the ``"proxy"`` warm start): a fixed sample, the same for every
            seed, of which a budgeted space keeps the cells that fit
            (``cg_evo.space.in_key_sample``); None scores every candidate.
    """

    population: int = 20
    tournament: int = 5
    mutants: int = 100
    per_generation: int = 5
    random_per_generation: int = 1
    random_after_stall: int = 4
    warm_start: int = 10
    warm_design: str = "zero-shot"
    at_local_optimum: str = "widen"
    cost: str = "params"
    proxy: str = "synflow"
    proxy_candidates: int | None = None

    def __post_init__(self) -> None:
        from cg_evo.errors import InvalidSearchError

        if self.warm_design not in WARM_DESIGNS:
            raise InvalidSearchError(
                f"warm_design={self.warm_design!r}; choose one of {', '.join(WARM_DESIGNS)}"
            )
        if self.at_local_optimum not in LOCAL_OPTIMUM_MOVES:
            raise InvalidSearchError(
                f"at_local_optimum={self.at_local_optimum!r}; choose one of "
                f"{', '.join(LOCAL_OPTIMUM_MOVES)}"
            )
        if not 0 <= self.random_per_generation < self.per_generation:
            raise InvalidSearchError(
                f"random_per_generation={self.random_per_generation} must be at least 0 and "
                f"below per_generation={self.per_generation} (a generation keeps one "
                "best-predicted query)"
            )
        if self.random_after_stall < 0:
            raise InvalidSearchError(
                f"random_after_stall={self.random_after_stall} must be at least 0"
            )

    def proxies_read(self, strategy: str) -> tuple[str, ...]:
        """The proxies ``strategy`` reads on its proxy sample with these settings.

        ``proxy-order`` reads ``proxy``; a strategy that uses the predictor starts with the
        ``warm_design`` queries (``predictor-ea``, ``predictor-topk``, ``predictor-ls``), which
        read the proxies of that design.

        Examples:
            >>> settings = StrategySettings()
            >>> settings.proxies_read("proxy-order"), settings.proxies_read("rea")
            (('synflow',), ())
            >>> StrategySettings(warm_design="ensemble").proxies_read("predictor-ea")
            ('synflow', 'meco')
            >>> StrategySettings(warm_design="portfolio", proxy="zico").proxies_read("predictor-ls")
            ('zico', 'synflow', 'meco')
        """
        from cg_evo.strategies import get

        if strategy == "proxy-order":
            return (self.proxy,)
        if not get(strategy).uses_predictor:
            return ()
        reads = {
            "proxy": (self.proxy,),
            "ensemble": ENSEMBLE_PROXIES,
            "portfolio": tuple(dict.fromkeys((self.proxy, *ENSEMBLE_PROXIES))),
        }
        return reads.get(self.warm_design, ())

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


@dataclass
class Context:
    """One seed's search state handed to a strategy."""

    space: SearchSpace
    queries: Queries
    rng: np.random.Generator
    settings: StrategySettings
    predictor: SearchPredictor | None = None
    seed: int = 0


class Strategy(Protocol):
    """A search strategy: spends ``ctx.queries`` until its budget raises QueryBudgetExhausted."""

    name: str
    uses_predictor: bool

    def run(self, ctx: Context) -> None:
        """Query candidates through ``ctx.queries.ask`` (the runner stops it at the budget)."""


def shuffled_descending(values: npt.ArrayLike, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Indices by decreasing value, ties in random order, NaN last.

    Examples:
        >>> shuffled_descending([1.0, 3.0, float("nan"), 3.0], np.random.default_rng(0))[-2:]
        array([0, 2])
    """
    v = np.asarray(values, dtype=np.float64)
    key = np.where(np.isnan(v), -np.inf, v)
    tie_break = rng.permutation(len(v))
    return np.lexsort((tie_break, -key)).astype(np.int64)


def query_first(order: Iterable[int], ctx: Context, count: int) -> list[int]:
    """Query the first ``count`` candidates of ``order`` whose network is not known yet.

    Returns them, in order (fewer where ``order`` runs out); known ones are passed over, not asked.
    """
    asked: list[int] = []
    for index in order:
        if len(asked) == count:
            break
        if not ctx.queries.known(int(index)):
            ctx.queries.ask(int(index))
            asked.append(int(index))
    return asked
