"""The strategies: registry, baselines (orders, regularized evolution) and predictor searches.

Every run is one seed of ``run_seed`` on the session's whole NB-201 space with small query
budgets; the predictor strategies start from the quick source model (cached on disk).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cg_evo import strategies
from cg_evo.errors import InvalidSearchError, UnknownStrategyError
from cg_evo.oracle import load_oracle
from cg_evo.search import SearchConfig, run_seed
from cg_evo.space import Queries, QueryBudgetExhausted, SearchSpace
from cg_evo.strategies import StrategySettings
from cg_evo.strategies._base import Context, shuffled_descending
from cg_evo.strategies.evolution import PredictorEvolution, _picks
from cg_evo.strategies.local import CostLocalSearch, LocalSearch, PredictorLocalSearch
from cg_evo.surrogate import FineTuneConfig

BUILTIN = [
    "cost-local-search",
    "cost-order",
    "local-search",
    "predictor-ea",
    "predictor-ls",
    "predictor-topk",
    "proxy-order",
    "random",
    "rea",
]
PREDICTOR_STRATEGIES = ["predictor-ea", "predictor-topk", "predictor-ls"]
# greedy: every query a best-predicted mutant (the epsilon-greedy tests below switch it on)
PREDICTOR_SETTINGS = StrategySettings(
    warm_start=5, per_generation=5, mutants=20, random_per_generation=0
)
PREDICTOR_FINE_TUNE = FineTuneConfig(steps=20)


def _run(
    space: Any, strategy: str, queries: int, seed: int = 0, base: Any = None, **kw: Any
) -> dict[str, Any]:
    """One seed of ``strategy`` on ``space`` (``kw``: more ``SearchConfig`` fields)."""
    family = space.family.name
    config = SearchConfig(family, strategy=strategy, queries=queries, seeds=1, quick=True, **kw)
    return run_seed(config, seed, space, base)


def _without_seconds(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "seconds"}


def _assert_pays_distinct(space: Any, run: dict[str, Any], queries: int) -> None:
    index = {k: i for i, k in enumerate(space.keys)}
    classes = [int(space.classes[index[k]]) for k in run["queried"]]
    assert len(run["queried"]) == queries == len(run["labels"])
    assert len(set(classes)) == queries  # every paid query is another network
    assert run["labels"] == [float(space.labels[index[k]]) for k in run["queried"]]


# -- registry (no data) ----------------------------------------------------------------------
def test_registry_lists_the_builtin_strategies() -> None:
    names = strategies.names()
    assert set(BUILTIN) <= set(names) and names == sorted(names)
    for name in BUILTIN:
        strategy = strategies.get(name)
        assert strategy.name == name
        assert strategy.uses_predictor == name.startswith("predictor-")
    assert strategies.get("rea") is not strategies.get("rea")  # a new instance each time


def test_unknown_strategy_lists_the_registered_ones() -> None:
    with pytest.raises(UnknownStrategyError, match="no strategy named 'bayesopt'") as info:
        strategies.get("bayesopt")
    assert all(name in str(info.value) for name in BUILTIN)
    assert isinstance(info.value, InvalidSearchError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownStrategyError, match="'bayesopt'"):
        SearchConfig("nb201", strategy="bayesopt")


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidSearchError, match="zero-shot, cost"):
        StrategySettings(warm_design="latin-hypercube")
    with pytest.raises(InvalidSearchError, match="queries=0"):
        SearchConfig("nb201", strategy="random", queries=0)
    with pytest.raises(InvalidSearchError, match="seeds=0"):
        SearchConfig("nb201", strategy="random", seeds=0)
    for share in (-1, 5):
        with pytest.raises(InvalidSearchError, match=f"random_per_generation={share} must"):
            StrategySettings(per_generation=5, random_per_generation=share)


def _generation(
    ranked: Any, seed: int, explore: bool = True, **settings: Any
) -> tuple[list[int], float]:
    """``_picks`` of one generation, and the next draw of its random generator."""
    rng = np.random.default_rng(seed)
    ctx = Context(space=None, queries=None, rng=rng, settings=StrategySettings(**settings))
    return _picks(ranked, ctx, explore=explore), float(rng.random())


def test_epsilon_greedy_queries_the_best_predicted_then_random_others() -> None:
    ranked = np.arange(100, 140)  # fresh mutants, best-predicted first
    greedy, after = _generation(ranked, 0, per_generation=5, random_per_generation=0)
    assert greedy == [100, 101, 102, 103, 104]
    assert after == np.random.default_rng(0).random()  # no draw: today's runs repeat exactly
    settings = {"per_generation": 5, "random_per_generation": 2}
    draws = [_generation(ranked, seed, **settings)[0] for seed in range(20)]
    for picks in draws:
        assert picks[:3] == [100, 101, 102] and len(set(picks)) == 5
        assert all(103 <= p < 140 for p in picks[3:])  # from the mutants ranked below
    assert len({tuple(p[3:]) for p in draws}) > 10  # drawn, not the next best ones
    # fewer fresh mutants than queries: every one is taken once
    assert sorted(_generation(ranked[:4], 0, **settings)[0]) == [100, 101, 102, 103]
    # a generation that does not explore (the search is still improving) is the greedy one
    assert _generation(ranked, 0, False, **settings) == (greedy, after)


class _TwinSpace:
    """Five rows, rows 1 and 2 twins (class 1); ``mutate`` hands out ``mutants`` in turn."""

    classes = np.array([0, 1, 1, 2, 3])
    labels = np.array([1.0, 2.0, 2.0, 3.0, 4.0])

    def __init__(self, mutants: list[int]) -> None:
        self.mutants, self.calls = mutants, 0

    def __len__(self) -> int:
        return len(self.classes)

    def mutate(self, index: int, rng: Any, known: Any = None) -> int:
        self.calls += 1
        return self.mutants[self.calls % len(self.mutants)]


class _ByClassPredictor:
    """Scores a row by its class, lower classes first (twins alike, as a graph predictor
    scores one graph); never refits."""

    def __init__(self, space: _TwinSpace) -> None:
        self.space = space

    def scores(self, indices: Any) -> Any:
        return -self.space.classes[np.asarray(indices)].astype(float)

    def due(self, paid: int) -> bool:
        return False


# mutants the twins and another network; mutants all known (random unknown rows screened)
@pytest.mark.parametrize("mutants", [[1, 2, 3], [0]])
def test_a_generation_queries_one_twin_of_a_network(mutants: list[int]) -> None:
    space = _TwinSpace(mutants)
    queries = Queries(space, budget=3)
    settings = StrategySettings(
        warm_start=1, per_generation=2, random_per_generation=0, mutants=5, tournament=1
    )
    rng = np.random.default_rng(0)
    ctx = Context(space, queries, rng, settings, _ByClassPredictor(space))
    with pytest.raises(QueryBudgetExhausted):
        PredictorEvolution().run(ctx)
    # the warm start pays for row 0, the generation for one twin of class 1 and for row 3
    assert queries.free_hits == 0
    assert [int(space.classes[i]) for i in queries.order] == [0, 1, 2]


def test_random_after_stall_is_checked() -> None:
    with pytest.raises(InvalidSearchError, match="random_after_stall=-1 must"):
        StrategySettings(random_after_stall=-1)


def test_shuffled_descending_breaks_ties_by_seed_and_puts_nan_last() -> None:
    values = [1.0, 3.0, float("nan"), 3.0, 2.0, 3.0]
    orders = {tuple(shuffled_descending(values, np.random.default_rng(s))) for s in range(30)}
    for order in orders:
        assert set(order[:3]) == {1, 3, 5} and order[3:] == (4, 0, 2)
    assert len(orders) > 1  # ties come in a seeded random order
    again = shuffled_descending(values, np.random.default_rng(7))
    assert again.tolist() == shuffled_descending(values, np.random.default_rng(7)).tolist()


class _Line:
    """Networks 0..n-1 on a line (one class each), the best at ``peak``; network i's nearest
    are i-1 and i+1, then i-2 and i+2 once those are known; its cost is i."""

    def __init__(self, n: int, peak: int) -> None:
        self.classes = np.arange(n)
        self.labels = -np.abs(np.arange(n) - peak).astype(float)
        self.position = np.arange(n, dtype=float)

    def __len__(self) -> int:
        return len(self.classes)

    def cost(self, name: str) -> Any:
        return self.position

    def nearest_candidates(self, index: int, known: Any, widen: bool = True) -> Any:
        distance = np.abs(self.classes - index).astype(float)
        distance[index] = np.inf
        if not widen:
            return np.flatnonzero((distance == 1) & ~known[self.classes])
        distance[known[self.classes]] = np.inf
        return np.flatnonzero(distance == distance.min())


class _ByLabelPredictor:
    """Predicts every label exactly; never refits."""

    def __init__(self, space: _Line) -> None:
        self.space = space

    def scores(self, indices: Any) -> Any:
        return self.space.labels[np.asarray(indices)]

    def due(self, paid: int) -> bool:
        return False


def _climb(
    strategy: Any,
    peak: int,
    seed: int,
    budget: int = 40,
    space: _Line | None = None,
    **settings: Any,
) -> Queries:
    """``strategy`` on a line of 200 networks (or ``space``), one warm-start query, ``budget``
    queries, ``settings`` of ``StrategySettings`` besides."""
    space = space or _Line(200, peak)
    queries = Queries(space, budget)
    settings = StrategySettings(warm_start=1, warm_design="cost", **settings)
    ctx = Context(space, queries, np.random.default_rng(seed), settings, _ByLabelPredictor(space))
    with pytest.raises(QueryBudgetExhausted):
        strategy.run(ctx)
    return queries


@pytest.mark.parametrize("seed", range(5))
def test_local_searches_climb_to_the_peak_from_the_incumbent(seed: int) -> None:
    # from the largest network (199) the cost-ordered climb queries 198 first (the largest
    # unqueried neighbour), then follows the labels down the line: one query per step
    cost_ordered = _climb(CostLocalSearch(), peak=180, seed=seed)
    assert cost_ordered.order[:21] == list(range(199, 178, -1))
    # the best-predicted neighbour is the better one: the same walk, but guided by labels
    guided = _climb(PredictorLocalSearch(), peak=180, seed=seed)
    assert guided.order[:20] == list(range(199, 179, -1))
    # a random neighbour: each wrong turn costs one query, then the search turns back
    walk = _climb(LocalSearch(), peak=100, seed=seed, budget=199)
    start = walk.order[0]
    assert max(walk.labels) == 0.0  # reached the peak
    assert walk.order.index(100) <= 2 * abs(start - 100) + 2
    for i, index in enumerate(walk.order[1:], start=1):
        incumbent = walk.order[int(np.argmax(walk.labels[:i]))]
        assert abs(index - incumbent) == 1 or not {incumbent - 1, incumbent + 1} - set(
            walk.order[:i]
        ), "a query away from the incumbent while a neighbour was unqueried"


def test_a_restart_leaves_a_local_optimum_where_widening_walks_on() -> None:
    # the global peak at 50, a local one at 180 (label -10, its neighbours -11): from the
    # largest network both climbs stop at 180 after 21 queries (199..180, then 179)
    space = _Line(200, peak=50)
    space.labels = np.maximum(space.labels, -np.abs(np.arange(200) - 180) - 10.0)
    walks = {
        move: _climb(PredictorLocalSearch(), 50, 0, space=space, at_local_optimum=move)
        for move in ("widen", "restart")
    }
    for queries in walks.values():
        assert queries.order[:21] == [*range(199, 179, -1), 179]
    # widening queries the nearest unqueried network of 180 (178, then 177, ...); a restart
    # goes to the best-predicted unqueried network of all, the global peak
    assert walks["widen"].order[21:23] == [178, 177] and max(walks["widen"].labels) < 0
    assert walks["restart"].order[21] == 50 and max(walks["restart"].labels) == 0.0


def test_at_local_optimum_is_checked() -> None:
    with pytest.raises(InvalidSearchError, match="at_local_optimum='jump'; choose one of widen"):
        StrategySettings(at_local_optimum="jump")


# -- baselines (benchmark data) --------------------------------------------------------------
@pytest.mark.needs_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cost_order_reaches_the_top_fast_on_nb201(nb201_space, seed: int) -> None:
    run = _run(nb201_space, "cost-order", 20, seed)
    _assert_pays_distinct(nb201_space, run, 20)
    assert run["queries_to_top01"] <= 20  # NB-201's largest cells are among its best
    params = nb201_space.costs["params"]
    first = nb201_space.keys.index(run["queried"][0])
    assert params[first] == params.max()
    queried = [params[nb201_space.keys.index(k)] for k in run["queried"]]
    assert queried == sorted(queried, reverse=True)  # largest first


@pytest.mark.needs_data
@pytest.mark.parametrize(
    ("strategy", "queries", "settings"),
    [
        ("random", 20, StrategySettings()),
        ("rea", 20, StrategySettings(population=5, tournament=3)),
        ("proxy-order", 5, StrategySettings(proxy="synflow", proxy_candidates=8)),
        ("local-search", 30, StrategySettings(warm_start=3)),
        ("cost-local-search", 30, StrategySettings(warm_start=3)),
    ],
)
def test_baselines_pay_exactly_their_budget(nb201_space, strategy, queries, settings) -> None:
    run = _run(nb201_space, strategy, queries, 0, settings=settings)
    _assert_pays_distinct(nb201_space, run, queries)
    assert run["refits"] == [] and run["best_so_far"] == list(np.maximum.accumulate(run["labels"]))


@pytest.mark.needs_data
@pytest.mark.parametrize("strategy", ["random", "rea", "local-search"])
def test_baselines_are_deterministic(nb201_space, strategy: str) -> None:
    settings = StrategySettings(population=5, tournament=3)
    first = _run(nb201_space, strategy, 15, 4, settings=settings)
    second = _run(nb201_space, strategy, 15, 4, settings=settings)
    other = _run(nb201_space, strategy, 15, 5, settings=settings)
    assert first["queried"] == second["queried"]
    assert _without_seconds(first) == _without_seconds(second)
    assert first["queried"] != other["queried"]


@pytest.mark.needs_data
def test_rea_mutates_after_the_random_population(nb201_space) -> None:
    run = _run(nb201_space, "rea", 25, 0, settings=StrategySettings(population=5, tournament=3))
    _assert_pays_distinct(nb201_space, run, 25)
    keys = [tuple(int(c) for c in k.strip("()").split(",")) for k in run["queried"]]
    # each child is one edge from its parent, a population member: a paid query or the free
    # twin of one, so (nearly) every query after the population is one edge from an earlier one
    near = sum(
        any(sum(a != b for a, b in zip(child, earlier, strict=True)) == 1 for earlier in keys[:i])
        for i, child in enumerate(keys[5:], start=5)
    )
    assert near >= 15


@pytest.mark.needs_data
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rea_terminates_in_a_sparse_pool(data_dir, monkeypatch, seed: int) -> None:
    # In NB-301's pool of 725 cells nearest neighbours can be mutual (A's only nearest cell
    # is B and B's is A): once the population holds only such known networks, every mutant is
    # a free hit, so rea must still end (spend its budget, or stop) instead of looping forever.
    space = SearchSpace.from_oracle(load_oracle("nb301", data_dir=data_dir))
    real_ask = Queries.ask
    asks = {"count": 0}

    def guarded(self: Queries, index: int) -> float:
        asks["count"] += 1
        if asks["count"] > 20_000:
            raise AssertionError(
                f"rea asked 20,000 times without ending (paid {self.paid} of {self.budget}): "
                "its mutants are all networks it already knows"
            )
        return real_ask(self, index)

    monkeypatch.setattr(Queries, "ask", guarded)
    run = _run(space, "rea", 10, seed, settings=StrategySettings(population=5, tournament=3))
    assert len(run["queried"]) <= 10
    assert asks["count"] < 20_000


# -- predictor strategies (benchmark data, quick source model) -------------------------------
@pytest.fixture(scope="module")
def predictor_runs(nb201_space, nb201_source) -> dict[str, list[dict[str, Any]]]:
    """Two runs of each predictor strategy, same seed (the expensive part, shared)."""
    return {
        strategy: [
            _run(
                nb201_space,
                strategy,
                20,
                0,
                nb201_source,
                settings=PREDICTOR_SETTINGS,
                fine_tune=PREDICTOR_FINE_TUNE,
            )
            for _ in range(2)
        ]
        for strategy in PREDICTOR_STRATEGIES
    }


@pytest.mark.needs_data
@pytest.mark.parametrize("strategy", PREDICTOR_STRATEGIES)
def test_predictor_strategies_pay_exactly_their_budget(
    nb201_space, predictor_runs, strategy
) -> None:
    run = predictor_runs[strategy][0]
    _assert_pays_distinct(nb201_space, run, 20)
    refits = run["refits"]
    assert refits, "the predictor never learned from the paid labels"
    assert refits == sorted(set(refits)) and refits[0] >= PREDICTOR_SETTINGS.warm_start
    assert refits[-1] < 20


@pytest.mark.needs_data
@pytest.mark.parametrize("strategy", PREDICTOR_STRATEGIES)
def test_predictor_strategies_are_deterministic_on_the_cpu(predictor_runs, strategy) -> None:
    first, second = predictor_runs[strategy]
    assert _without_seconds(first) == _without_seconds(second)


@pytest.mark.needs_data
def test_random_queries_wait_for_a_stall(nb201_space, nb201_source, predictor_runs) -> None:
    def run(**settings: Any) -> dict[str, Any]:
        return _run(
            nb201_space,
            "predictor-ea",
            20,
            0,
            nb201_source,
            settings=dataclasses.replace(PREDICTOR_SETTINGS, **settings),
            fine_tune=PREDICTOR_FINE_TUNE,
        )

    greedy = predictor_runs["predictor-ea"][0]
    # a stall longer than the search never comes: the greedy run, query for query
    never = run(random_per_generation=1, random_after_stall=1000)
    assert _without_seconds(never) == _without_seconds(greedy)
    # no wait: epsilon-greedy from the first generation
    always = run(random_per_generation=1, random_after_stall=0)
    assert always["queried"] != greedy["queried"]


@pytest.mark.needs_data
def test_cost_warm_design_starts_with_the_largest(nb201_space, nb201_source) -> None:
    settings = StrategySettings(
        warm_start=5, per_generation=5, mutants=20, warm_design="cost", cost="params"
    )
    run = _run(
        nb201_space,
        "predictor-ea",
        10,
        0,
        nb201_source,
        settings=settings,
        fine_tune=PREDICTOR_FINE_TUNE,
    )
    _assert_pays_distinct(nb201_space, run, 10)
    params = nb201_space.costs["params"]
    warm = [params[nb201_space.keys.index(k)] for k in run["queried"][:5]]
    assert warm[0] == params.max()
    assert warm == sorted(warm, reverse=True)
    # the same warm start as cost-order's (same seed, same tie-breaking)
    baseline = _run(nb201_space, "cost-order", 5, 0)
    assert run["queried"][:5] == baseline["queried"]


def _warm_designed_run(
    space: Any, source: Any, design: str
) -> tuple[StrategySettings, dict[str, Any]]:
    """8 queries of predictor-ea whose 3 first follow ``design`` on a 12-cell proxy sample."""
    settings = StrategySettings(
        warm_start=3, per_generation=5, mutants=20, warm_design=design, proxy_candidates=12
    )
    run = _run(
        space, "predictor-ea", 8, 0, source, settings=settings, fine_tune=PREDICTOR_FINE_TUNE
    )
    _assert_pays_distinct(space, run, 8)
    return settings, run


@pytest.mark.needs_data
def test_proxy_warm_design_starts_as_proxy_order(nb201_space, nb201_source) -> None:
    settings, run = _warm_designed_run(nb201_space, nb201_source, "proxy")
    # the same warm start as proxy-order's on the same sample (same seed, same tie-breaking)
    baseline = _run(nb201_space, "proxy-order", 3, 0, settings=settings)
    assert run["queried"][:3] == baseline["queried"]


@pytest.mark.needs_data
def test_ensemble_warm_design_starts_with_the_ensembles_best(nb201_space, nb201_source) -> None:
    from cg_evo.proxy_table import score_cells
    from cg_evo.space import in_key_sample
    from cg_evo.strategies.orderings import ENSEMBLE_PROXIES
    from cg_evo.surrogate import SearchPredictor, warm_ensemble
    from cg_predict.ranking import rank_blend

    _, run = _warm_designed_run(nb201_space, nb201_source, "ensemble")
    # the same blend computed here: the ranking's members and weights, on the same sample
    sample = np.flatnonzero(in_key_sample(nb201_space.keys, 12, nb201_space.pool_size))
    keys = [nb201_space.keys[int(i)] for i in sample]
    predictor = SearchPredictor(nb201_source, nb201_space.graphs, PREDICTOR_FINE_TUNE, seed=0)
    columns = predictor.zero_shot_columns(sample)
    for proxy in ENSEMBLE_PROXIES:
        scores = np.array([score_cells("nb201", proxy, keys)[k] for k in keys])
        columns[proxy] = np.where(np.isfinite(scores), scores, -np.inf)
    blend = rank_blend(columns, warm_ensemble("nb201", ENSEMBLE_PROXIES))
    assert run["queried"][:3] == [keys[int(i)] for i in np.argsort(-blend, kind="stable")[:3]]


def test_round_robin_takes_each_order_in_turn() -> None:
    from cg_evo.strategies.evolution import _round_robin

    orders = [np.array([1, 2, 3]), np.array([4]), np.array([1, 5])]
    assert list(_round_robin(orders)) == [1, 4, 1, 2, 5, 3]


@pytest.mark.needs_data
def test_portfolio_warm_design_takes_each_members_first_in_turn(nb201_space, nb201_source) -> None:
    from cg_evo.strategies._base import PORTFOLIO

    settings = StrategySettings(
        warm_start=4, per_generation=5, mutants=20, proxy_candidates=12, warm_design="portfolio"
    )
    run = _run(
        nb201_space, "predictor-ea", 9, 0, nb201_source, settings=settings,
        fine_tune=PREDICTOR_FINE_TUNE,
    )  # fmt: skip
    _assert_pays_distinct(nb201_space, run, 9)
    # each member's own warm start, alone, on the same seed and sample
    firsts = []
    for design in PORTFOLIO:
        alone = dataclasses.replace(settings, warm_design=design)
        member = _run(
            nb201_space, "predictor-ea", 4, 0, nb201_source, settings=alone,
            fine_tune=PREDICTOR_FINE_TUNE,
        )  # fmt: skip
        firsts.append(member["queried"])
    expected: list[str] = []
    for rank in range(4):  # round robin, a cell another member chose first is not paid twice
        for queried in firsts:
            if queried[rank] not in expected and len(expected) < 4:
                expected.append(queried[rank])
    assert run["queried"][:4] == expected


def test_the_ensemble_warm_start_keeps_the_members_the_search_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cg_evo import surrogate
    from cg_evo.surrogate import warm_ensemble
    from cg_predict.evaluate import UNSEEN_FAMILY_BLEND, chosen_zero_shot_ensemble

    chosen = chosen_zero_shot_ensemble("nb301")
    weights = warm_ensemble("nb301", ("synflow",))
    assert set(weights) == {"network", "flops", "params", "synflow"}
    assert sum(weights.values()) == pytest.approx(1.0)
    # rescaled, in the chosen proportions
    assert weights["flops"] / weights["params"] == pytest.approx(chosen["flops"] / chosen["params"])
    # a family without a chosen ensemble takes the one chosen for an unseen family
    unseen = UNSEEN_FAMILY_BLEND["weights"]
    resnet = warm_ensemble("resnet", ())
    assert resnet["network"] / resnet["flops"] == pytest.approx(unseen["network"] / unseen["flops"])
    # an ensemble of proxies the search does not read is refused, not made up
    monkeypatch.setattr(surrogate, "chosen_zero_shot_ensemble", lambda _: {"zico": 1.0})
    with pytest.raises(InvalidSearchError, match="weighs none"):
        warm_ensemble("nb301", ("synflow",))


@pytest.mark.needs_data
def test_the_predictor_blends_with_flops_until_its_first_refit(nb201_space, nb201_source) -> None:
    from cg_evo.surrogate import SearchPredictor
    from cg_predict.ranking import flops_blend
    from cg_predict.training import predict

    config = SearchConfig("nb201", strategy="predictor-ea", quick=True)
    assert config.zero_shot_flops_weight == 0.75  # the protocol's choice for NB-201
    graphs = nb201_space.graphs
    predictor = SearchPredictor(
        nb201_source, graphs, PREDICTOR_FINE_TUNE, seed=0, flops_weight=0.75
    )
    some = np.arange(0, len(graphs), 997)
    network = predict(nb201_source, graphs)
    flops = graphs.graph_feature("log_flops")
    np.testing.assert_allclose(predictor.scores(some), flops_blend(network, flops, 0.75)[some])
    predictor.refit(some[:10].tolist(), nb201_space.labels[some[:10]].tolist())
    (tuned_model,) = predictor.models
    tuned = predict(tuned_model, graphs.subset(some))
    np.testing.assert_allclose(predictor.scores(some), tuned)  # labels: the network alone


@pytest.mark.needs_data
def test_a_predictor_of_several_members_scores_by_their_mean(nb201_space, nb201_source) -> None:
    from cg_evo.surrogate import SearchPredictor
    from cg_predict.training import predict

    # more labels than one batch: members differ by their batches' order (and dropout, where the
    # head has any); on one batch of labels they are the same fine-tune up to rounding
    graphs, some = nb201_space.graphs, np.arange(0, len(nb201_space.graphs), 331)
    paid = (some[:40].tolist(), nb201_space.labels[some[:40]].tolist())
    two = dataclasses.replace(PREDICTOR_FINE_TUNE, members=2)
    ensemble = SearchPredictor(nb201_source, graphs, two, seed=3)
    single = SearchPredictor(nb201_source, graphs, PREDICTOR_FINE_TUNE, seed=3)
    ensemble.refit(*paid)
    single.refit(*paid)
    first, second = (predict(m, graphs.subset(some)) for m in ensemble.models)
    np.testing.assert_allclose(ensemble.scores(some), (first + second) / 2)
    # member 0 is the one-member predictor's fine-tune; the other has its own seed
    np.testing.assert_allclose(first, single.scores(some))
    assert not np.allclose(first, second)


def test_a_predictor_needs_a_member() -> None:
    with pytest.raises(InvalidSearchError, match="members=0"):
        FineTuneConfig(members=0)
