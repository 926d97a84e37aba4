"""Statistics of a family's graphs: what ``cgnas summary`` tabulates.

A library module, not part of the command line: its numbers are results (the code digest of
``cg_ir.provenance`` covers it, and leaves out the ``cg_ir.cli`` front end that prints them).

Examples:
    >>> stats = family_statistics("nb201", 3, seed=0)
    >>> stats["graphs"], stats["nodes_min"] <= stats["nodes_mean"] <= stats["nodes_max"]
    (3, True)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from cg_ir import families
from cg_ir.experiments import Experiment, RunContext

__all__ = ["GRAPH_STATISTICS", "family_statistics"]


def family_statistics(
    name: str, count: int, seed: int, workers: int = 1, progress: bool = False
) -> dict[str, float]:
    """Statistics of the fast-path graphs of ``count`` distinct seeded specs of a family.

    Returns a dict with ``graphs``, ``nodes_mean/min/max``, ``edges_mean``, ``params_m``
    (mean, millions), ``flops_m`` (mean, millions) and ``cgs_per_s`` (conversion speed).
    """
    # cg_ir.cli imports this module for every `cgnas` call: the worker pools load when used
    from cg_ir.bulk import convert_many

    family = families.get(name)
    specs = family.sample_distinct(np.random.default_rng(seed), count)
    start = time.perf_counter()
    graphs = convert_many(family, specs, workers=workers, progress=progress)
    seconds = time.perf_counter() - start
    nodes = [g.num_nodes for g in graphs]
    return {
        "graphs": len(graphs),
        "nodes_mean": float(np.mean(nodes)),
        "nodes_min": min(nodes),
        "nodes_max": max(nodes),
        "edges_mean": float(np.mean([g.num_edges for g in graphs])),
        "params_m": float(np.mean([g.params for g in graphs])) / 1e6,
        "flops_m": float(np.mean([g.flops for g in graphs])) / 1e6,
        "cgs_per_s": len(graphs) / seconds if seconds > 0 else float("inf"),
    }


def _statistics(ctx: RunContext) -> dict[str, Any]:
    """Every registered family's graph statistics and conversion speed (fast path)."""
    count = 50 if ctx.quick else 1000
    ctx.seeds.append(0)
    names = families.names()
    table = {name: family_statistics(name, count, seed=0, progress=ctx.progress) for name in names}
    ctx.write_json("statistics.json", {"per_family": count, "seed": 0, "families": table})
    columns = list(next(iter(table.values())))
    ctx.write_csv(
        "statistics.csv", ["family", *columns], [[n, *s.values()] for n, s in table.items()]
    )
    _figure(ctx, table)
    return {
        name: {"nodes_mean": s["nodes_mean"], "cgs_per_s": s["cgs_per_s"]}
        for name, s in table.items()
    }


def _figure(ctx: RunContext, table: dict[str, dict[str, float]]) -> None:
    names = list(table)
    with ctx.figure("statistics.png", 2) as (nodes, speed):
        nodes.barh(names, [table[n]["nodes_mean"] for n in names], color="tab:blue")
        nodes.set_xlabel("nodes per computation graph (mean)")
        speed.barh(names, [table[n]["cgs_per_s"] for n in names], color="tab:green")
        speed.set_xlabel("conversions per second (fast path, one process)")
        speed.set_xscale("log")


GRAPH_STATISTICS = Experiment(
    "graph-statistics",
    "Computation graphs of every family: size, cost and conversion speed",
    _statistics,
    code=("cg_ir",),
    order=10,
    full_minutes=10,
)
