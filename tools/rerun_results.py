"""Run the committed protocol results again with the current code (``results/transfer/*.json``).

Each file's command comes from the file itself (``cg_predict.evaluate.cli.evaluate_arguments``:
every option it was run with, spelled out); the file is rewritten in place by ``cgnas evaluate
--force``, after every seed, so an interrupted run resumes where it stopped. Files written by
the current code are skipped unless ``--all``. The files of one target family run one after the
other in one worker, CIFAR-10 first, because they share the cached source model (NB-201's three
datasets train it once); families are spread over ``--jobs`` workers, longest first, by the
wall time each file recorded. Run it from a checkout whose code does not change meanwhile
(e.g. a ``git worktree``): a file is current only for the code that wrote it.

``--protocol-defaults`` runs every target and dataset of the protocol (``DATASETS``) with the
current full defaults instead (``cgnas evaluate --target T --dataset D --live-proxies 0``,
nothing else spelled out), into ``results/transfer/<target>-<dataset>.json``: what to run
after the protocol itself changed (its sources, its choices), when the files' recorded options
are the old protocol's.

Usage: python tools/rerun_results.py [--jobs 2] [--all] [--dry-run] [--protocol-defaults]
       [FILE ...]
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
from cg_predict.evaluate import DATASETS, RESULTS_CODE, EvaluationResult
from cg_predict.evaluate.cli import evaluate_arguments

TRANSFER = Path(__file__).resolve().parents[1] / "results" / "transfer"


def _command(path: Path, result: EvaluationResult) -> list[str]:
    seeds = len({r["seed"] for r in result.runs})
    arguments = evaluate_arguments(result.config, seeds)
    return [sys.executable, "-m", "cg_ir.cli", *arguments, "--force", "--out", str(path)]


def _protocol_commands() -> dict[str, list[tuple[Path, list[str]]]]:
    """Every target's datasets with the current full defaults, CIFAR-10 (or the first) first."""
    families: dict[str, list[tuple[Path, list[str]]]] = {}
    for target, datasets in DATASETS.items():
        for dataset in datasets:
            path = TRANSFER / f"{target}-{dataset}.json"
            # no live proxies: minutes per network on NB-101 and OFA (setting a has the real ones)
            options = ["--target", target, "--dataset", dataset, "--live-proxies", "0"]
            options += ["--force", "--out", str(path)]
            command = [sys.executable, "-m", "cg_ir.cli", "evaluate", *options]
            families.setdefault(target, []).append((path, command))
    return families


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
    parser.add_argument(
        "--protocol-defaults",
        action="store_true",
        help="every target and dataset with the current full defaults (not the files' options)",
    )
    args = parser.parse_args(argv)
    if args.protocol_defaults:
        families = _protocol_commands()
        order = list(families)
        print(f"{sum(map(len, families.values()))} runs with the current protocol's defaults")
    else:
        families, order = _stale_files(args)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for finished in [pool.submit(_run_family, families[f], args.dry_run) for f in order]:
            finished.result()
    return 0


def _stale_files(
    args: argparse.Namespace,
) -> tuple[dict[str, list[tuple[Path, list[str]]]], list[str]]:
    """The commands of the stale (or ``--all``) files per family, longest family first."""
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
    return families, order


if __name__ == "__main__":
    raise SystemExit(main())
