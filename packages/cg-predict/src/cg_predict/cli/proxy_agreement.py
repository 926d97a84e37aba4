"""``cgnas proxy-agreement``: cg-predict's live proxies against NAS-Bench-Suite-Zero's, per target.

Registered in the ``cgnas.commands`` entry-point group (``proxy-agreement =
"cg_predict.cli:register_proxy_agreement"``). For a seeded sample of the cells of each
target (a NAS-Bench-Suite-Zero table: NB-101, NB-201 on CIFAR-10 / CIFAR-100 / ImageNet16-120,
NB-301), every proxy is computed live on cg-ir's network of the cell (seeded weights, one
synthetic batch per synthetic input) by ``proxy_agreement`` and compared per proxy: Spearman of
ours vs. theirs, ours vs. the validation accuracy, theirs vs. the validation accuracy, and the
mean seconds per network. Proxies NAS-Bench-Suite-Zero never scored (zico, meco, swap, ...)
have no reference and are compared with the accuracy only.

Each (target, input) run writes ``OUT/<family>-<dataset>-<input>.json`` after every cell, so an
interrupted run resumes; a run written by other code is refused unless ``--force``. The table
of every run is printed, and every row goes to ``OUT/summary.json``. A shared ``--cache``
computes a cell's scores once for the three NB-201 datasets (the same networks and batch). On a
busy CPU, ``--threads 1`` is several times faster than torch's default thread pool.
Registering imports neither torch nor the proxies: :func:`run_proxy_agreement` does.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from cg_ir import atomic_output
from cg_ir.cli import (
    HelpFormatter,
    add_data_dir_option,
    add_device_option,
    add_out_option,
    add_progress_option,
    comma_list,
    positive_int,
)
from cg_predict.cli.names import (
    DEFAULT_INPUT_NAME,
    PROXY_NAMES,
    SYNTHETIC_INPUT_NAMES,
    one_of,
)

__all__ = ["register_proxy_agreement", "run_proxy_agreement"]

_EPILOG = """\
examples:
  cgnas proxy-agreement --targets nb201/cifar10 --n-cells 30 -o agreement
  cgnas proxy-agreement --inputs smooth,normal,pixel --n-cells 30 --threads 1 -o inputs
  cgnas proxy-agreement --targets nb201/cifar10,nb201/cifar100,nb201/ImageNet16-120 \\
      --cache nb201-cache.json -o results/proxies/nb201
"""


def _target(text: str) -> tuple[str, str]:
    """``nb201/cifar100`` -> ("nb201", "cifar100"); a family alone means CIFAR-10."""
    family, _, dataset = text.partition("/")
    return family, dataset or "cifar10"


def register_proxy_agreement(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``proxy-agreement`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "proxy-agreement",
        help="compare the live zero-cost proxies with NAS-Bench-Suite-Zero's",
        description="Compute every zero-cost proxy live on a seeded sample of each target's\n"
        "cells and compare it with NAS-Bench-Suite-Zero's score and with the accuracy (SRCC),\n"
        "per (target, synthetic input); each run's JSON is written after every cell, so an\n"
        "interrupted run resumes.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--n-cells", type=positive_int, default=100, metavar="N", help="cells per target"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    add_data_dir_option(parser)
    # the defaults live in cg_predict.proxies, which imports torch: resolved when it runs
    parser.add_argument(
        "--targets",
        type=comma_list(_target, "family/dataset targets"),
        metavar="NAMES",
        help="family/dataset, comma-separated; a family alone means cifar10 (default: every "
        "NAS-Bench-Suite-Zero target, cg_predict.proxies.TARGETS)",
    )
    parser.add_argument(
        "--inputs",
        metavar="NAMES",
        type=comma_list(
            one_of(SYNTHETIC_INPUT_NAMES), f"inputs of {', '.join(SYNTHETIC_INPUT_NAMES)}"
        ),
        help=f"synthetic inputs, comma-separated: {', '.join(SYNTHETIC_INPUT_NAMES)} (default: "
        f"{DEFAULT_INPUT_NAME})",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="images per batch (default: the proxies')",
    )
    parser.add_argument(
        "--proxies",
        type=comma_list(one_of(PROXY_NAMES), f"proxies of {', '.join(PROXY_NAMES)}"),
        metavar="NAMES",
        help=f"proxies, comma-separated, of {', '.join(PROXY_NAMES)} (default: every one)",
    )
    add_device_option(parser)
    parser.add_argument(
        "--threads", type=positive_int, metavar="N", help="torch threads (default: torch's)"
    )
    parser.add_argument("--cache", metavar="PATH", help="a proxy cache JSON shared by the runs")
    parser.add_argument("--force", action="store_true", help="recompute runs that other code wrote")
    add_out_option(parser, help="folder of the runs' JSON files and summary.json")
    add_progress_option(parser, default=True)
    parser.set_defaults(func=run_proxy_agreement)
    return parser


def run_proxy_agreement(args: argparse.Namespace) -> int:
    """Run (or resume) every (input, target) of ``args``; print and write their tables."""
    import torch

    from cg_predict.proxies import (
        ALL,
        DEFAULT_BATCH_SIZE,
        DEFAULT_INPUT,
        TARGETS,
        ProxyCache,
        proxy_agreement,
    )

    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = ProxyCache(args.cache) if args.cache else None
    summary: list[dict[str, Any]] = []
    for synthetic in args.inputs or [DEFAULT_INPUT]:
        for family, dataset in args.targets or TARGETS:
            result = proxy_agreement(
                args.n_cells,
                args.seed,
                args.data_dir,
                family=family,
                dataset=dataset,
                names=args.proxies or list(ALL),
                batch_size=args.batch_size or DEFAULT_BATCH_SIZE,
                synthetic_input=synthetic,
                device=args.device,
                out=out / f"{family}-{dataset}-{synthetic}.json",
                cache=cache,
                progress=args.progress,
                force=args.force,
            )
            print(_run_table(result))
            summary.extend(
                {"family": family, "dataset": dataset, "input": synthetic, "proxy": name, **row}
                for name, row in result["proxies"].items()
            )
    # NaN stays NaN: a proxy constant on a sample has no rank correlation
    text = json.dumps(summary, indent=1, allow_nan=True)
    with atomic_output(out / "summary.json") as handle:
        handle.write((text + "\n").encode("utf-8"))
    print(f"\nwritten to {out}/")
    return 0


def _signed(value: float) -> str:
    return "   nan" if math.isnan(value) else f"{value:+.3f}"


def _run_table(result: dict[str, Any]) -> str:
    """One run's table: a line per proxy."""
    config = result["config"]
    header = (
        f"{'proxy':<16}   SRCC ours~theirs  ours~acc  theirs~acc   s/net (ours)  s/net (theirs)   n"
    )
    lines = [
        f"\n{config['family']} {config['dataset']}: {config['n_cells']} cells "
        f"(seed {config['seed']}), {config['batch']}, device {config['device']}",
        header,
        "-" * len(header),
    ]
    for name, row in result["proxies"].items():
        theirs = _signed(row["srcc_ours_theirs"]) if row["reference"] else "no reference"
        lines.append(
            f"{name:<16}  {theirs:>17}  {_signed(row['srcc_ours_acc']):>8}"
            f"  {_signed(row['srcc_theirs_acc']):>10}   {row['mean_seconds']:>12.3f}"
            f"  {row['their_mean_seconds']:>14.3f}  {row['n']:>3}"
        )
    return "\n".join(lines)
