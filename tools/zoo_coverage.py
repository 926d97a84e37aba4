"""Measure cg-ir's coverage of the model zoo: convert every torchvision/timm classifier.

Each model is checked with ``cg_ir.zoo.check_model`` in a worker process, so a model that hangs
(``--timeout``) or crashes the interpreter costs only its own entry; the worker is replaced and
the run goes on. After every model, ``OUT/<source>.json`` and ``OUT/<source>.csv`` and
``OUT/failures.md`` (the failures of every source in OUT, grouped by error) are rewritten
atomically, so an interrupted run resumes where it stopped: models already in the JSON are
skipped unless cg-ir's code changed since (``--redo``: all re-checked; ``--redo-failed``:
those that are not exact). Needs
torchvision and timm (see the README's set-up).

    poetry run python tools/zoo_coverage.py --source all --out /tmp/zoo
    poetry run python tools/zoo_coverage.py --source timm --only resnet18 dla34 --out /tmp/zoo
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import multiprocessing as mp
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

from cg_ir import CgIrError, atomic_output
from cg_ir.provenance import code_digest
from cg_ir.zoo import SOURCES, ZooResult, check_model, list_models

FIELDS = [f.name for f in dataclasses.fields(ZooResult)] + ["exact", "code_digest"]


def _worker(conn: Connection, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    while True:
        name = conn.recv()
        if name is None:
            return
        try:
            result = check_model(name)
        except CgIrError as error:  # an unknown name given with --only
            result = ZooResult(name, stage="load", error_type=type(error).__name__)
            result = dataclasses.replace(result, error_message=str(error))
        conn.send(_row(result))


def _row(result: ZooResult) -> dict[str, Any]:
    row = dataclasses.asdict(result)
    row["input_shape"] = list(result.input_shape)
    row["exact"] = result.exact
    row["code_digest"] = code_digest("cg_ir")  # a row of other code is checked again
    return row


def _lost(name: str, why: str, message: str) -> dict[str, Any]:
    """The row of a model whose worker hung or died: a raw failure (cg-ir must not do that)."""
    result = ZooResult(name, stage="convert", error_type=why, error_message=message)
    return _row(dataclasses.replace(result, raw_exception=True))


class _Slot:
    """One worker process and the model it is working on."""

    def __init__(self, context: Any, threads: int) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, threads), daemon=True)
        self.process.start()
        child.close()
        self.name: str | None = None
        self.started = 0.0
        self.done = 0

    def give(self, name: str) -> None:
        self.name, self.started = name, time.monotonic()
        self.conn.send(name)

    def stop(self) -> None:
        if self.name is None:  # idle: let it exit by itself, so it cleans up after torch
            self.conn.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def run(
    names: list[str],
    jobs: int,
    timeout: float,
    recycle: int,
    on_row: Callable[[dict[str, Any]], None],
    threads: int,
) -> None:
    """Check ``names`` on ``jobs`` workers; ``on_row(row)`` gets each result as it comes."""
    context = mp.get_context("spawn")
    pending = list(reversed(names))
    slots = [_Slot(context, threads) for _ in range(min(jobs, len(names)))]
    with tqdm(total=len(names), unit="model") as progress:
        while pending or any(s.name for s in slots):
            for i, slot in enumerate(slots):
                if slot.name is None and pending:
                    if slot.done >= recycle:  # a fresh interpreter bounds leaked memory
                        slot.stop()
                        slot = slots[i] = _Slot(context, threads)
                    slot.give(pending.pop())
            busy = [s for s in slots if s.name]
            wait([s.conn for s in busy], timeout=1.0)
            for i, slot in enumerate(slots):
                if slot.name is None:
                    continue
                row = _collect(slot, timeout)
                if row is None:
                    continue
                if row["error_type"] in ("Timeout", "WorkerDied"):
                    slot.stop()
                    slots[i] = _Slot(context, threads)
                else:
                    slot.done += 1
                    slot.name = None
                on_row(row)
                progress.set_postfix_str(row["name"], refresh=False)
                progress.update()
    for slot in slots:
        slot.stop()


def _collect(slot: _Slot, timeout: float) -> dict[str, Any] | None:
    """The slot's finished row, a Timeout/WorkerDied row, or None while it is still working."""
    assert slot.name is not None
    try:
        if slot.conn.poll():
            row: dict[str, Any] = slot.conn.recv()
            return row
    except (EOFError, OSError):
        pass
    else:
        if slot.process.is_alive():
            if time.monotonic() - slot.started <= timeout:
                return None
            return _lost(slot.name, "Timeout", f"no result after {timeout:.0f} s")
    code = slot.process.exitcode
    return _lost(slot.name, "WorkerDied", f"the worker process died (exit code {code})")


