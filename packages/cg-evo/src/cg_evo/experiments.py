"""cg-evo's experiment for ``cgnas reproduce``: every strategy on the search goal spaces.

``GOAL_SPACES`` are the spaces the search goals are measured on; the ``search`` experiment runs
every strategy on them with the same seeds and budgets. Quick mode: two NB-201 spaces, 3 seeds,
50 queries, the quick source models, proxy-order on a sample of 50 candidates and short refits.
Full mode (the paper-scale runs, ``cgnas reproduce --full --only search``): every goal space,
20 seeds, each space's query budget, the full protocol's source models, proxy orderings over
every candidate except on NB-101 (``FULL_PROXY_SAMPLE``), and one more run,
``best-proxy-order``: ``proxy-order`` with the proxy that ranks the *other* families best
(``BEST_PROXY``). Both modes also run ``cost-order`` on NB-201 CIFAR-10 with 500 queries: how
far the trivial ordering has to go to find the best.

Without a benchmark data folder (no ``--data-dir``, no ``$CGNAS_DATA_DIR``) it runs what the
installed packages allow: the NB-201 CIFAR-10 spaces on AnalogNAS-Bench's labels with the
strategies that train no source model (``DATA_FREE_RUNS``), and says what the rest needs.

A proxy ordering first scores its sample of the pool (``warm_proxy_cache``) into cg-evo's
score table (``cg_evo.proxy_table``), saved every thousand networks, so that its seeds read
the scores instead of each computing them. With ``--workers N`` (the experiment run alone)
that scoring and the seeds of each run go to N processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from cg_evo.names import BUILTIN_STRATEGIES
from cg_ir.experiments import Experiment, RunContext
from cg_predict.data import benchmark_files, data_dir_configured

__all__ = [
    "AGREEMENT_FAMILIES",
    "BEST_PROXY",
    "DATA_FREE_RUNS",
    "DATA_FREE_SPACES",
    "FULL_PROXY_SAMPLE",
    "GOAL_SPACES",
    "PAPER_COUNTERPART",
    "PAPER_PROXY",
    "RUNS",
    "SEARCH",
    "SEARCH_LOCAL_OPTIMUM",
    "SEARCH_MEMBERS",
    "SEARCH_WARM_DESIGNS",
    "SEEDS",
    "STRATEGIES",
    "TRIVIAL_ORDER_QUERIES",
    "TRIVIAL_ORDER_SPACE",
    "agreement_evidence",
    "best_after",
    "goal_config",
    "results_name",
    "search_plan",
    "search_proxy",
    "selected_choices",
    "slug",
    "warm_proxy_cache",
]

# predictor-ls and the two local searches came after the full-size runs had shown predictor-ea
# stalling on NB-201 CIFAR-10 (one edge from the best networks): the local searches are a
# published baseline (cg_evo.strategies.local); predictor-ls runs with predictor-ea's default
# predictor (SEARCH_MEMBERS is predictor-ea's) and its own warm start (SEARCH_WARM_DESIGNS), and
# every local search with its own move at a local optimum (SEARCH_LOCAL_OPTIMUM)
STRATEGIES = BUILTIN_STRATEGIES  # every built-in strategy
# run name -> strategy: every strategy, and (full mode) proxy-order with the strongest proxy
RUNS: Mapping[str, str] = {**{s: s for s in STRATEGIES}, "best-proxy-order": "proxy-order"}
# the paper's Table 2 estimators (each drives its EA) -> the run compared with it
PAPER_COUNTERPART = {"Random": "random", "Synflow": "proxy-order", "CL-fine-tune": "predictor-ea"}
SEEDS = 20
PAPER_PROXY = "synflow"  # the paper's zero-cost estimator (its Table 2): proxy-order's
# best-proxy-order's proxy per searched family: what search_proxy's rule chose on the other
# families' proxy agreement runs (results/proxies/, cgnas proxy-agreement, 200 cells each),
# declared here so that a search never depends on which results folder is at hand; a repository
# test checks that the rule still makes these choices on the committed evidence
BEST_PROXY: Mapping[str, str] = {
    "nb101": "meco",
    "nb201": "meco",
    "nb301": "meco",
    "ofa-mbv3": "meco",
}
# each predictor strategy's warm-start design where a selection changed it. predictor-ea:
# results/selection/selection-search-ensemble-warm.json (tools/select_search_predictor.py,
# dominance rule, declared before its folds ran; it supersedes selection-search-proxy-warm.json,
# whose choice, the best proxy's top ten for OFA, it compared again) chose the zero-shot
# ensemble's top ten for NB-101 only (better than the default on the NB-201, NB-301 and OFA
# pools); selection-search-portfolio-warm.json (stop 39, the default against the portfolio)
# chose the portfolio for OFA (better on the NB-101, NB-201 and NB-301 pools) and kept the
# default elsewhere (the portfolio did worse on OFA's pool), which leaves NB-101's ensemble,
# never compared with it, in place. predictor-ls: selection-search-local-warm.json (stops 48-49,
# predictor-ls with its restart against the same with the portfolio, dominance rule, declared
# before its folds ran) chose the portfolio for OFA (better on the NB-101, NB-201 and NB-301
# pools) and kept the zero-shot ranking elsewhere (the portfolio did worse on OFA's pool)
SEARCH_WARM_DESIGNS: Mapping[str, Mapping[str, str]] = {
    "predictor-ea": {"nb101": "ensemble", "ofa-mbv3": "portfolio"},
    "predictor-ls": {"ofa-mbv3": "portfolio"},
}
# predictor-ea's fine-tuned members (FineTuneConfig.members) where a selection changed them:
# results/selection/selection-search-members.json (stop 41, the default against three members,
# dominance rule, declared before its folds ran) chose three for NB-201 (better on the NB-101 and
# NB-301 pools, the same on OFA's) and kept one elsewhere (three did worse on NB-201's pool)
SEARCH_MEMBERS: Mapping[str, int] = {"nb201": 3}
# each local search's move at a local optimum (StrategySettings.at_local_optimum) where a
# selection changed it: results/selection/selection-search-local-optimum-<strategy>.json (stop
# 48, "<strategy> widen" against "<strategy> restart" for each local search, dominance rule,
# declared before its folds ran) chose a restart for predictor-ls on every family (better on the
# NB-101, NB-301 and OFA pools, the same curve on NB-201's: the climbs checked, seeds 60-63, met
# their first local optimum at the best network itself, so the moves differ only after it), for
# cost-local-search on OFA only (better on the NB-101 and NB-301 pools, the same on NB-201's;
# worse on OFA's, which blocks it elsewhere) and kept widening for local-search everywhere (a
# random restart did worse on every pool but NB-201's)
SEARCH_LOCAL_OPTIMUM: Mapping[str, Mapping[str, str]] = {
    "predictor-ls": dict.fromkeys(("nb101", "nb201", "nb301", "ofa-mbv3"), "restart"),
    "cost-local-search": {"ofa-mbv3": "restart"},
}
# family -> cells its proxy orderings score in full mode (about; cg_evo.space.in_key_sample),
# where scoring the whole pool does not fit: on one core here synflow takes 1.3 s and MeCo
# 2.6 s per NB-101 network, about 32 CPU-hours for both on its 30,001 cells. 3,000 cells
# (a tenth) take about 3 hours; the other pools are scored whole.
FULL_PROXY_SAMPLE: Mapping[str, int] = {"nb101": 3000}
# families with a proxy agreement run (CIFAR-10 labels), the evidence search_proxy weighs
AGREEMENT_FAMILIES = ("nb101", "nb201", "nb301")
# never chosen by search_proxy: flops and params are cost-order's orderings; AZ-NAS's
# aggregate costs the sum of its three network components on every candidate
_NOT_SEARCH_PROXIES = frozenset({"flops", "params", "az_nas"})
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
# without a data folder: the spaces whose oracle ships with an installed package (AnalogNAS-Bench,
# NB-201 CIFAR-10) and the runs that need no source family's labels
DATA_FREE_SPACES = ("NB-201 CIFAR-10", "NB-201 CIFAR-10, FLOPs ≤ median")
DATA_FREE_RUNS = ("rea", "random", "cost-order", "proxy-order", "local-search", "cost-local-search")
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


def goal_config(space: str, run: str, *, quick: bool = False, queries: int | None = None) -> Any:
    """The ``SearchConfig`` of ``run`` (a key of ``RUNS``) on goal space ``space``.

    Full size unless ``quick``; ``queries`` overrides the space's (or the quick) query budget.

    Examples:
        >>> goal_config("NB-201 CIFAR-100", "best-proxy-order").settings.proxy
        'meco'
    """
    from cg_evo import Budget, FineTuneConfig, SearchConfig, StrategySettings

    family, dataset, limits, budget = GOAL_SPACES[space]
    proxy = BEST_PROXY[family] if run == "best-proxy-order" else PAPER_PROXY
    chosen = selected_choices(family, run)
    fine_tune = FineTuneConfig(members=chosen.pop("members", FineTuneConfig.members))
    defaults = {"cost": "params", "proxy": proxy, "proxy_candidates": FULL_PROXY_SAMPLE.get(family)}
    settings = StrategySettings(**{**defaults, **chosen})
    if quick:
        settings = replace(settings, proxy_candidates=_QUICK_PROXY_CANDIDATES)
        fine_tune = replace(fine_tune, steps=_QUICK_FINE_TUNE_STEPS)
    return SearchConfig(
        family=family,
        dataset=dataset,
        strategy=RUNS[run],
        queries=queries or (_QUICK_QUERIES if quick else budget),
        seeds=_QUICK_SEEDS if quick else SEEDS,
        budget=Budget.parse(**limits),
        settings=settings,
        fine_tune=fine_tune,
        quick=quick,
    )


def selected_choices(family: str, strategy: str) -> dict[str, Any]:
    """What the search selections chose for ``strategy`` on ``family`` where it is no default.

    Keys are ``StrategySettings`` fields (``warm_design``, with ``proxy``: the family's best
    proxy where that design reads one, as its selection ran; ``at_local_optimum``) and
    ``members`` (``FineTuneConfig.members``), from ``SEARCH_WARM_DESIGNS``, ``SEARCH_MEMBERS``
    and ``SEARCH_LOCAL_OPTIMUM``. The ``search`` experiment and ``cgnas search`` (for every
    option not given) apply them.

    Examples:
        >>> selected_choices("ofa-mbv3", "predictor-ea")
        {'warm_design': 'portfolio', 'proxy': 'meco'}
        >>> selected_choices("nb201", "predictor-ea"), selected_choices("nb201", "rea")
        ({'members': 3}, {})
    """
    chosen: dict[str, Any] = {}
    if family in SEARCH_WARM_DESIGNS.get(strategy, {}):
        chosen["warm_design"] = SEARCH_WARM_DESIGNS[strategy][family]
        if chosen["warm_design"] in ("proxy", "portfolio"):
            chosen["proxy"] = BEST_PROXY[family]
    if strategy == "predictor-ea" and family in SEARCH_MEMBERS:
        chosen["members"] = SEARCH_MEMBERS[family]
    if family in SEARCH_LOCAL_OPTIMUM.get(strategy, {}):
        chosen["at_local_optimum"] = SEARCH_LOCAL_OPTIMUM[strategy][family]
    return chosen


def results_name(space: str, run: str, queries: int | None = None) -> str:
    """The file a search experiment writes for ``run`` on ``space``.

    ``queries`` names a run with another query budget than the space's.

    Examples:
        >>> results_name("NB-201 CIFAR-10", "cost-order", 500)
        'nb-201-cifar-10--cost-order--q500.json'
    """
    tail = "" if queries is None else f"--q{queries}"
    return f"{slug(space)}--{run}{tail}.json"


def best_after(doc: Mapping[str, Any], queries: int) -> tuple[float, float, int]:
    """Median best label, its rank and the queries read, after ``queries`` paid queries.

    Read from a results document's median curves; after its budget where that is smaller.
    """
    summary = doc["summary"]
    used = min(queries, len(summary["best_so_far_median"]))
    return summary["best_so_far_median"][used - 1], summary["rank_so_far_median"][used - 1], used


def agreement_evidence(
    root: str | Path, families: Iterable[str] = AGREEMENT_FAMILIES
) -> dict[str, dict[str, float]]:
    """``{family: {proxy: SRCC with CIFAR-10 accuracy}}``: the proxy agreement runs in ``root``.

    Each family's run is ``<family>/<family>-cifar10-smooth.json``, as ``cgnas proxy-agreement``
    writes it.

    Raises:
        MissingResultError: (a ``FileNotFoundError``) a family's run is missing (the message
            says how to make it).
    """
    from cg_evo.errors import MissingResultError

    evidence = {}
    for family in families:
        path = Path(root) / family / f"{family}-cifar10-smooth.json"
        if not path.exists():
            raise MissingResultError(
                f"{path} is missing: run cgnas proxy-agreement --targets {family} "
                f"--n-cells 200 -o {Path(root) / family}"
            )
        proxies = json.loads(path.read_text())["proxies"]
        evidence[family] = {name: float(row["srcc_ours_acc"]) for name, row in proxies.items()}
    return evidence


def search_proxy(family: str, evidence: Mapping[str, Mapping[str, float]]) -> str:
    """The proxy for ordering ``family``: the best mean SRCC over the *other* families.

    Candidates are the single proxies scored in every other family's ``evidence`` (not the
    cost orderings, not an aggregate); ``family``'s own entry is never read, so the choice is
    one a user could make before searching a new family.

    Examples:
        >>> evidence = {"a": {"x": 0.9, "y": 0.1}, "b": {"x": 0.2, "y": 0.5}}
        >>> search_proxy("a", evidence), search_proxy("c", evidence)
        ('y', 'x')
    """
    others = [srcc for f, srcc in evidence.items() if f != family]
    shared = set.intersection(*(set(srcc) for srcc in others)) - _NOT_SEARCH_PROXIES
    return max(sorted(shared), key=lambda p: sum(srcc[p] for srcc in others))


def warm_proxy_cache(config: Any, proxy: str, ctx: RunContext) -> None:
    """Score ``config``'s proxy sample of the pool by ``proxy`` into the score table.

    On ``ctx``'s executor. The search reads the same scores (``cg_evo.proxy_table``); here the
    cells the table lacks are scored once, in parallel, and the table saved as it fills, so an
    interrupted warm-up resumes from its last save (``ProxyTable.fill``).
    """
    from cg_evo import load_oracle
    from cg_evo.proxy_table import ProxyTable
    from cg_evo.space import in_key_sample

    pool = list(load_oracle(config.family, config.dataset, ctx.data_dir).keys)
    sample = in_key_sample(pool, config.settings.proxy_candidates, len(pool))
    with ctx.executor() as executor:
        ProxyTable(config.family, proxy).fill(
            [k for k, kept in zip(pool, sample, strict=True) if kept],
            executor=executor,
            progress=ctx.progress,
        )


def _search_data(data_dir: Path | None) -> Mapping[str, Path]:
    """Every benchmark file where a data folder is set (one missing skips the experiment).

    None without a folder: the data-free runs read none.
    """
    return benchmark_files(data_dir) if data_dir_configured(data_dir) else {}


def search_plan(quick: bool, data_dir: Path | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The spaces and runs of the ``search`` experiment (without a data folder: data-free ones).

    Examples:
        >>> search_plan(True, Path("data"))[1] == STRATEGIES
        True
    """
    spaces = _QUICK_SPACES if quick else tuple(GOAL_SPACES)
    runs = STRATEGIES if quick else tuple(RUNS)
    if data_dir_configured(data_dir):
        return spaces, runs
    return (
        tuple(s for s in spaces if s in DATA_FREE_SPACES),
        tuple(r for r in runs if r in DATA_FREE_RUNS),
    )


