"""``cgnas search``: predictor-guided (or baseline) search over a labelled pool.

Examples (shell)::

    cgnas search --family nb201 --dataset cifar10 --strategy predictor-ea --budget 100
        --seeds 20 --max-flops median --out s.json
    cgnas search --family ofa-mbv3 --strategy cost-order --cost flops --max-macs 300M ...
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register_search", "run_search_command"]

_STRATEGIES = ("predictor-ea", "predictor-topk", "rea", "random", "cost-order", "proxy-order")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def register_search(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``cgnas search`` to a ``cgnas`` sub-parser set."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "search",
        help="search a labelled pool with a predictor-guided EA or a baseline",
        description=(
            "Search a family's labelled pool (nb201, nb101, nb301, ofa-mbv3) under a query "
            "budget and optional cost limits. The predictor strategies start from a model "
            "trained on the other families only (leave-one-family-out) and fine-tune on the "
            "labels they pay for. Writes per-seed best-so-far curves and a summary."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
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
        help="oracle: real labels of a pool; predicted: best predicted score outside a pool "
        "(--budget then counts predictor evaluations; reported as predicted, not accuracy)",
    )
    parser.add_argument("--dataset", help="oracle dataset (default: the family's first)")
    parser.add_argument("--strategy", default="predictor-ea", choices=_STRATEGIES)
    parser.add_argument(
        "--budget", type=_positive_int, default=100, help="paid oracle queries per seed"
    )
    parser.add_argument("--seeds", type=_positive_int, default=20, help="seeds 0..N-1")
    for cost in ("flops", "params", "macs", "latency"):
        parser.add_argument(
            f"--max-{cost}",
            metavar="N",
            help=f"only architectures with {cost} <= N (K/M/G suffixes, or 'median')",
        )
    parser.add_argument(
        "--cost", default="params", choices=("params", "flops", "macs"), help="cost-order's cost"
    )
    parser.add_argument("--proxy", default="synflow", help="proxy-order's cg-predict proxy")
    parser.add_argument(
        "--proxy-candidates",
        type=_positive_int,
        help="proxy-order scores a seeded sample of N candidates (default: all)",
    )
    parser.add_argument("--population", type=_positive_int, default=20, help="EA population")
    parser.add_argument("--mutants", type=_positive_int, default=100, help="mutants screened")
    parser.add_argument(
        "--per-generation", type=_positive_int, default=5, help="queries per generation/round"
    )
    parser.add_argument(
        "--warm-start", type=_positive_int, default=10, help="first queries of predictor strategies"
    )
    parser.add_argument(
        "--warm-design",
        default="zero-shot",
        choices=("zero-shot", "cost"),
        help="how they are chosen: the source model's zero-shot ranking, or largest --cost first",
    )
    parser.add_argument(
        "--fine-tune", default="full", choices=("full", "head"), help="predictor fine-tuning"
    )
    parser.add_argument("--checkpoint", help="start from this predictor checkpoint instead")
    parser.add_argument("--quick", action="store_true", help="quick source model (CI, book)")
    parser.add_argument(
        "--source-cells", type=_positive_int, help="labelled cells per source family (sampled)"
    )
    parser.add_argument("--source-epochs", type=_positive_int, help="source training epochs")
    parser.add_argument("--data-dir", metavar="DIR", help="benchmark data ($CGNAS_DATA_DIR)")
    parser.add_argument("--backend", default="local", choices=("local", "ray"))
    parser.add_argument("--workers", type=_positive_int, default=1, help="parallel seeds")
    parser.add_argument("--address", help="Ray cluster address ('auto', 'ray://host:10001')")
    parser.add_argument("--device", default="cpu", help="torch device of the predictor")
    parser.add_argument(
        "--threads", type=_positive_int, default=1, help="torch CPU threads (small graphs: 1)"
    )
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--out", "-o", required=True, metavar="s.json", help="results (resumable)")
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


def _run_oracle(args: argparse.Namespace) -> str:
    from cg_evo.search import SearchConfig, run_search
    from cg_evo.strategies import StrategySettings
    from cg_evo.surrogate import FineTuneConfig

    config = SearchConfig(
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
            warm_start=args.warm_start,
            warm_design=args.warm_design,
            cost=args.cost,
            proxy=args.proxy,
            proxy_candidates=args.proxy_candidates,
        ),
        fine_tune=FineTuneConfig(mode=args.fine_tune),
        quick=args.quick,
        source_cells=args.source_cells,
        source_epochs=args.source_epochs,
        checkpoint=args.checkpoint,
    )
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
    """Run ``cgnas search`` from parsed arguments; one-line errors, exit status 2."""
    from cg_evo.errors import CgEvoError
    from cg_ir.errors import CgIrError
    from cg_predict.errors import CgPredictError

    try:
        line = _run_predicted(args) if args.objective == "predicted" else _run_oracle(args)
    except (CgEvoError, CgPredictError, CgIrError, OSError) as exc:
        print(f"cgnas: error: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    print(line)
    return 0
