"""Check the nb201 fast path against torch.fx on all 15,625 NAS-Bench-201 cells.

For every spec: ``FAMILY.to_cg(spec)`` (structural builder) must have the same structure as the
graph ``cg_ir.fx.from_module`` traces from ``FAMILY.to_module(spec)`` (identical node features
and edges in canonical order), and the module's trainable parameter count must equal the
graph's. Runs on several processes with a progress bar, prints a summary and exits 1 on any
mismatch or error (listing the first ones), 0 when all agree.

Usage: python tools/check_fast_path_nb201.py [--processes 2] [--limit N] [--distinct]

``--distinct`` checks one spec per distinct pruned cell (9,445 of them): both paths depend on a
spec only through its pruned cell, so this covers the same networks in about 60 % of the time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import traceback

from tqdm import tqdm

from cg_ir.families.nb201 import FAMILY, NB201Spec, live_edges


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one process per core; torch's own threads would compete


def _check(ops: tuple[int, ...]) -> tuple[str, str]:
    """("ok" | "structure" | "params" | "error", detail) for one spec."""
    from cg_ir.fx import from_module

    spec = NB201Spec(ops)
    key = FAMILY.key(spec)
    try:
        fast = FAMILY.to_cg(spec)
        module = FAMILY.to_module(spec)
        traced = from_module(module, FAMILY.input_shape(spec))
        if not fast.same_structure(traced):
            return "structure", f"{key}: fast {fast!r} != traced {traced!r}"
        trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
        if trainable != fast.params:
            return "params", f"{key}: module has {trainable} trainable params, graph {fast.params}"
        return "ok", key
    except Exception:  # noqa: BLE001 - every failure is reported, none stops the run
        return "error", f"{key}: {traceback.format_exc(limit=3)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--limit", type=int, default=0, help="check only the first N specs")
    parser.add_argument(
        "--distinct",
        action="store_true",
        help="one spec per distinct pruned cell (see the module docstring)",
    )
    args = parser.parse_args(argv)

    specs = [s.ops for s in FAMILY.enumerate()]
    if args.distinct:
        first: dict[object, tuple[int, ...]] = {}
        for ops in specs:
            first.setdefault(live_edges(ops), ops)
        specs = list(first.values())
    if args.limit:
        specs = specs[: args.limit]

    start = time.perf_counter()
    counts = {"ok": 0, "structure": 0, "params": 0, "error": 0}
    failures: list[str] = []
    context = multiprocessing.get_context("spawn")  # no torch state forked into workers
    with context.Pool(args.processes, initializer=_init_worker) as pool:
        results = pool.imap_unordered(_check, specs, chunksize=8)
        for status, detail in tqdm(results, total=len(specs), desc="nb201 fast == fx", unit="spec"):
            counts[status] += 1
            if status != "ok":
                failures.append(f"[{status}] {detail}")
        pool.close()  # let the workers exit cleanly rather than be terminated
        pool.join()
    wall = time.perf_counter() - start

    bad = len(specs) - counts["ok"]
    print(
        f"checked {len(specs)} nb201 specs on {args.processes} processes in {wall:.1f} s: "
        f"{counts['ok']} agree, {counts['structure']} structure mismatches, "
        f"{counts['params']} parameter mismatches, {counts['error']} errors"
    )
    for line in failures[:20]:
        print(line)
    if len(failures) > 20:
        print(f"... and {len(failures) - 20} more")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
