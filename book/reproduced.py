"""The folders ``cgnas reproduce`` wrote, as the chapters read them (book/reproduced.py).

CI (the README's main job) runs ``cgnas reproduce --quick --strict --out results/quick`` once
and then builds the book; a chapter calls ``experiment(name)`` and reads that experiment's
JSON, CSV and PNG files from the folder it returns. ``cg_ir.experiments.run_experiment``
reuses the folder when the current code, package versions, mode and data made it, and otherwise
runs that experiment into it first, so a book built on its own still computes every result
once, and a rebuild after a code change never shows stale results.

Where: ``$CGNAS_RESULTS_DIR`` (relative paths from the repository root), else
``results/<mode>`` at the repository root, where the README's command writes; the mode is
``$CGNAS_BOOK_MODE`` (``quick`` unless ``full``).
"""

from __future__ import annotations

import os
from pathlib import Path

from cg_ir.experiments import MODES, ReproduceConfig, run_experiment

ROOT = Path(__file__).resolve().parents[1]
MODE = os.environ.get("CGNAS_BOOK_MODE", "quick")
if MODE not in MODES:
    raise ValueError(f"CGNAS_BOOK_MODE must be one of {', '.join(MODES)}, not {MODE!r}")
RESULTS = ROOT / os.environ.get("CGNAS_RESULTS_DIR", f"results/{MODE}")


def experiment(name: str) -> Path:
    """The finished folder of experiment ``name`` (run first when missing or stale).

    Raises:
        RuntimeError: the experiment failed or was skipped (its benchmark data is absent).
    """
    config = ReproduceConfig(out=RESULTS, mode=MODE, progress=False)
    record = run_experiment(name, config)
    if record.status not in ("ran", "reused"):
        raise RuntimeError(f"experiment {name!r} {record.status}: {record.message}")
    how = "read; the current code computed it" if record.status == "reused" else "computed now"
    where = RESULTS.relative_to(ROOT) if RESULTS.is_relative_to(ROOT) else RESULTS
    print(f"{name} ({MODE}): {how} in {record.seconds:.0f} s, {where}/{name}")
    return RESULTS / name