def _say_what_needs_data(spaces: tuple[str, ...], runs: tuple[str, ...]) -> None:
    """One line: what runs without a data folder, and cg-predict's word on setting one."""
    from cg_predict.errors import BenchmarkDataError

    try:
        benchmark_files(None)  # raises without a folder: its message says how to set one
    except BenchmarkDataError as missing:
        print(
            f"search: no benchmark data folder: {' and '.join(spaces)} on AnalogNAS-Bench's "
            f"labels, runs {', '.join(runs)} only; the other spaces and the predictor runs need "
            f"the benchmark data ({missing})",
            flush=True,
        )


def _search(ctx: RunContext) -> dict[str, Any]:
    spaces, runs = search_plan(ctx.quick, ctx.data_dir)
    if not data_dir_configured(ctx.data_dir):
        _say_what_needs_data(spaces, runs)
    rows, curves, headline = [], {}, {}
    warmed: set[tuple[str, str]] = set()  # (family, proxy): a family's spaces share one pool
    for space in spaces:
        for run in runs:
            summary = _run(ctx, space, run, warmed=warmed)["summary"]
            rows.append(
                [
                    space,
                    run,
                    summary["queries_to_best_median"],
                    summary["queries_to_top01_median"],
                    summary["final_best_median"],
                    summary["final_rank_median"],
                ]
            )
            curves[space, run] = summary["rank_so_far_median"]
            headline[f"{space} / {run}"] = summary["queries_to_best_median"]
    trivial = _run(ctx, TRIVIAL_ORDER_SPACE, "cost-order", queries=TRIVIAL_ORDER_QUERIES)
    headline[f"{TRIVIAL_ORDER_SPACE} / cost-order, {TRIVIAL_ORDER_QUERIES} queries"] = trivial[
        "summary"
    ]["queries_to_best_median"]
    ctx.write_csv(
        "search.csv",
        [
            "space",
            "run",
            "queries_to_best_median",
            "queries_to_top01_median",
            "final_best_median",
            "final_rank_median",
        ],
        rows,
    )
    _curves_figure(ctx, spaces, curves)
    return headline


