"""``cgnas inspect``, ``cgnas summary`` and ``cgnas families``: facts printed, nothing written.

The numbers ``summary`` prints come from :func:`cg_ir.statistics.family_statistics`; this
module only lays them out.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cg_ir.cli.options import HelpFormatter, add_progress_option, comma_list, positive_int
from cg_ir.errors import CgIrError, UsageError
from cg_ir.statistics import family_statistics

__all__ = ["register_families", "register_inspect", "register_summary"]


def _shape(shape: Sequence[int]) -> str:
    return "×".join(map(str, shape))


def _name_width(names: Sequence[str]) -> int:
    """Width of the family-name column: the longest name, at least the header's."""
    return max([len("family"), *map(len, names)])


def _run_inspect(args: argparse.Namespace) -> int:
    from cg_ir._graph import ComputationGraph

    path = Path(args.graph)
    if not path.is_file():
        raise FileNotFoundError(f"no such graph file {str(path)!r}")
    graph = ComputationGraph.from_json(path.read_bytes())
    histogram = graph.op_histogram()
    if args.json:
        facts = {
            "nodes": graph.num_nodes,
            "edges": graph.num_edges,
            "params": graph.params,
            "flops": graph.flops,
            "input_shape": list(graph.input_shape),
            "output_shape": list(graph.output_shape),
            "canonical_hash": graph.canonical_hash(),
            "op_histogram": histogram,
        }
        print(json.dumps(facts, indent=2))
        return 0
    rows = [
        ("file", str(path)),
        ("nodes", f"{graph.num_nodes:,}"),
        ("edges", f"{graph.num_edges:,}"),
        ("params", f"{graph.params:,}"),
        ("FLOPs", f"{graph.flops:,} ({graph.flops / 1e6:,.2f} M)"),
        ("input", _shape(graph.input_shape)),
        ("output", _shape(graph.output_shape)),
        ("hash", graph.canonical_hash()),
    ]
    for key, value in rows:
        print(f"{key:<8} {value}")
    print()
    width = max(len(op) for op in histogram)
    print(f"{'op':<{width}}  {'count':>5}")
    for op, count in histogram.items():
        print(f"{op:<{width}}  {count:>5}")
    return 0


def _run_summary(args: argparse.Namespace) -> int:
    from cg_ir import families

    names = args.families or families.names()
    unknown = sorted(set(names) - set(families.names()))
    if unknown:
        raise UsageError(f"unknown families {unknown}; registered: {', '.join(families.names())}")
    w = _name_width(names)
    header = (
        f"{'family':<{w}} {'graphs':>6} {'nodes mean':>10} {'min':>5} {'max':>5} "
        f"{'edges':>7} {'params (M)':>10} {'FLOPs (M)':>10} {'CGs/s':>8}"
    )
    print(f"seeded sample: {args.per_family} specs per family, seed {args.seed}, fast path")
    print(header)
    print("-" * len(header))
    failed = []
    for name in names:
        try:
            s = family_statistics(name, args.per_family, args.seed, args.workers, args.progress)
        except Exception as exc:  # one broken family must not hide the others' rows
            failed.append(name)
            print(f"{name:<{w}} failed: {type(exc).__name__}: {exc}".replace("\n", " "))
            continue
        print(
            f"{name:<{w}} {s['graphs']:>6.0f} {s['nodes_mean']:>10.1f} {s['nodes_min']:>5.0f} "
            f"{s['nodes_max']:>5.0f} {s['edges_mean']:>7.1f} {s['params_m']:>10.3f} "
            f"{s['flops_m']:>10.1f} {s['cgs_per_s']:>8.1f}",
            flush=True,
        )
    if failed:  # after every row: one broken family must not hide the others'
        raise CgIrError(f"{len(failed)} of {len(names)} families failed: {', '.join(failed)}")
    return 0


def _run_families(args: argparse.Namespace) -> int:
    from cg_ir import families
    from cg_ir.families import Family

    w = _name_width(families.names())
    print(f"{'family':<{w}} {'size':>12}  {'fast path':<9}  class")
    for name in families.names():
        try:
            family = families.get(name)
        except Exception as exc:
            print(f"{name:<{w}} cannot load: {type(exc).__name__}: {exc}".replace("\n", " "))
            continue
        size = f"{family.size:,}" if family.size is not None else "open"
        fast = "yes" if type(family).to_cg is not Family.to_cg else "no"
        cls = type(family)
        print(f"{name:<{w}} {size:>12}  {fast:<9}  {cls.__module__}.{cls.__qualname__}")
    return 0


def register_inspect(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``inspect`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="facts about a graph JSON file",
        description="Print a graph's nodes, edges, parameters, FLOPs, canonical hash and op "
        "histogram.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("graph", help="a graph written by 'cgnas convert -o g.json'")
    parser.add_argument("--json", action="store_true", help="print the facts as JSON")
    parser.set_defaults(func=_run_inspect)
    return parser


def register_summary(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``summary`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "summary",
        help="convert a seeded sample of every family and tabulate the graphs",
        description="Convert a seeded sample of every registered family (fast path) and print\n"
        "node/edge/parameter/FLOP statistics and the conversion speed.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--per-family", type=positive_int, default=50, metavar="N", help="specs per family"
    )
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument(
        "--workers", type=positive_int, default=1, metavar="N", help="worker processes"
    )
    parser.add_argument(
        "--families",
        "--family",
        type=comma_list(str, "family names"),
        action="extend",
        metavar="NAMES",
        help="only these families, comma-separated; repeatable (default: every registered one)",
    )
    add_progress_option(parser, default=False)
    parser.set_defaults(func=_run_summary)
    return parser


def register_families(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``families`` command to an ``argparse`` sub-parser collection."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "families", help="list the registered families", formatter_class=HelpFormatter
    )
    parser.set_defaults(func=_run_families)
    return parser
