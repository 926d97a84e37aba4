"""Measure the speed of the nb201 / nb101 fast paths (``to_cg``) against torch.fx (``trace_cg``).

Prints, per family, graphs per second of the fast path on random specs (first conversion of
each spec, one process), the share of that time spent constructing (= validating) the
``ComputationGraph``, and graphs per second of the torch.fx path on a few specs; then the wall
time and peak RSS of converting all 15,625 NB-201 specs, in one process or split over
``--processes`` worker processes. nb101 is measured on NASLib-style random samples (mostly
small cells) and, when the data is found, on cells of ``nb101_nasbenchvis_30k.csv`` (the
benchmark's distribution, larger cells).

Usage: python tools/bench_fast_path.py [--count 2000] [--fx-count 10] [--processes 1|2]
       [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cg_ir import ComputationGraph, write_json
from cg_ir.families import nb101, nb201


def _rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def _rate(convert: Callable[[Any], ComputationGraph], specs: Sequence[Any]) -> dict[str, float]:
    """Graphs per second of ``convert``, and the share spent in ComputationGraph's constructor."""
    start, cpu = time.perf_counter(), time.process_time()
    graphs = [convert(s) for s in specs]
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    # rebuilding from the same (shared) nodes and edges is what the constructor did above
    cpu = time.process_time()
    for g in graphs:
        ComputationGraph(g.nodes, g.edges)
    construct = time.process_time() - cpu
    return {
        "specs": len(specs),
        "graphs_per_s": len(specs) / seconds,
        # CPU time of this process: the figure to trust on a busy machine
        "graphs_per_cpu_s": len(specs) / cpu_seconds,
        "ms_per_graph": 1000 * seconds / len(specs),
        "construct_share": construct / cpu_seconds,
        "mean_nodes": sum(g.num_nodes for g in graphs) / len(graphs),
    }


def _csv_specs(count: int) -> list[nb101.NB101Spec]:
    env = os.environ.get("CGNAS_DATA_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    path = root / "nb101" / "nb101_nasbenchvis_30k.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        rows = [row for _, row in zip(range(count), csv.DictReader(handle), strict=False)]
    return [nb101.FAMILY.parse(f"{r['matrix']}|{r['ops']}") for r in rows]


def _convert_chunk(chunk: list[tuple[int, ...]]) -> tuple[int, float]:
    graphs = [nb201.FAMILY.to_cg(nb201.NB201Spec(ops)) for ops in chunk]
    return len(graphs), _rss_mib()


def _all_nb201(processes: int) -> dict[str, float]:
    specs = [s.ops for s in nb201.FAMILY.enumerate()]
    start, cpu = time.perf_counter(), time.process_time()
    if processes <= 1:
        graphs = [nb201.FAMILY.to_cg(nb201.NB201Spec(ops)) for ops in specs]
        count, worker_rss = len(graphs), 0.0
    else:
        chunks = [specs[i::processes] for i in range(processes)]
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            done = pool.map(_convert_chunk, chunks)
            pool.close()
            pool.join()
        count, worker_rss = sum(c for c, _ in done), max(r for _, r in done)
    wall, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {
        "graphs": count,
        "processes": processes,
        "wall_s": wall,
        "cpu_s_main": cpu_seconds,
        "peak_rss_mib_main": _rss_mib(),
        "peak_rss_mib_worker": worker_rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="specs per fast-path measure")
    parser.add_argument("--fx-count", type=int, default=10, help="specs per torch.fx measure")
    parser.add_argument("--processes", type=int, default=1, help="processes for all 15,625")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    # first, while the process is small: peak RSS is a high-water mark, and torch (imported by
    # the torch.fx measures) alone adds a few hundred MiB
    results: dict[str, Any] = {"all nb201": _all_nb201(args.processes)}
    rng = np.random.default_rng(args.seed)
    nb201_specs = nb201.FAMILY.sample_distinct(rng, args.count)
    nb101_specs = nb101.FAMILY.sample_distinct(rng, args.count)
    results["nb201 fast"] = _rate(nb201.FAMILY.to_cg, nb201_specs)
    results["nb101 fast (NASLib samples)"] = _rate(nb101.FAMILY.to_cg, nb101_specs)
    csv_specs = _csv_specs(args.count)
    if csv_specs:
        results["nb101 fast (30k CSV cells)"] = _rate(nb101.FAMILY.to_cg, csv_specs)
    results["nb201 torch.fx"] = _rate(nb201.FAMILY.trace_cg, nb201_specs[: args.fx_count])
    results["nb101 torch.fx"] = _rate(nb101.FAMILY.trace_cg, nb101_specs[: args.fx_count])

    for name, figures in results.items():
        shown = ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
        )
        print(f"{name:28s} {shown}")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
