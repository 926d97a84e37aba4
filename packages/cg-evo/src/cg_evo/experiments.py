"""cg-evo's experiment for ``cgnas reproduce``: every strategy on the search goal spaces.

``GOAL_SPACES`` are the spaces the search goals are measured on (``tools/run_searches.py``
runs them at full size into ``results/search/``); the ``search`` experiment runs every strategy
on them with the same seeds and budgets: in quick mode two NB-201 spaces, 3 seeds, 50 queries,
the quick source models, proxy-order on a sample of 50 candidates and short refits; in full mode
every goal space, 20 seeds, each space's query budget. Both modes also run ``cost-order`` on
NB-201 CIFAR-10 with 500 queries: how far the trivial ordering has to go to find the best.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import benchmark_files

__all__ = [
    "GOAL_SPACES",
    "PAPER_PROXY",
    "SEARCH",
    "SEEDS",
    "STRATEGIES",
    "TRIVIAL_ORDER_QUERIES",
    "TRIVIAL_ORDER_SPACE",
    "goal_config",
    "results_name",
    "slug",
]

STRATEGIES = ("predictor-ea", "predictor-topk", "rea", "random", "cost-order", "proxy-order")
SEEDS = 20
PAPER_PROXY = "synflow"  # the paper's zero-cost estimator (its Table 2): proxy-order's
# space name -> (family, dataset, cost limits, paid queries per seed). "median": that cost's
# median over the pool. ImageNet16-120 gets 300 queries because ordering by parameter count
# needs 256 there, the goal it is measured against.
GOAL_SPACES: Mapping[str, tuple[str, str, dict[str, str], int]] = {
    "NB-201 CIFAR-10": ("nb201", "cifar10", {}, 200),
    "NB-201 CIFAR-10, FLOPs ≤ median": ("nb201", "cifar10", {"max_flops": "median"}, 200),
    "NB-201 CIFAR-100": ("nb201", "cifar100", {}, 200),
    "NB-201 ImageNet16-120": ("nb201", "ImageNet16-120", {}, 300),
    "NB-101 CIFAR-10": ("nb101", "cifar10", {}, 200),
    "NB-101 CIFAR-10, params ≤ median": ("nb101", "cifar10", {"max_params": "median"}, 200),
    "NB-301 CIFAR-10": ("nb301", "cifar10", {}, 200),
    "OFA-MobileNetV3, MACs ≤ 300M": ("ofa-mbv3", "imagenet", {"max_macs": "300M"}, 200),
    "OFA-MobileNetV3, MACs ≤ 400M": ("ofa-mbv3", "imagenet", {"max_macs": "400M"}, 200),
}
_QUICK_SPACES = ("NB-201 CIFAR-10", "NB-201 CIFAR-10, FLOPs ≤ median")
# the quick search (CI, the book's quick mode): every strategy, 3 seeds of 50 queries, proxy-order
# on a seeded sample of 50 candidates and refits of 50 steps, so that it fits reproduce --quick
_QUICK_SEEDS, _QUICK_QUERIES, _QUICK_PROXY_CANDIDATES, _QUICK_FINE_TUNE_STEPS = 3, 50, 50, 50
# how far a trivial ordering has to go: cost-order on NB-201 CIFAR-10 with a budget that reaches
# the best (the book's first measurement), in both modes
TRIVIAL_ORDER_SPACE, TRIVIAL_ORDER_QUERIES = "NB-201 CIFAR-10", 500


def slug(text: str) -> str:
    """A file-name-safe version of a space or strategy name.

    Examples:
        >>> slug("NB-201 CIFAR-10, FLOPs ≤ median")
        'nb-201-cifar-10--flops---median'
    """
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def goal_config(
    space: str,
    strategy: str,
    *,
    proxy: str = PAPER_PROXY,
    quick: bool = False,
    queries: int | None = None,
) -> Any:
    """The ``SearchConfig`` of ``strategy`` on goal space ``space`` (full size unless quick).

    ``queries`` overrides the space's (or the quick) query budget.
    """
    from cg_evo import Budget, FineTuneConfig, SearchConfig, StrategySettings

    family, dataset, limits, budget = GOAL_SPACES[space]
    settings = StrategySettings(cost="params", proxy=proxy)
    fine_tune = FineTuneConfig()
    if quick:
        settings = replace(settings, proxy_candidates=_QUICK_PROXY_CANDIDATES)
        fine_tune = FineTuneConfig(steps=_QUICK_FINE_TUNE_STEPS)
    return SearchConfig(
        family=family,
        dataset=dataset,
        strategy=strategy,
        queries=queries or (_QUICK_QUERIES if quick else budget),
        seeds=_QUICK_SEEDS if quick else SEEDS,
        budget=Budget.parse(**limits),
        settings=settings,
        fine_tune=fine_tune,
        quick=quick,
    )


def results_name(space: str, strategy: str, queries: int | None = None) -> str:
    """The file a search experiment writes for ``strategy`` on ``space``.

    ``queries`` names a run with another query budget than the space's.

    Examples:
        >>> results_name("NB-201 CIFAR-10", "cost-order", 500)
        'nb-201-cifar-10--cost-order--q500.json'
    """
    tail = "" if queries is None else f"--q{queries}"
    return f"{slug(space)}--{strategy}{tail}.json"


def _search(ctx: RunContext) -> dict[str, Any]:
    spaces = _QUICK_SPACES if ctx.quick else tuple(GOAL_SPACES)
    rows, curves, headline = [], {}, {}
    for space in spaces:
        for strategy in STRATEGIES:
            summary = _run(ctx, space, strategy)["summary"]
            rows.append(
                [
                    space,
                    strategy,
                    summary["queries_to_best_median"],
                    summary["queries_to_top01_median"],
                    summary["final_best_median"],
                    summary["final_rank_median"],
                ]
            )
            curves[space, strategy] = summary["rank_so_far_median"]
            headline[f"{space} / {strategy}"] = summary["queries_to_best_median"]
    trivial = _run(ctx, TRIVIAL_ORDER_SPACE, "cost-order", TRIVIAL_ORDER_QUERIES)["summary"]
    headline[f"{TRIVIAL_ORDER_SPACE} / cost-order, {TRIVIAL_ORDER_QUERIES} queries"] = trivial[
        "queries_to_best_median"
    ]
    ctx.write_csv(
        "search.csv",
        [
            "space",
            "strategy",
            "queries_to_best_median",
            "queries_to_top01_median",
            "final_best_median",
            "final_rank_median",
        ],
        rows,
    )
    _curves_figure(ctx, spaces, curves)
    return headline


def _run(ctx: RunContext, space: str, strategy: str, queries: int | None = None) -> Any:
    """Run (or resume) one search of the experiment into its file; its results document."""
    from cg_evo import run_search

    config = goal_config(space, strategy, quick=ctx.quick, queries=queries)
    ctx.seeds[:] = sorted({*ctx.seeds, *range(config.seeds)})
    return run_search(
        config,
        data_dir=ctx.data_dir,
        out=ctx.path(results_name(space, strategy, queries)),
        backend=ctx.backend,
        device=ctx.device,
        progress=ctx.progress,
        # this run is due (other code or configuration made the folder): recompute what other
        # code wrote, resume what this code did
        force=True,
    )


def _curves_figure(
    ctx: RunContext, spaces: tuple[str, ...], curves: dict[tuple[str, str], list[float]]
) -> None:
    """Median rank of the best-so-far architecture against paid queries, per space."""
    with ctx.figure("search.png", len(spaces), (4.6, 3.6)) as axes:
        for ax, space in zip(axes, spaces, strict=True):
            for (where, strategy), ranks in curves.items():
                if where == space:
                    ax.plot(range(1, len(ranks) + 1), ranks, label=strategy)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("paid oracle queries")
            ax.set_ylabel("rank of the best so far (median over seeds)")
            ax.set_title(space, fontsize=9)
        axes[0].legend(fontsize=7)


SEARCH = Experiment(
    "search",
    "Predictor-guided search against REA, random, cost and proxy orderings",
    _search,
    code=("cg_ir", "cg_predict", "cg_evo"),
    data=benchmark_files,  # every benchmark file, checked to exist
    order=50,
    full_minutes=330,
    quick_minutes=5,
)
