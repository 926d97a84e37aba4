"""The transfer results files the chapters read (book/transfer_results.py).

The transfer experiment writes one ``EvaluationResult`` file per target and dataset. The
full-protocol numbers the book reports come from ``cgnas reproduce --full --only transfer --out
results/full`` (``results/full/transfer``, every setting including ``b-live``'s live proxies);
until that folder is committed they come from the earlier ``cgnas evaluate`` runs of the same
protocol in ``results/transfer`` (``--live-proxies 0``: no setting ``b-live``).
"""

from __future__ import annotations

from pathlib import Path

from reproduced import FULL, RESULTS, ROOT, full_results

from cg_predict.evaluate import EvaluationResult

EVALUATE_RUNS = ROOT / "results" / "transfer"
"""Where the ``cgnas evaluate`` runs that predate ``results/full/transfer`` are committed."""
NOT_RESULTS = ("provenance.json", "predicted-against-true.json")  # the experiment's other JSON


def read_transfer(folder: Path) -> dict[str, EvaluationResult]:
    """Every results file of ``folder``, by file name without ``.json`` (``nb201-cifar10``)."""
    return {
        path.stem: EvaluationResult.read(path)
        for path in sorted(folder.glob("*.json"))
        if path.name not in NOT_RESULTS
    }


def reported_transfer() -> tuple[Path, dict[str, EvaluationResult]]:
    """The full-protocol folder the book reports, and its results files.

    ``results/full/transfer`` when it is committed (or is this full-mode build's own run), else
    ``results/transfer``; ``full_results`` prints whether the current code made the first.
    """
    if RESULTS == FULL:  # a full-mode build, whose own transfer run is that folder
        folder = FULL / "transfer"
    else:
        folder = full_results("transfer") or EVALUATE_RUNS
    return folder, read_transfer(folder)