def _run(
    ctx: RunContext,
    space: str,
    run: str,
    *,
    queries: int | None = None,
    warmed: set[tuple[str, str]] | None = None,
) -> Any:
    """Run (or resume) one search of the experiment into its file; its results document.

    A search that reads proxies on its sample of the pool (``StrategySettings.proxies_read``)
    scores it first
    (``warm_proxy_cache``), once per ``(family, proxy)`` of ``warmed``: its seeds then read
    every score from the table.
    """
    from cg_evo import run_search

    config = goal_config(space, run, quick=ctx.quick, queries=queries)
    for proxy in config.settings.proxies_read(config.strategy):
        if warmed is not None and (config.family, proxy) not in warmed:
            warm_proxy_cache(config, proxy, ctx)
            warmed.add((config.family, proxy))
    ctx.seeds[:] = sorted({*ctx.seeds, *range(config.seeds)})
    return run_search(
        config,
        data_dir=ctx.data_dir,
        out=ctx.path(results_name(space, run, queries)),
        backend=ctx.backend,
        workers=ctx.workers,
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
    "Predictor-guided search against REA, random, local search, cost and proxy orderings",
    _search,
    code=("cg_ir", "cg_predict", "cg_evo"),
    data=_search_data,  # every benchmark file, checked to exist, where a data folder is set
    order=50,
    # from scratch on one core: scoring pools with synflow and MeCo (NB-201 ~2.6 h, NB-101's
    # sample ~3.2 h, OFA ~2.1 h, NB-301 ~0.2 h) and 20 seeds of both predictor runs per space (~6 h)
    full_minutes=870,
    quick_minutes=5,
)
