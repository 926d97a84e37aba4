"""``cgnas search``: predictor-guided (or baseline) search over a labelled pool.

Examples (shell)::

    cgnas search --family nb201 --dataset cifar10 --strategy predictor-ea --budget 100
        --seeds 20 --max-flops median --out s.json
    cgnas search --family ofa-mbv3 --strategy cost-order --cost flops --max-macs 300M ...
"""

from __future__ import annotations

import argparse
from typing import Any

from cg_evo.names import LOCAL_OPTIMUM_MOVES, WARM_DESIGNS, strategy_names
from cg_ir.cli import (
    HelpFormatter,
    add_data_dir_option,
    add_device_option,
    add_out_option,
    add_progress_option,
    positive_int,
)
from cg_predict.cli.names import PROXY_NAMES

__all__ = ["register_search", "run_search_command", "search_config"]

# the options that default to what a search selection chose for the searched family and
# strategy (cg_evo.experiments.selected_choices): the settings the book's searches run with
_SELECTED_OPTIONS = ("warm_design", "proxy", "at_local_optimum", "members")
_SELECTED = "the search selection's choice for the family and strategy, if any"


def register_search(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``cgnas search`` to a ``cgnas`` sub-parser set."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "search",
        help="search a labelled pool with a predictor-guided EA or a baseline",
        description="Search a family's labelled pool (nb201, nb101, nb301, ofa-mbv3) under a\n"
        "query budget and optional cost limits. The predictor strategies start from a model\n"
        "trained on the other families only (leave-one-family-out) and fine-tune on the\n"
        "labels they pay for. Writes per-seed best-so-far curves and a summary.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--family",
        required=True,
        help="nb201, nb101, nb301, ofa-mbv3 (labelled pools); any family with --objective "
        "predicted",
    )
    parser.add_argument(
        "--objective",
        default="oracle",
        choices=("oracle", "predicted"),
        help="oracle: real labels of a pool; predicted: the best predicted score outside a "
        "pool, --budget counting predictor evaluations, reported as predicted, not accuracy",
    )
    parser.add_argument("--dataset", help="oracle dataset (default: the family's first)")
    parser.add_argument(
        "--strategy", default="predictor-ea", choices=strategy_names(), help="how to search"
    )
    parser.add_argument(
        "--budget", type=positive_int, default=100, metavar="N", help="paid oracle queries per seed"
    )
    parser.add_argument("--seeds", type=positive_int, default=20, metavar="N", help="seeds 0..N-1")
    for cost in ("flops", "params", "macs", "latency"):
        parser.add_argument(
            f"--max-{cost}",
            metavar="N",
            help=f"only architectures with {cost} <= N (K/M/G suffixes, or 'median')",
        )
    parser.add_argument(
        "--cost", default="params", choices=("params", "flops", "macs"), help="cost-order's cost"
    )
    parser.add_argument(
        "--proxy",
        choices=PROXY_NAMES,
        metavar="NAME",
        help=f"cg-predict proxy of proxy-order and --warm-design proxy: {', '.join(PROXY_NAMES)} "
        f"(default: {_SELECTED}, else synflow)",
    )
    parser.add_argument(
        "--proxy-candidates",
        type=positive_int,
        metavar="N",
        help="proxy-order scores a fixed sample of about N of the pool's cells, the same for "
        "every seed (default: all)",
    )
    parser.add_argument(
        "--population", type=positive_int, default=20, metavar="N", help="EA population"
    )
    parser.add_argument(
        "--mutants", type=positive_int, default=100, metavar="N", help="mutants screened"
    )
    parser.add_argument(
        "--per-generation",
        type=positive_int,
        default=5,
        metavar="N",
        help="queries per generation/round",
    )
    parser.add_argument(
        "--random-per-generation",
        type=int,
        default=1,
        metavar="N",
        help="predictor-ea: of those, N drawn at random among the mutants ranked lower "
        "(epsilon-greedy)",
    )
    parser.add_argument(
        "--random-after-stall",
        type=int,
        default=4,
        metavar="G",
        help="predictor-ea: make those random queries only after G generations in a row "
        "without a better label (0: in every generation)",
    )
    parser.add_argument(
        "--warm-start",
        type=positive_int,
        default=10,
        metavar="N",
        help="first queries of predictor strategies",
    )
    parser.add_argument(
        "--warm-design",
        choices=WARM_DESIGNS,
        help="how they are chosen: the source model's zero-shot ranking, largest --cost first, "
        "best --proxy first, best first by the family's zero-shot ensemble (network, FLOPs, "
        f"params, synflow, MeCo), or each of those four in turn (portfolio) (default: "
        f"{_SELECTED}, else zero-shot)",
    )
    parser.add_argument(
        "--at-local-optimum",
        choices=LOCAL_OPTIMUM_MOVES,
        help="local searches, once every nearest network is queried: look farther around the "
        "best found, or start a new climb at the first unqueried network of their order "
        f"(default: {_SELECTED}, else widen)",
    )
    parser.add_argument(
        "--members",
        type=positive_int,
        metavar="N",
        help=f"fine-tuned predictor copies per refit, scoring by their mean (default: {_SELECTED}, "
        "else 1)",
    )
    parser.add_argument(
        "--fine-tune", default="full", choices=("full", "head"), help="predictor fine-tuning"
    )
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="start every seed from this checkpoint instead"
    )
    parser.add_argument("--quick", action="store_true", help="quick source models (CI, book)")
    parser.add_argument(
        "--source-cells",
        type=positive_int,
        metavar="N",
        help="labelled cells per source family, sampled (default: the protocol's)",
    )
    parser.add_argument(
        "--source-epochs",
        type=positive_int,
        metavar="N",
        help="source training epochs (default: the protocol's)",
    )
    add_data_dir_option(parser)
    parser.add_argument(
        "--backend", default="local", choices=("local", "ray"), help="where the seeds run"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="seeds run in parallel"
    )
    parser.add_argument("--address", help="Ray cluster address ('auto', 'ray://host:10001')")
    add_device_option(parser, help="torch device of the predictor")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="torch CPU threads; small graphs train fastest on one",
    )
    add_progress_option(parser, default=True)
    add_out_option(parser, metavar="s.json", help="results file (resumable)")
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute the seeds of an --out written by other code (overwriting it) instead "
        "of refusing to resume it",
    )
    parser.set_defaults(func=run_search_command)
    return parser


