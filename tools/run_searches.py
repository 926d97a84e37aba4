"""Run the search goals at full size: every strategy on every goal space, 20 seeds each.

Writes ``results/search/<space>--<strategy>.json`` (``cg_evo.run_search``'s results document),
the files the book's search chapter shows as the full-size runs. Each file is rewritten after
every seed and a rerun of the same code skips the seeds it holds, so an interrupted run resumes
where it stopped; a file written by other code is recomputed (``force``), since a results file
is current only for the code that wrote it. Run it from a checkout whose code does not change
meanwhile (e.g. a ``git worktree``).

The predictor strategies start from the leave-one-family-out source models of the full transfer
protocol (every labelled cell of the other families, the protocol's epochs): seed ``s`` from
source model ``s mod cg_evo.SOURCE_MODELS``, the model ``cgnas evaluate`` trains for that target's
run ``s mod 5`` and caches. ``proxy-order`` scores every candidate
with synflow (the paper's zero-cost estimator); the run ``best-proxy-order`` is ``proxy-order``
with the proxy that ranks the *other* families best (``search_proxy``: the highest mean SRCC
with accuracy in ``cgnas proxy-agreement``'s runs under ``results/proxies/``, never the
searched family's). Proxies are computed live and cached on disk; before a proxy ordering
runs, ``warm_proxy_cache`` scores the whole pool in worker processes, so the search's first
seed reads them.

Usage: python tools/run_searches.py [--spaces NAME ...] [--runs NAME ...] [--workers N]
       [--no-warm] [--list]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from cg_evo import SearchConfig, load_oracle, run_search
from cg_evo.experiments import (  # the goal spaces and settings live in cg-evo; the book reads
    GOAL_SPACES,  # them here too, with this tool's runs
    PAPER_PROXY,
    SEEDS,  # noqa: F401
    STRATEGIES,
    goal_config,
    slug,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "search"
AGREEMENT = ROOT / "results" / "proxies"
# run name -> cg-evo strategy: every strategy, and proxy-order with the strongest proxy
RUNS = {**{s: s for s in STRATEGIES}, "best-proxy-order": "proxy-order"}
# the paper's Table 2 estimators (each drives its EA) -> the cg-evo run compared with it
PAPER_COUNTERPART = {"Random": "random", "Synflow": "proxy-order", "CL-fine-tune": "predictor-ea"}
# families with a proxy agreement run (CIFAR-10 labels), the evidence search_proxy weighs
AGREEMENT_FAMILIES = ("nb101", "nb201", "nb301")
# never chosen by search_proxy: flops and params are cost-order's orderings; AZ-NAS's
# aggregate costs the sum of its three network components on every candidate
NOT_SEARCH_PROXIES = frozenset({"flops", "params", "az_nas"})
POOL_CHUNK = 1000  # cells scored between two saves of the proxy cache (what a kill loses)
SPACES = GOAL_SPACES  # the goal spaces, under the name the book and tests read


def results_path(space: str, run: str) -> Path:
    """Where the full run ``run`` (a key of ``RUNS``) on ``space`` is written."""
    return RESULTS / f"{slug(space)}--{run}.json"


def best_after(doc: dict[str, Any], queries: int) -> tuple[float, float, int]:
    """Median best label and its rank after ``queries`` paid queries of a results document
    (or after its budget, when smaller), and the number of queries read."""
    summary = doc["summary"]
    used = min(queries, len(summary["best_so_far_median"]))
    return summary["best_so_far_median"][used - 1], summary["rank_so_far_median"][used - 1], used


def agreement_srcc(family: str, root: Path = AGREEMENT) -> dict[str, float]:
    """``{proxy: SRCC with CIFAR-10 accuracy}`` of ``family``'s proxy agreement run."""
    path = root / family / f"{family}-cifar10-smooth.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: run cgnas proxy-agreement --targets {family} "
            f"--n-cells 200 -o {root / family}"
        )
    proxies = json.loads(path.read_text())["proxies"]
    return {name: float(row["srcc_ours_acc"]) for name, row in proxies.items()}


