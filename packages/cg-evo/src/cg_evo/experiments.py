"""cg-evo's experiment for ``cgnas reproduce``: every strategy on the search goal spaces.

``GOAL_SPACES`` are the spaces the search goals are measured on (``tools/run_searches.py``
runs them at full size into ``results/search/``); the ``search`` experiment runs every strategy
on them with the same seeds and budgets: in quick mode two NB-201 spaces, 3 seeds, 50 queries
and the quick source model; in full mode every goal space, 20 seeds, each space's query budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import benchmark_files

__all__ = [
    "GOAL_SPACES",
    "PAPER_PROXY",
    "SEARCH",
    "SEEDS",
    "STRATEGIES",
    "goal_config",
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
_QUICK_STRATEGIES = ("predictor-ea", "rea", "random", "cost-order")
_QUICK_SEEDS, _QUICK_QUERIES = 3, 50


def slug(text: str) -> str:
    """A file-name-safe version of a space or strategy name.

    Examples:
        >>> slug("NB-201 CIFAR-10, FLOPs ≤ median")
        'nb-201-cifar-10--flops---median'
    """
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def goal_config(space: str, strategy: str, *, proxy: str = PAPER_PROXY, quick: bool = False) -> Any:
    """The ``SearchConfig`` of ``strategy`` on goal space ``space`` (full size unless quick)."""
    from cg_evo import Budget, SearchConfig, StrategySettings

    family, dataset, limits, queries = GOAL_SPACES[space]
    return SearchConfig(
        family=family,
        dataset=dataset,
        strategy=strategy,
        queries=_QUICK_QUERIES if quick else queries,
        seeds=_QUICK_SEEDS if quick else SEEDS,
        budget=Budget.parse(**limits),
        settings=StrategySettings(cost="params", proxy=proxy),
        quick=quick,
    )


def _search(ctx: RunContext) -> dict[str, Any]:
    from cg_evo import run_search

    spaces = _QUICK_SPACES if ctx.quick else tuple(GOAL_SPACES)
    strategies = _QUICK_STRATEGIES if ctx.quick else STRATEGIES
    rows, curves, headline = [], {}, {}
    for space in spaces:
        for strategy in strategies:
            config = goal_config(space, strategy, quick=ctx.quick)
            ctx.seeds[:] = list(range(config.seeds))
            doc = run_search(
                config,
                data_dir=ctx.data_dir,
                out=ctx.path(f"{slug(space)}--{strategy}.json"),
                backend=ctx.backend,
                device=ctx.device,
                progress=ctx.progress,
            )
            summary = doc["summary"]
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
)
