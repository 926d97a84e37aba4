"""Ship the default checkpoint that ``cgnas reproduce --full`` trained into cg-predict.

``cgnas reproduce --full --only default-checkpoint --out results/full`` trains it
(``cg_predict.experiments.default_checkpoint``: the recipe, its held-out zero-shot table) and
is run first when ``results/full/default-checkpoint`` is not the current code's; this copies
its ``default.pt`` and ``default.md`` to ``cg_predict/checkpoints/``, where
``Predictor.default()`` reads them. ``tests/test_default_checkpoint_shipped.py`` checks that
the shipped files are the full run's.

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


def main() -> int:
    """Run (or reuse) the full experiment, then copy its checkpoint and note into the package."""
    command = [sys.executable, "-m", "cg_ir.cli", "reproduce", "--full", "--strict"]
    command += ["--only", "default-checkpoint", "--out", str(FULL)]
    subprocess.run(command, check=True)
    for name in FILES:
        shutil.copyfile(FULL / "default-checkpoint" / name, SHIPPED / name)
        print(f"shipped {SHIPPED / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
