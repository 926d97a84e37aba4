"""The folders ``cgnas reproduce`` wrote, as the chapters read them (book/reproduced.py).

CI (the README's main job) runs ``cgnas reproduce --quick --strict --out results/quick`` once
and then builds the book; a chapter calls ``experiment(name)`` and reads that experiment's
JSON, CSV and PNG files from the folder it returns. ``cg_ir.experiments.run_experiment``
reuses the folder when the current code, package versions, mode and data made it, and otherwise
runs that experiment into it first, so a book built on its own still computes every result
once, and a rebuild after a code change never shows stale results.

``full_results(name)`` gives the committed paper-scale folder (``results/full``), which a
quick build shows beside its own results, never recomputing it (hours), and says whether the
current code made it.

Where: ``$CGNAS_RESULTS_DIR`` (relative paths from the repository root), else
``results/<mode>`` at the repository root, where the README's command writes; the mode is
``$CGNAS_BOOK_MODE`` (``quick`` unless ``full``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from cg_ir.experiments import MODES, ReproduceConfig, run_experiment, saved_provenance

# loading the experiments imports tqdm.auto, which warns in a kernel without ipywidgets
warnings.filterwarnings("ignore", message="IProgress not found")
ROOT = Path(__file__).resolve().parents[1]
MODE = os.environ.get("CGNAS_BOOK_MODE", "quick")
if MODE not in MODES:
    raise ValueError(f"CGNAS_BOOK_MODE must be one of {', '.join(MODES)}, not {MODE!r}")
RESULTS = ROOT / os.environ.get("CGNAS_RESULTS_DIR", f"results/{MODE}")
FULL = ROOT / "results" / "full"
"""Where ``cgnas reproduce --full --out results/full`` writes the committed paper-scale results."""


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


def full_results(name: str) -> Path | None:
    """The committed full-mode folder of experiment ``name``, if any; says whether it is current.

    None where ``results/full`` has no finished folder of ``name``, and where the results
    this build reads are that folder already (a full-mode build). A folder made by other code,
    package versions, lock file or data than the current is returned all the same, and the
    line printed says that it is stale.
    """
    if RESULTS == FULL:
        return None
    found = saved_provenance(name, ReproduceConfig(out=FULL, mode="full", progress=False))
    if found is None:
        print(
            f"{name} (full): not in results/full; "
            f"cgnas reproduce --full --only {name} --out results/full writes it"
        )
        return None
    saved, current = found
    how = "the current code made it" if current else "STALE: other code than the current made it"
    took = f"its last run took {saved['wall_seconds']:.0f} s"
    print(f"{name} (full): {how}; {took}, results/full/{name}")
    return FULL / name