def proxy_evidence(family: str, root: Path = AGREEMENT) -> dict[str, dict[str, float]]:
    """``{other family: {proxy: SRCC}}``: the agreement runs of every family but ``family``."""
    return {f: agreement_srcc(f, root) for f in AGREEMENT_FAMILIES if f != family}


def search_proxy(family: str, root: Path = AGREEMENT) -> str:
    """The proxy ``best-proxy-order`` uses on ``family``: best mean SRCC on the other families.

    Candidates are the single proxies scored in every other family's run (not the cost
    orderings, not an aggregate); the searched family's own labels are never read, so the
    choice is one a user could make before searching a new family.
    """
    evidence = proxy_evidence(family, root)
    shared = set.intersection(*(set(srcc) for srcc in evidence.values())) - NOT_SEARCH_PROXIES
    return max(sorted(shared), key=lambda p: sum(srcc[p] for srcc in evidence.values()))


def search_config(space: str, run: str) -> SearchConfig:
    """The full-size search ``run`` (a strategy, or ``best-proxy-order``) on ``space``."""
    family = GOAL_SPACES[space][0]
    proxy = search_proxy(family) if run == "best-proxy-order" else PAPER_PROXY
    config: SearchConfig = goal_config(space, RUNS[run], proxy=proxy)
    return config


def warm_proxy_cache(config: SearchConfig, workers: int) -> None:
    """Score ``config``'s whole pool with its proxy in ``workers`` processes, cached on disk.

    ``proxy-order`` computes the same scores (same seed, batch and cache file) one network at
    a time in the search's process, saving the cache after each; here the pool is scored in
    parallel and the cache saved every ``POOL_CHUNK`` networks, so an interrupted warm-up
    resumes from its last save.
    """
    from cg_ir.executor import LocalExecutor
    from cg_predict.evaluate import live_proxy_cache
    from cg_predict.proxies import DEFAULT_BATCH_SIZE
    from cg_predict.proxies.agreement import map_cell_proxies

    keys = list(load_oracle(config.family, config.dataset).keys)
    cache = live_proxy_cache(config.family)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # workers take this process's count: one each, no oversubscription
    try:
        with LocalExecutor(workers=workers) as executor:
            for start in range(0, len(keys), POOL_CHUNK):
                map_cell_proxies(
                    config.family,
                    keys[start : start + POOL_CHUNK],
                    [config.settings.proxy],
                    seed=0,
                    batch_size=DEFAULT_BATCH_SIZE,
                    cache=cache,
                    executor=executor,
                    progress=True,
                    desc=f"{config.settings.proxy} {start}/{len(keys)}",
                )
    finally:
        torch.set_num_threads(threads)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the chosen spaces and strategies; print each file's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", choices=list(SPACES), default=list(SPACES))
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS))
    parser.add_argument("--workers", type=int, default=2, help="processes scoring proxies")
    parser.add_argument(
        "--no-warm",
        action="store_true",
        help="skip scoring the pool first (its proxies are cached already: the check costs "
        "as much as the search's own first pass over the pool)",
    )
    parser.add_argument("--list", action="store_true", help="print the files only")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    warmed: set[tuple[str, str]] = set()  # (family, proxy): a family's spaces share one pool
    for space in args.spaces:
        for run in args.runs:
            path = results_path(space, run)
            config = search_config(space, run)
            print(f"{space} / {run} ({config.strategy}) -> {path.name}", flush=True)
            if args.list:
                continue
            start = time.perf_counter()
            pool = (config.family, config.settings.proxy)
            if config.strategy == "proxy-order" and not args.no_warm and pool not in warmed:
                warm_proxy_cache(config, args.workers)
                warmed.add(pool)
            doc = run_search(config, out=path, force=True)
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
