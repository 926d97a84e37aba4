"""The transfer results files the chapters read (book/transfer_results.py).

The transfer experiment writes one ``EvaluationResult`` file per target and dataset. The
full-protocol numbers the book reports come from ``cgnas reproduce --full --only transfer --out
results/full`` (``results/full/transfer``, every setting including ``b-live``'s live proxies).
"""

from __future__ import annotations

from pathlib import Path

from reproduced import FULL, RESULTS, full_results

from cg_predict.evaluate import EvaluationResult

NOT_RESULTS = ("provenance.json", "predicted-against-true.json")  # the experiment's other JSON


def read_transfer(folder: Path) -> dict[str, EvaluationResult]:
    """Every results file of ``folder``, by file name without ``.json`` (``nb201-cifar10``)."""
    return {
        path.stem: EvaluationResult.read(path)
        for path in sorted(folder.glob("*.json"))
        if path.name not in NOT_RESULTS
    }


def reported_transfer() -> tuple[Path | None, dict[str, EvaluationResult]]:
    """The full-protocol folder the book reports, and its results files.

    ``results/full/transfer`` (this full-mode build's own run, or the committed one, of which
    ``full_results`` prints whether the current code made it); ``(None, {})`` when it is not
    there.
    """
    folder = FULL / "transfer" if RESULTS == FULL else full_results("transfer")
    return folder, ({} if folder is None else read_transfer(folder))


def ablation_results(folder: Path) -> dict[str, EvaluationResult]:
    """The full-size contrastive ablation's combined result per target that ``folder`` holds.

    ``<target>.json`` of every target of ``AblationConfig.for_mode("full")``; a run made before
    every labelled family was a target lacks some (the frozen-encoder run is not among them).
    """
    from cg_contrast.ablation import AblationConfig

    paths = {t: folder / f"{t}.json" for t in AblationConfig.for_mode("full").targets}
    return {t: EvaluationResult.read(path) for t, path in paths.items() if path.exists()}
