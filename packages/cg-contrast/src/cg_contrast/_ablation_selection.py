"""What a target would use, chosen on its source families only (nested leave-one-family-out).

The ablation runs three CL methods beside the supervised predictors; reporting the column that
scores best on the target's test cells would pick it on the test results. Instead, for target
``T`` every source ``V`` of ``T`` is held out in turn (``cg_predict.evaluate.inner_folds``): the
ablation's own evaluation runs with ``V`` as its target (its first test setting) and the other
sources as the labelled ones, and every candidate scores the per-class SRCC of its row at the
largest shot count. The candidate with the best mean over the folds is ``T``'s choice. Two
choices are read from the same folds: the CL method (among the CL methods' fine-tune rows), and
the predictor (among every learned row: supervised, two-stage, CL, head-only, target-only, GBM),
which also decides whether to pretrain at all. ``T``'s cells are never loaded. Only paired seed
0 is used (its encoders and source training, one run): the choices are made once, before any
result of ``T`` is looked at.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cg_contrast.errors import InvalidArgumentError
from cg_contrast.pipeline import PRETRAINING_METHODS

if TYPE_CHECKING:  # cg_predict.evaluate loads torch and the benchmark tables: when run
    from cg_predict.evaluate import ProtocolConfig

__all__ = ["SourceChoice", "choose_on_sources", "fold_protocol"]

# (validation family, training sources), as cg_predict.evaluate.inner_folds gives them
Fold = tuple[str, tuple[str, ...]]

# the rows of cg_predict.evaluate that score a zero-cost proxy (no label learned from)
_PROXY_ROWS = "proxy:"


@dataclass(frozen=True)
class SourceChoice:
    """The candidate chosen for ``target`` on its sources, and the scores it was chosen by.

    Attributes:
        target: the family the choice is for (never loaded).
        shots: labels of the held-out source in every fold.
        folds: ``(validation family, training sources)`` of every fold.
        scores: ``{candidate: per-class SRCC of its row per fold}``, in ``folds`` order (a
            candidate is a CL method, or an evaluation row such as ``gnn-fine-tune``).

    Examples:
        >>> folds = (("nb101", ("nb301",)), ("nb301", ("nb101",)))
        >>> scores = {"retrieval": (0.5, 0.3), "dropout": (0.6, 0.4)}
        >>> choice = SourceChoice("nb201", 50, folds, scores)
        >>> choice.method, choice.ranking[0]
        ('dropout', ('dropout', 0.5))
        >>> choice.describe()
        'dropout (nb101 0.600, nb301 0.400: mean 0.500; retrieval 0.400)'
        >>> SourceChoice.from_dict(choice.to_dict()) == choice
        True
    """

    target: str
    shots: int
    folds: tuple[Fold, ...]
    scores: Mapping[str, tuple[float, ...]]

    @property
    def ranking(self) -> tuple[tuple[str, float], ...]:
        """``(candidate, mean over folds)``, best first (ties keep the candidates' order)."""
        means = [(m, statistics.fmean(s)) for m, s in self.scores.items()]
        return tuple(sorted(means, key=lambda entry: -entry[1]))

    @property
    def method(self) -> str:
        """The chosen candidate."""
        return self.ranking[0][0]

    def describe(self) -> str:
        """The choice, its fold scores and mean, then the others' means."""
        folds = ", ".join(
            f"{v} {s:.3f}" for (v, _), s in zip(self.folds, self.scores[self.method], strict=True)
        )
        (best, mean), *others = self.ranking
        rest = "".join(f"; {m} {s:.3f}" for m, s in others)
        return f"{best} ({folds}: mean {mean:.3f}{rest})"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``from_dict`` reads it back)."""
        return {
            "target": self.target,
            "shots": self.shots,
            "folds": [[v, list(t)] for v, t in self.folds],
            "scores": {m: list(s) for m, s in self.scores.items()},
            "method": self.method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceChoice:
        """Read ``to_dict``'s form."""
        return cls(
            target=str(data["target"]),
            shots=int(data["shots"]),
            folds=tuple((str(v), tuple(t)) for v, t in data["folds"]),
            scores={str(m): tuple(float(x) for x in s) for m, s in data["scores"].items()},
        )


def fold_protocol(protocol: ProtocolConfig, fold: Fold) -> ProtocolConfig:
    """``protocol`` on the fold (``ProtocolConfig.for_fold``): run 0 at its largest shots."""
    return dataclasses.replace(
        protocol.for_fold(fold), shots=(max(protocol.shots),), seeds=1, first_seed=0
    )


def choose_on_sources(
    protocol: ProtocolConfig,
    methods: Sequence[str],
    work_dir: str | os.PathLike[str],
    *,
    suffix: str = "",
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = False,
    force: bool = False,
) -> tuple[SourceChoice, SourceChoice]:
    """The CL method and the predictor for ``protocol.target``, on its inner folds (the module).

    Args:
        protocol: the target's evaluation with the CL encoders of ``methods`` (paired seed 0).
        methods: the CL methods of its encoders.
        work_dir: each fold's ``evaluate`` results, ``select-<target>-<validation><suffix>.json``
            (resumed from, as ``evaluate`` resumes).
        suffix: tells the files of this schedule from another's (``-frozen``).
        data_dir: the benchmark data directory.
        device: torch device.
        progress: progress bars.
        force: recompute a fold file written by other code instead of refusing it.

    Returns:
        The CL choice (candidates: ``methods``, by their ``-fine-tune`` rows) and the predictor
        choice (candidates: every row that learned from labels, by name).

    Raises:
        InvalidArgumentError: fewer than 2 shots (no fine-tuning) or a single source (no fold).
        cg_predict.errors.StaleResultError: a fold file of other code (and not ``force``).
    """
    from cg_predict.evaluate import evaluate, inner_folds

    shots = max(protocol.shots)
    folds = inner_folds(protocol.target, protocol.sources)
    if shots < 2 or not folds:
        raise InvalidArgumentError(
            f"choosing on the sources needs shots >= 2 and two sources or more; got shots "
            f"{list(protocol.shots)}, sources {list(protocol.sources)}"
        )
    rows_of = {m: f"{PRETRAINING_METHODS[m]}-fine-tune" for m in methods}
    scores: dict[str, list[float]] = {}
    for fold in folds:
        config = fold_protocol(protocol, fold)
        out = Path(work_dir) / f"select-{protocol.target}-{fold[0]}{suffix}.json"
        result = evaluate(
            config, data_dir=data_dir, out=out, device=device, progress=progress, force=force
        )
        for row in result.rows(config.settings[0], shots=shots):
            if not row.method.startswith(_PROXY_ROWS):
                # an SRCC is undefined only for a constant prediction: no ranking at all
                scores.setdefault(row.method, []).append(row.srcc_mean or 0.0)
    learned = {m: tuple(s) for m, s in scores.items()}
    cl = {m: learned[row] for m, row in rows_of.items()}
    return (
        SourceChoice(protocol.target, shots, folds, cl),
        SourceChoice(protocol.target, shots, folds, learned),
    )
