"""Run the search goals at full size: every strategy on every goal space, 20 seeds each.

Writes ``results/search/<space>--<strategy>.json`` (``cg_evo.run_search``'s results document),
the files the book's search chapter shows as the full-size runs. Each file is rewritten after
every seed and a rerun of the same code skips the seeds it holds, so an interrupted run resumes
where it stopped; a file written by other code is recomputed (``force``), since a results file
is current only for the code that wrote it. Run it from a checkout whose code does not change
meanwhile (e.g. a ``git worktree``).

The predictor strategies start from the leave-one-family-out source model of the full transfer
protocol (every labelled cell of the other families, the protocol's epochs: the model
``cgnas evaluate`` trains for that target and caches). ``proxy-order`` scores every candidate
with synflow, computed live (cached on disk, so the first seed pays for all).

Usage: python tools/run_searches.py [--spaces NAME ...] [--strategies NAME ...] [--list]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from cg_evo import Budget, SearchConfig, StrategySettings, run_search

RESULTS = Path(__file__).resolve().parents[1] / "results" / "search"
STRATEGIES = ("predictor-ea", "predictor-topk", "rea", "random", "cost-order", "proxy-order")
SEEDS = 20
# space name -> (family, dataset, cost limits, paid queries per seed). "median": that cost's
# median over the pool. ImageNet16-120 gets 300 queries because ordering by parameter count
# needs 256 there, the goal it is measured against.
SPACES = {
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


def slug(text: str) -> str:
    """A file-name-safe version of a space or strategy name."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def results_path(space: str, strategy: str) -> Path:
    """Where the full run of ``strategy`` on ``space`` is written."""
    return RESULTS / f"{slug(space)}--{strategy}.json"


def search_config(space: str, strategy: str) -> SearchConfig:
    """The full-size search of ``strategy`` on ``space``."""
    family, dataset, limits, queries = SPACES[space]
    return SearchConfig(
        family=family,
        dataset=dataset,
        strategy=strategy,
        queries=queries,
        seeds=SEEDS,
        budget=Budget.parse(**limits),
        settings=StrategySettings(cost="params", proxy="synflow"),
    )


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the chosen spaces and strategies; print each file's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", choices=list(SPACES), default=list(SPACES))
    parser.add_argument("--strategies", nargs="+", choices=STRATEGIES, default=list(STRATEGIES))
    parser.add_argument("--list", action="store_true", help="print the files only")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for space in args.spaces:
        for strategy in args.strategies:
            path = results_path(space, strategy)
            print(f"{space} / {strategy} -> {path.name}", flush=True)
            if args.list:
                continue
            start = time.perf_counter()
            doc = run_search(search_config(space, strategy), out=path, force=True)
            summary = doc["summary"]
            print(
                f"  {time.perf_counter() - start:.0f} s; queries to best (median) "
                f"{summary['queries_to_best_median']:g}, to top 0.1% "
                f"{summary['queries_to_top01_median']:g}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
