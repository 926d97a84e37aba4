"""Run the committed protocol results again with the current code (``results/transfer/*.json``).

Each file's command comes from the file itself (``cg_predict.evaluate.cli.evaluate_arguments``:
every option it was run with, spelled out); the file is rewritten in place by ``cgnas evaluate
--force``, after every seed, so an interrupted run resumes where it stopped. Files written by
the current code are skipped unless ``--all``. The files of one target family run one after the
other in one worker, CIFAR-10 first, because they share the cached source model (NB-201's three
datasets train it once); families are spread over ``--jobs`` workers, longest first, by the
wall time each file recorded. Run it from a checkout whose code does not change meanwhile
(e.g. a ``git worktree``): a file is current only for the code that wrote it.

Usage: python tools/rerun_results.py [--jobs 2] [--all] [--dry-run] [FILE ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cg_ir.provenance import code_digest
from cg_predict.evaluate import RESULTS_CODE, EvaluationResult
from cg_predict.evaluate.cli import evaluate_arguments

TRANSFER = Path(__file__).resolve().parents[1] / "results" / "transfer"


def _command(path: Path, result: EvaluationResult) -> list[str]:
    seeds = len({r["seed"] for r in result.runs})
    arguments = evaluate_arguments(result.config, seeds)
    return [sys.executable, "-m", "cg_ir.cli", *arguments, "--force", "--out", str(path)]


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write: the workers' lines never interleave
    sys.stdout.flush()


def _run_family(commands: list[tuple[Path, list[str]]], dry_run: bool) -> None:
    for path, command in commands:
        _say(" ".join(["cgnas", *command[3:]]))
        if dry_run:
            continue
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        took = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{path.name} failed after {took:.0f} s: {done.stderr.strip()}")
        _say(f"{path.name}: done in {took:.0f} s")


def main(argv: list[str] | None = None) -> int:
    """Rerun the stale (or ``--all``) results files; print each command and its wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="default: results/transfer/*.json")
    parser.add_argument("--jobs", type=int, default=2, help="workers (one thread each)")
    parser.add_argument("--all", action="store_true", help="also files of the current code")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    current = code_digest(*RESULTS_CODE)
    families: dict[str, list[tuple[Path, list[str]]]] = defaultdict(list)
    expected: dict[str, float] = defaultdict(float)
    for path in sorted(args.files or TRANSFER.glob("*.json")):
        result = EvaluationResult.read(path)
        if result.code_digest == current and not args.all:
            continue
        family = f"{result.config['target']}-{result.config['source_limit']}"
        families[family].append((path, _command(path, result)))
        expected[family] += float(result.metadata.get("timings", {}).get("total_s", 0.0))
    for commands in families.values():  # the dataset that trains the shared source model first
        commands.sort(key=lambda entry: "cifar10" not in entry[1])
    order = sorted(families, key=expected.__getitem__, reverse=True)
    print(
        f"{sum(map(len, families.values()))} files, {len(families)} families; expected "
        f"{sum(expected.values()) / 60:.0f} CPU-minutes (their recorded wall times)"
    )
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for finished in [pool.submit(_run_family, families[f], args.dry_run) for f in order]:
            finished.result()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