def _budget(args: argparse.Namespace) -> Any:
    from cg_evo.budget import Budget

    return Budget.parse(
        max_flops=args.max_flops,
        max_params=args.max_params,
        max_macs=args.max_macs,
        max_latency=args.max_latency,
    )


def _run_predicted(args: argparse.Namespace) -> str:
    from cg_evo.errors import InvalidSearchError
    from cg_evo.predicted import search_predicted
    from cg_evo.strategies import StrategySettings

    if args.strategy != "predictor-ea":
        raise InvalidSearchError(
            f"--objective predicted runs a predictor-guided evolution; --strategy "
            f"{args.strategy} needs an oracle (labelled pool)"
        )
    result = search_predicted(
        args.family,
        evaluations=args.budget,
        seeds=args.seeds,
        budget=_budget(args),
        settings=StrategySettings(population=args.population, mutants=args.mutants),
        checkpoint=args.checkpoint,
        quick=args.quick,
        data_dir=args.data_dir,
        out=args.out,
        device=args.device,
        threads=args.threads,
        progress=args.progress,
    )
    best = result["best"]
    return (
        f"best predicted {args.family} architecture ({result['score']}): {best['key']} "
        f"predicted score {best['predicted_score']:.3f}, FLOPs {best['flops']:.4g}, "
        f"params {best['params']:.4g} -> {args.out}"
    )


def _selected_or_given(args: argparse.Namespace) -> dict[str, Any]:
    """The ``_SELECTED_OPTIONS`` values: as given, else the selections' choices for the search."""
    from cg_evo.experiments import selected_choices

    given = {
        name: value for name in _SELECTED_OPTIONS if (value := getattr(args, name)) is not None
    }
    return {**selected_choices(args.family, args.strategy), **given}


def search_config(args: argparse.Namespace) -> Any:
    """The ``SearchConfig`` of parsed ``cgnas search`` arguments (``--objective oracle``)."""
    from cg_evo.search import SearchConfig
    from cg_evo.strategies import StrategySettings
    from cg_evo.surrogate import FineTuneConfig

    chosen = _selected_or_given(args)
    return SearchConfig(
        family=args.family,
        dataset=args.dataset,
        strategy=args.strategy,
        queries=args.budget,
        seeds=args.seeds,
        budget=_budget(args),
        settings=StrategySettings(
            population=args.population,
            mutants=args.mutants,
            per_generation=args.per_generation,
            random_per_generation=args.random_per_generation,
            random_after_stall=args.random_after_stall,
            warm_start=args.warm_start,
            cost=args.cost,
            proxy_candidates=args.proxy_candidates,
            **{name: value for name, value in chosen.items() if name != "members"},
        ),
        fine_tune=FineTuneConfig(
            mode=args.fine_tune, members=chosen.get("members", FineTuneConfig.members)
        ),
        quick=args.quick,
        source_cells=args.source_cells,
        source_epochs=args.source_epochs,
        checkpoint=args.checkpoint,
    )


def _run_oracle(args: argparse.Namespace) -> str:
    from cg_evo.search import run_search

    config = search_config(args)
    result = run_search(
        config,
        data_dir=args.data_dir,
        out=args.out,
        backend=args.backend,
        workers=args.workers,
        address=args.address,
        device=args.device,
        threads=args.threads,
        progress=args.progress,
        force=args.force,
    )
    summary, space = result["summary"], result["space"]
    return (
        f"{config.strategy} on {space['family']} {space['dataset']} "
        f"({space['candidates']} candidates, budget: {space['budget'] or 'none'}), "
        f"{summary['seeds']} seeds x {config.queries} queries: best found by "
        f"{summary['found_best']} seeds, queries to best (median) "
        f"{summary['queries_to_best_median']:g}, to top 0.1% "
        f"{summary['queries_to_top01_median']:g}, final best (median) "
        f"{summary['final_best_median']:.3f} -> {args.out}"
    )


def run_search_command(args: argparse.Namespace) -> int:
    """Run ``cgnas search`` from parsed arguments; prints the summary line.

    Errors are raised (``CgEvoError``, ``CgPredictError``, ``CgIrError``, ``OSError``);
    ``cgnas`` prints them as one line and exits with status 2.
    """
    print(_run_predicted(args) if args.objective == "predicted" else _run_oracle(args))
    return 0
