"""Ship the default checkpoint that ``cgnas reproduce --full`` trained into cg-predict.

``cgnas reproduce --full --only default-checkpoint --out results/full`` trains it
(``cg_predict.experiments.default_checkpoint``: the recipe, its held-out zero-shot table) and
is run first when ``results/full/default-checkpoint`` is not the current code's; this copies
its ``default.pt`` and ``default.md`` to ``cg_predict/checkpoints/``, where
``Predictor.default()`` reads them. ``tests/test_default_checkpoint_shipped.py`` checks that
the shipped files are the full run's.

Shipping another checkpoint stales ``inference-speed`` (its provenance checksums the shipped
file), and ``reproduce --only`` writes a ``summary.json`` of the experiments it ran alone; so
the last step reruns ``inference-speed`` together with every experiment whose full results are
current (each reused), which leaves ``results/full/summary.json`` listing all of them. Run it
on an otherwise idle machine: ``inference-speed`` measures graphs per second.

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


def current_experiments() -> list[str]:
    """The experiments whose folder in ``results/full`` the current code would reuse."""
    from cg_ir.experiments import ReproduceConfig, registered_experiments, saved_provenance

    config = ReproduceConfig(mode="full", out=str(FULL), progress=False)
    return [
        e.name
        for e in registered_experiments()
        if (found := saved_provenance(e.name, config)) is not None and found[1]
    ]


def main() -> int:
    """Run (or reuse) the full experiment, copy its files into the package, refresh the rest."""
    reproduce_full(["default-checkpoint"])
    for name in FILES:
        shutil.copyfile(FULL / "default-checkpoint" / name, SHIPPED / name)
        print(f"shipped {SHIPPED / name}")
    reproduce_full(sorted({READS_SHIPPED, *current_experiments()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
