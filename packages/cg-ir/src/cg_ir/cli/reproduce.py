"""``cgnas reproduce``: every registered experiment, into one results folder.

The experiments and how they run, reuse and skip are ``cg_ir.experiments``'s; this module
parses the options and prints the summary table.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from cg_ir.cli.options import (
    HelpFormatter,
    add_data_dir_option,
    add_device_option,
    add_out_option,
    add_progress_option,
    comma_list,
    positive_int,
)
from cg_ir.errors import CgError

__all__ = ["headline_text", "register_reproduce"]

_EPILOG = """examples:
  cgnas reproduce --quick --out results/quick            every experiment, CI size
  cgnas reproduce --quick --workers 2 -o results/quick   two experiments at a time
  cgnas reproduce --quick --only graph-statistics -o r   one experiment
  cgnas reproduce --full --strict --out results/full     paper scale; missing data fails

A finished experiment is reused when its provenance matches the current code, mode and data
(--force reruns it); one whose benchmark data is missing is skipped with a line naming the file
and where to get it (--strict makes that a failure, as in CI). Exit status 2 when an experiment
failed (or, with --strict, was skipped)."""


def headline_text(headline: Mapping[str, Any], width: int = 160) -> str:
    """An experiment's headline numbers as one line: ``key: value``, fractions to 3 decimals.

    Examples:
        >>> headline_text({"nb201": {"srcc": 0.90005, "best": "nwot"}, "queries": 51.0})
        'nb201: srcc 0.900, best nwot; queries: 51'
    """

    def brief(value: Any) -> str:
        if isinstance(value, Mapping):
            return ", ".join(f"{k} {brief(v)}" for k, v in value.items())
        if isinstance(value, float) and not value.is_integer():
            return f"{value:.3f}"
        return f"{value:g}" if isinstance(value, float) else str(value)

    text = "; ".join(f"{key}: {brief(value)}" for key, value in headline.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def _run_reproduce(args: argparse.Namespace) -> int:
    from cg_ir.experiments import ReproduceConfig, registered_experiments, reproduce

    config = ReproduceConfig(
        out=args.out,
        mode=args.mode or "quick",
        only=tuple(args.only or ()),
        strict=args.strict,
        force=args.force,
        data_dir=args.data_dir,
        backend=args.backend,
        device=args.device,
        progress=args.progress,
        workers=args.workers,
    )
    records = reproduce(registered_experiments(), config)
    width = max([len("experiment"), *(len(r.name) for r in records)])
    print(f"\n{'experiment':<{width}}  {'status':<8} {'seconds':>8}  headline")
    for record in records:
        detail = record.message or headline_text(record.headline)
        print(f"{record.name:<{width}}  {record.status:<8} {record.seconds:>8.0f}  {detail}")
    failed = [r.name for r in records if r.status == "failed"]
    skipped = [r.name for r in records if r.status == "skipped"]
    if failed or (args.strict and skipped):
        bad = failed + (skipped if args.strict else [])
        raise CgError(f"reproduce: {', '.join(bad)} did not finish (see the lines above)")
    return 0


def register_reproduce(sub: Any) -> argparse.ArgumentParser:
    """Add ``cgnas reproduce`` to the ``cgnas`` subparsers ``sub``."""
    from cg_ir.executor import BACKENDS

    parser: argparse.ArgumentParser = sub.add_parser(
        "reproduce",
        help="run every experiment of the paper (and of cg-nas) into one results folder",
        description="Run every registered experiment (graph statistics, proxy agreement, "
        "transfer, contrastive ablation, search) and write each one's JSON, CSV, PNG and "
        "provenance under --out.",
        epilog=_EPILOG,
        formatter_class=HelpFormatter,
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        dest="mode",
        action="store_const",
        const="quick",
        help="CI size: few seeds, small budgets (what runs without --full)",
    )
    mode.add_argument("--full", dest="mode", action="store_const", const="full", help="paper scale")
    add_out_option(parser, help="the results folder", metavar="DIR")
    parser.add_argument(
        "--only",
        type=comma_list(str, "experiment names"),
        metavar="NAMES",
        help="run these experiments alone (comma-separated)",
    )
    parser.add_argument("--strict", action="store_true", help="a skipped experiment fails")
    parser.add_argument("--force", action="store_true", help="rerun finished experiments")
    add_data_dir_option(parser)
    parser.add_argument("--backend", choices=BACKENDS, default="local", help="where work fans out")
    add_device_option(parser)
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        metavar="N",
        help="worker processes: experiments run at once, longest first, each after the one "
        "it follows (CI: 2); one experiment alone fans its own work out to them "
        "(contrast-ablation's paired seeds)",
    )
    add_progress_option(parser, default=True)
    parser.set_defaults(func=_run_reproduce)
    return parser
