"""Ship the default checkpoint that ``cgnas reproduce --full`` trained into cg-predict.

``cgnas reproduce --full --only default-checkpoint --out results/full`` trains it
(``cg_predict.experiments.default_checkpoint``: the recipe, its held-out zero-shot table) and
is run first when ``results/full/default-checkpoint`` is not the current code's; this copies
its ``default.pt`` and ``default.md`` to ``cg_predict/checkpoints/``, where
``Predictor.default()`` reads them. ``tests/test_default_checkpoint_shipped.py`` checks that
the shipped files are the full run's.

Shipping another checkpoint stales ``inference-speed`` (its provenance checksums the shipped
file), so the last step reruns it (``reproduce --only`` keeps the other experiments' records in
``results/full/summary.json``). Run it on an otherwise idle machine: ``inference-speed``
measures graphs per second.

Usage: CGNAS_DATA_DIR=../shared/data python tools/train_default_checkpoint.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "results" / "full"
SHIPPED = ROOT / "packages" / "cg-predict" / "src" / "cg_predict" / "checkpoints"
FILES = ("default.pt", "default.md")
# the experiment whose results depend on the shipped file
READS_SHIPPED = "inference-speed"


def reproduce_full(names: list[str]) -> None:
    """``cgnas reproduce --full --strict --only NAMES --out results/full``; current ones reused."""
    command = [sys.executable, "-m", "cg_ir.cli", "reproduce", "--full", "--strict"]
    command += ["--only", ",".join(names), "--out", str(FULL)]
    subprocess.run(command, check=True)


def main() -> int:
    """Run (or reuse) the full experiment, copy its files into the package, rerun what reads it."""
    reproduce_full(["default-checkpoint"])
    for name in FILES:
        shutil.copyfile(FULL / "default-checkpoint" / name, SHIPPED / name)
        print(f"shipped {SHIPPED / name}")
    reproduce_full([READS_SHIPPED])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
