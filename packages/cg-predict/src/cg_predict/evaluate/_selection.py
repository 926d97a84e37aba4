"""Model choices made without the target's labels: nested leave-one-family-out.

For a target ``T`` the protocol trains on the other labelled families ``S``. A choice (readout,
fine-tuning epochs, fine-tuning mode) is made on ``S`` alone: every source ``V`` in turn is held
out as a validation family, the model is trained on ``S - {V}`` and fine-tuned on labels of
``V`` with ``evaluate`` (``V`` as its target, its first test setting), and a candidate's score is
the mean per-class SRCC over the held-out sources. ``T``'s cells are never loaded. With a
single source there is no inner fold: such a target is decided on every fold of the labelled
families that does not validate on it, and the selection says so.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate._config import LABELLED, ProtocolConfig, source_families
from cg_predict.evaluate._protocol import evaluate
from cg_predict.evaluate._targets import settings_of

__all__ = ["Candidate", "Selection", "inner_folds", "select_on_sources"]

# a fine-tuning mode -> the protocol's row: the whole network, or the head on the frozen encoder
MODE_METHODS = {"full": "gnn-fine-tune", "head": "gnn-head"}

Fold = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class Candidate:
    """One model choice scored by the selection.

    Examples:
        >>> Candidate("mean", 25, "head").name
        'mean/ft25/head'
    """

    readout: str
    fine_tune_epochs: int
    mode: str

    def __post_init__(self) -> None:
        if self.mode not in MODE_METHODS:
            raise InvalidArgumentError(
                f"fine-tuning mode {self.mode!r} is not valid; choose one of {list(MODE_METHODS)}"
            )

    @property
    def name(self) -> str:
        """``readout/ft<epochs>/<mode>``."""
        return f"{self.readout}/ft{self.fine_tune_epochs}/{self.mode}"


@dataclass(frozen=True)
class Selection:
    """The ranking of the candidates for one target, best first, and how it was scored.

    Attributes:
        target: the family the choice is for (never evaluated).
        folds: ``(validation family, training sources)`` of every inner evaluation used.
        inherited: True when the target has one source (no inner fold of its own).
        ranking: ``(candidate, mean SRCC over folds, SRCC per fold)``, best first.
    """

    target: str
    folds: tuple[Fold, ...]
    inherited: bool
    ranking: tuple[tuple[Candidate, float, tuple[float, ...]], ...]

    @property
    def best(self) -> Candidate:
        """The chosen candidate."""
        return self.ranking[0][0]

    def to_dict(self) -> dict[str, Any]:
        """JSON form.

        ``ranking`` entries are ``readout``, ``ft`` (fine-tuning epochs), ``mode``, ``score``
        and ``folds`` (SRCC per fold, in ``folds`` order).
        """
        return {
            "target": self.target,
            "folds": [[v, list(t)] for v, t in self.folds],
            "inherited": self.inherited,
            "ranking": [
                {
                    "readout": c.readout,
                    "ft": c.fine_tune_epochs,
                    "mode": c.mode,
                    "score": score,
                    "folds": list(per_fold),
                }
                for c, score, per_fold in self.ranking
            ],
        }


def inner_folds(target: str, sources: Sequence[str] = ()) -> tuple[Fold, ...]:
    """``(validation family, training sources)`` for every source of ``target`` held out.

    Examples:
        >>> inner_folds("nb101")
        (('nb201', ('nb301',)), ('nb301', ('nb201',)))
        >>> inner_folds("ofa-mbv3")[0]
        ('nb101', ('nb201', 'nb301'))
    """
    used = source_families(target, tuple(sources))
    if len(used) < 2:
        return ()
    return tuple((v, tuple(s for s in used if s != v)) for v in used)


def _folds_for(target: str, sources: Sequence[str]) -> tuple[tuple[Fold, ...], bool]:
    """The folds that decide ``target``, and whether they were inherited (one source)."""
    own = inner_folds(target, sources)
    if own:
        return own, False
    others = tuple(f for t in LABELLED if t != target for f in inner_folds(t) if f[0] != target)
    return tuple(sorted(set(others))), True


def _fold_config(base: ProtocolConfig, fold: Fold, readout: str, epochs: int) -> ProtocolConfig:
    validation, training = fold
    encoder = dataclasses.replace(base.source.encoder, readout=readout)
    return dataclasses.replace(
        base,
        target=validation,
        dataset="",
        sources=training,
        settings=settings_of(validation)[0],
        encoders=(),
        live_sample_size=0,
        fine_tune_epochs=epochs,
        source=dataclasses.replace(base.source, encoder=encoder),
    )


def select_on_sources(
    base: ProtocolConfig,
    readouts: Sequence[str],
    fine_tune_epochs: Sequence[int],
    *,
    shots: int | None = None,
    work_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> Selection:
    """Rank readout x fine-tuning epochs x mode for ``base.target`` on its sources only.

    Args:
        base: the protocol run the choice is for: its target and sources, seeds, source
            training and cell limits are used; every inner evaluation replaces the target by
            a held-out source (its first test setting) and trains on the remaining sources.
        readouts: ``EncoderConfig.readout`` values to compare.
        fine_tune_epochs: fine-tuning epoch counts to compare.
        shots: labels of the held-out family (default: ``base``'s largest shot count).
        work_dir: inner evaluations are written (and resumed) here as ``evaluate``'s
            ``r.json`` files.
        data_dir: the benchmark data directory.
        device: torch device.
        progress: progress bars.

    Returns:
        The ranking; ``Selection.best`` is the choice.

    Raises:
        InvalidArgumentError: no candidate, or ``shots`` below 2.
    """
    k = shots if shots is not None else max(base.shots)
    if k < 2 or not readouts or not fine_tune_epochs:
        raise InvalidArgumentError(
            f"need readouts, fine-tuning epochs and shots >= 2; got {list(readouts)}, "
            f"{list(fine_tune_epochs)}, shots={k}"
        )
    folds, inherited = _folds_for(base.target, base.sources)
    scores: dict[tuple[Candidate, Fold], float] = {}
    for fold in folds:
        for readout in readouts:
            for epochs in fine_tune_epochs:
                config = _fold_config(dataclasses.replace(base, shots=(k,)), fold, readout, epochs)
                out = None
                if work_dir is not None:
                    Path(work_dir).mkdir(parents=True, exist_ok=True)
                    out = Path(work_dir) / f"{config.digest()[:16]}.json"
                result = evaluate(
                    config, data_dir=data_dir, out=out, device=device, progress=progress
                )
                setting = config.settings[0]
                for mode, method in MODE_METHODS.items():
                    row = result.row(setting, method, k)
                    # an SRCC is undefined only for a constant prediction: no ranking at all
                    srcc = 0.0 if row.srcc_mean is None else row.srcc_mean
                    scores[(Candidate(readout, epochs, mode), fold)] = srcc
    candidates = dict.fromkeys(c for c, _ in scores)
    ranking = []
    for candidate in candidates:
        per_fold = tuple(scores[(candidate, fold)] for fold in folds)
        ranking.append((candidate, statistics.fmean(per_fold), per_fold))
    ranking.sort(key=lambda entry: -entry[1])
    return Selection(base.target, folds, inherited, tuple(ranking))
