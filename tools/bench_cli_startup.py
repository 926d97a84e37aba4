"""Start-up cost of the ``cgnas`` command: help answers and a first prediction, in new processes.

Target (issue "cg-ir: the networks people actually write", section 3): ``cgnas --help`` and
``cgnas <command> --help`` answer in under 1 s. Each command runs once untimed (so the file
cache is warm for all alike), then ``--runs`` times in a fresh process each; the table shows
the median and the fastest wall time, and the median CPU time (user + system) of the process,
which other load on the machine inflates less than the wall time. ``cgnas predict --module``
scores a small CNN written to a temporary file, so its time is a user's first prediction:
interpreter start, torch, the predictor checkpoint, tracing and scoring.

Usage: python tools/bench_cli_startup.py [--runs 5] [--checkpoint ck.pt] [--json out.json]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cg_ir import write_json

HELP_TARGET_S = 1.0
SMALL_NET = """\
import torch.nn as nn


def build():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )
"""


def _cgnas() -> list[str]:
    """The installed ``cgnas`` console script next to this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("cgnas")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "cg_ir.cli"]


def _commands(net: Path, checkpoint: str | None) -> dict[str, list[str]]:
    cgnas = _cgnas()
    predict = [*cgnas, "predict", "--module", f"{net}:build", "--input-shape", "1,3,32,32"]
    return {
        "cgnas --help": [*cgnas, "--help"],
        "cgnas predict --help": [*cgnas, "predict", "--help"],
        "cgnas search --help": [*cgnas, "search", "--help"],
        "python -c 'import cg_predict'": [sys.executable, "-c", "import cg_predict"],
        "cgnas predict --module (cold)": predict
        + (["--checkpoint", checkpoint] if checkpoint else []),
    }


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _times(command: list[str], runs: int) -> tuple[list[float], list[float], str]:
    """Wall and CPU times of ``runs`` runs of ``command`` after one untimed run, and the last
    stderr line of that run if it failed."""
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    error = "" if first.returncode == 0 else (first.stderr.strip().splitlines() or ["?"])[-1]
    walls, cpus = [], []
    for _ in range(runs):
        cpu, start = _cpu_s(), time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu_s() - cpu)
    return walls, cpus, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command (default 5)")
    parser.add_argument("--checkpoint", help="predictor checkpoint (default: the shipped one)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        net = Path(tmp) / "small_net.py"
        net.write_text(SMALL_NET)
        for name, command in _commands(net, args.checkpoint).items():
            walls, cpus, error = _times(command, args.runs)
            rows.append(
                {
                    "command": name,
                    "median_s": statistics.median(walls),
                    "min_s": min(walls),
                    "cpu_s": statistics.median(cpus),
                    "error": error,
                }
            )
    width = max(len(row["command"]) for row in rows)
    print(f"{'command':<{width}}  {'median s':>8}  {'min s':>6}  {'CPU s':>6}  note")
    for row in rows:
        note = row["error"] or (
            ("ok" if row["median_s"] < HELP_TARGET_S else f"over {HELP_TARGET_S:g} s")
            if "--help" in row["command"]
            else ""
        )
        print(
            f"{row['command']:<{width}}  {row['median_s']:>8.2f}  {row['min_s']:>6.2f}  "
            f"{row['cpu_s']:>6.2f}  {note}"
        )
    if args.json:
        write_json(args.json, {"runs": args.runs, "rows": rows})


if __name__ == "__main__":
    main()