def _write_json(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_output(path) as handle:
        handle.write(json.dumps(rows, indent=1).encode())


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    with atomic_output(path) as handle:
        handle.write(text.getvalue().encode())


def _error_key(row: dict[str, Any]) -> str:
    """The error with what varies between models (module paths, sizes) taken out."""
    message = re.sub(r" at '[^']*'", "", row["error_message"])
    # numbers that are not part of a name (Conv1d keeps its 1): sizes, line numbers, versions
    message = re.sub(r"(?<![A-Za-z_])\d+", "#", message.splitlines()[0] if message else "")
    return f"{row['stage']}: {row['error_type']}: {message[:220]}"


def _entry(row: dict[str, Any]) -> str:
    """The model's name, with graph-vs-torch figures where it converts but not exactly."""
    model = row["name"].partition(":")[2]
    if not row["converts"] or row["error_type"]:
        return model
    return (
        f"{model} (params {row['params']} vs {row['forward_params']}, FLOPs "
        f"{row['conv_linear_flops']} vs {row['flop_counter_flops']})"
    )


def _why_not_exact(row: dict[str, Any]) -> str:
    reasons = []
    if row["params"] != row["forward_params"]:
        reasons.append("params differ")
    if row["conv_linear_flops"] != row["flop_counter_flops"]:
        reasons.append("conv/linear/matmul FLOPs differ")
    return "converts, not exact: " + " and ".join(reasons)


def summary(source: str, rows: list[dict[str, Any]]) -> str:
    """One paragraph of coverage figures for ``rows``."""
    converted = [r for r in rows if r["converts"]]
    times = [r["seconds"] for r in converted]
    timing = (
        f"from_module median {statistics.median(times):.2f} s, max {max(times):.2f} s"
        if times
        else "no conversions"
    )
    return (
        f"{source}: {len(converted)}/{len(rows)} convert, "
        f"{sum(r['exact'] for r in rows)}/{len(rows)} exact, "
        f"{sum(r['raw_exception'] for r in rows)} raw exceptions; {timing}"
    )


def failures_markdown(results: dict[str, list[dict[str, Any]]]) -> str:
    """Every source's failures and inexact conversions, grouped by error, largest group first."""
    lines = ["# cg-ir zoo coverage: failures grouped by error", ""]
    lines += [f"- {summary(source, rows)}" for source, rows in results.items()]
    for source, rows in results.items():
        groups: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row["exact"]:
                continue
            key = _error_key(row) if row["error_type"] else _why_not_exact(row)
            flag = " [RAW]" if row["raw_exception"] else ""
            groups[key + flag].append(_entry(row))
        lines += ["", f"## {source}", ""]
        for key, models in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            lines.append(f"- **{len(models)}** `{key}`: {', '.join(sorted(models))}")
    return "\n".join(lines) + "\n"


class _Store:
    """The rows of every source in OUT; each new row rewrites its source's files and the report."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        for source in SOURCES:
            path = out / f"{source}.json"
            saved = json.loads(path.read_text()) if path.exists() else []
            self.rows[source] = {row["name"]: row for row in saved}

    def sorted_rows(self) -> dict[str, list[dict[str, Any]]]:
        return {
            source: [rows[name] for name in sorted(rows)]
            for source, rows in self.rows.items()
            if rows
        }

    def add(self, row: dict[str, Any]) -> None:
        source = row["name"].partition(":")[0]
        self.rows[source][row["name"]] = row
        results = self.sorted_rows()
        _write_json(self.out / f"{source}.json", results[source])
        _write_csv(self.out / f"{source}.csv", results[source])
        self.write_report()

    def write_report(self) -> None:
        with atomic_output(self.out / "failures.md") as handle:
            handle.write(failures_markdown(self.sorted_rows()).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=[*SOURCES, "all"], default="all")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these models of one source")
    parser.add_argument("--out", type=Path, required=True, help="folder of the results")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per model")
    parser.add_argument("--recycle", type=int, default=20, help="models per worker process")
    parser.add_argument("--redo", action="store_true", help="re-check models already in OUT")
    parser.add_argument(
        "--redo-failed", action="store_true", help="re-check the models of OUT that are not exact"
    )
    args = parser.parse_args()
    if args.only and args.source == "all":
        parser.error("--only needs --source torchvision or --source timm")

    store = _Store(args.out)
    for source in list(SOURCES) if args.source == "all" else [args.source]:
        names = [f"{source}:{m}" for m in (args.only or list_models(source))]
        done = store.rows[source]
        current = code_digest("cg_ir")
        todo = [
            n
            for n in names
            if args.redo
            or n not in done
            or done[n].get("code_digest") != current
            or (args.redo_failed and not done[n]["exact"])
        ]
        print(f"{source}: {len(todo)} to check, {len(names) - len(todo)} already in {args.out}")
        run(todo, args.jobs, args.timeout, args.recycle, store.add, threads=max(1, 2 // args.jobs))
    store = _Store(args.out)  # as saved: another run may have written other sources meanwhile
    store.write_report()
    for source, rows in store.sorted_rows().items():
        print(summary(source, rows))


if __name__ == "__main__":
    main()
