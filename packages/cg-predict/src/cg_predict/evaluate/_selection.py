"""Model choices made without the target's labels: nested leave-one-family-out.

For a target ``T`` the protocol trains on the other labelled families ``S``. A choice (readout,
fine-tuning epochs, fine-tuning mode) is made on ``S`` alone: every source ``V`` in turn is held
out as a validation family, the model is trained on ``S - {V}`` and fine-tuned on labels of
``V`` with ``evaluate`` (``V`` as its target, its first test setting). On each fold a candidate
scores the mean of its per-class SRCC without labels (zero-shot) and with ``k`` labels: the
protocol reports the source model both ways, and a user ranks a new family both ways (``cgnas
predict``, then ``--labels``); ``SelectionGrid(zero_shot=False)`` scores ``k`` labels alone, the
criterion of the first selections. A candidate's score is the mean over the held-out sources.
``T``'s cells are never loaded. With a single source there is no inner fold: such a target is
decided on every fold of the labelled families that does not validate on it, and the selection
says so.

The choice is conservative: the incumbent (the package's defaults, ``INCUMBENT``) stays unless a
candidate beats it on *every* held-out family; among such candidates the best mean wins. A
target is another family than any validation family, so a candidate that wins the mean by one
large gain on one family and loses on another is a bet on which family the target resembles;
and with a few seeds the mean's ranking of close candidates flips between runs (two runs of this
selection disagreed on NB-201's best readout, while this rule chose the incumbent in both).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate._config import LABELLED, ProtocolConfig, source_families
from cg_predict.evaluate._protocol import evaluate
from cg_predict.training import FINE_TUNE_EPOCHS, FINE_TUNE_MODE

__all__ = [
    "INCUMBENT",
    "Candidate",
    "Selection",
    "SelectionGrid",
    "conservative_choice",
    "inner_folds",
    "select_on_sources",
]

# a fine-tuning mode -> the protocol's row: the whole network, or the head on the frozen encoder
MODE_METHODS = {"full": "gnn-fine-tune", "head": "gnn-head"}

Fold = tuple[str, tuple[str, ...]]
Choice = TypeVar("Choice")


@dataclass(frozen=True)
class Candidate:
    """One model choice scored by the selection.

    Attributes:
        readout: ``EncoderConfig.readout``.
        fine_tune_epochs: fine-tuning epochs on the target's labels.
        mode: ``"full"`` (the whole network) or ``"head"`` fine-tuning.
        graph_features: ``HeadConfig.graph_features`` (``()``: the embedding alone).
        graph_feature_scaling: ``HeadConfig.graph_feature_scaling`` of those features.

    Examples:
        >>> Candidate("mean", 25, "head").name
        'mean/ft25/head'
        >>> Candidate("mean-sum", 100, "full", ("log_flops", "log_params"), "set").name
        'mean-sum/ft100/full/set:log_flops+log_params'
    """

    readout: str
    fine_tune_epochs: int
    mode: str
    graph_features: tuple[str, ...] = ()
    graph_feature_scaling: str = "fixed"

    def __post_init__(self) -> None:
        if self.mode not in MODE_METHODS:
            raise InvalidArgumentError(
                f"fine-tuning mode {self.mode!r} is not valid; choose one of {list(MODE_METHODS)}"
            )
        object.__setattr__(self, "graph_features", tuple(self.graph_features))

    @property
    def name(self) -> str:
        """``readout/ft<epochs>/<mode>``, then ``/[set:]<feature>+<feature>`` (head features)."""
        scaling = {"fixed": ""}.get(self.graph_feature_scaling, f"{self.graph_feature_scaling}:")
        features = f"/{scaling}{'+'.join(self.graph_features)}" if self.graph_features else ""
        return f"{self.readout}/ft{self.fine_tune_epochs}/{self.mode}{features}"


@dataclass(frozen=True)
class SelectionGrid:
    """The candidates a selection compares, and what it scores them by.

    Attributes:
        readouts: ``EncoderConfig.readout`` values.
        fine_tune_epochs: fine-tuning epoch counts.
        graph_features: ``HeadConfig.graph_features`` values (``()``: none).
        graph_feature_scalings: ``HeadConfig.graph_feature_scaling`` values, each tried with
            every non-empty ``graph_features`` value.
        shots: labels of the held-out family.
        zero_shot: score the mean of the zero-shot and the ``shots``-label SRCC (else the
            ``shots``-label SRCC alone).

    Examples:
        >>> grid = SelectionGrid(readouts=("mean-sum",), fine_tune_epochs=(100,))
        >>> len(grid.candidates()), grid.evaluated_shots
        (2, (0, 50))
    """

    readouts: tuple[str, ...] = ("mean", "mean-sum", "attention")
    fine_tune_epochs: tuple[int, ...] = (25, 50, 100)
    graph_features: tuple[tuple[str, ...], ...] = ((),)
    graph_feature_scalings: tuple[str, ...] = ("fixed",)
    shots: int = 50
    zero_shot: bool = True

    def __post_init__(self) -> None:
        for name in ("readouts", "fine_tune_epochs", "graph_feature_scalings"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "graph_features", tuple(tuple(f) for f in self.graph_features))
        if self.shots < 2 or not (self.readouts and self.fine_tune_epochs and self.graph_features):
            raise InvalidArgumentError(
                f"need readouts, fine-tuning epochs, graph features and shots >= 2; got "
                f"{list(self.readouts)}, {list(self.fine_tune_epochs)}, "
                f"{list(self.graph_features)}, shots={self.shots}"
            )

    @property
    def evaluated_shots(self) -> tuple[int, ...]:
        """The shot counts every inner evaluation runs."""
        return (0, self.shots) if self.zero_shot else (self.shots,)

    def candidates(self) -> list[Candidate]:
        """Every candidate of the grid."""
        heads = [
            (features, scaling)
            for features in self.graph_features
            for scaling in (self.graph_feature_scalings if features else ("fixed",))
        ]
        return [
            Candidate(readout, epochs, mode, features, scaling)
            for readout in self.readouts
            for features, scaling in heads
            for epochs in self.fine_tune_epochs
            for mode in MODE_METHODS
        ]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of every field."""
        return {
            "readouts": list(self.readouts),
            "fine_tune_epochs": list(self.fine_tune_epochs),
            "graph_features": [list(f) for f in self.graph_features],
            "graph_feature_scalings": list(self.graph_feature_scalings),
            "shots": self.shots,
            "zero_shot": self.zero_shot,
        }


INCUMBENT = Candidate(EncoderConfig().readout, FINE_TUNE_EPOCHS, FINE_TUNE_MODE)
"""The package's defaults: what a selection keeps unless a candidate beats it on every fold."""


@dataclass(frozen=True)
class Selection:
    """The ranking of the candidates for one target, best first, and how it was scored.

    Attributes:
        target: the family the choice is for (never evaluated).
        folds: ``(validation family, training sources)`` of every inner evaluation used.
        inherited: True when the target has one source (no inner fold of its own).
        ranking: ``(candidate, mean SRCC over folds, SRCC per fold)``, best mean first.
        incumbent: the candidate kept unless another beats it on every fold.

    Examples:
        >>> folds = (("nb201", ("nb301",)), ("nb301", ("nb201",)))
        >>> mean = Candidate("mean", 100, "full")
        >>> ranking = ((mean, 0.72, (0.63, 0.81)), (INCUMBENT, 0.66, (0.47, 0.85)))
        >>> Selection("nb101", folds, False, ranking).best == INCUMBENT  # wins one fold only
        True
    """

    target: str
    folds: tuple[Fold, ...]
    inherited: bool
    ranking: tuple[tuple[Candidate, float, tuple[float, ...]], ...]
    incumbent: Candidate = INCUMBENT

    @property
    def best(self) -> Candidate:
        """The chosen candidate.

        The best mean among those that beat the incumbent on every fold, else the incumbent
        (or the best mean when the incumbent was not scored).
        """
        if self.incumbent not in {c for c, _, _ in self.ranking}:
            return self.ranking[0][0]
        return conservative_choice(self.ranking, self.incumbent)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``from_dict`` reads it back).

        ``ranking`` entries are ``readout``, ``ft`` (fine-tuning epochs), ``mode``, ``score``
        and ``folds`` (SRCC per fold, in ``folds`` order); ``incumbent`` and ``chosen`` are
        candidates in the same form.
        """
        return {
            "target": self.target,
            "folds": [[v, list(t)] for v, t in self.folds],
            "inherited": self.inherited,
            "incumbent": _candidate_dict(self.incumbent),
            "chosen": _candidate_dict(self.best),
            "ranking": [
                {
                    **_candidate_dict(c),
                    "score": score,
                    "folds": list(per_fold),
                }
                for c, score, per_fold in self.ranking
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        """Rebuild from ``to_dict``'s form.

        Without ``incumbent`` (files written before the rule) the incumbent is ``INCUMBENT``.

        Raises:
            InvalidArgumentError: a key is missing or a candidate is malformed.
        """
        try:
            ranking = tuple(
                (_candidate(e), float(e["score"]), tuple(float(v) for v in e["folds"]))
                for e in data["ranking"]
            )
            folds = tuple((str(v), tuple(t)) for v, t in data["folds"])
            incumbent = _candidate(data["incumbent"]) if "incumbent" in data else INCUMBENT
            return cls(str(data["target"]), folds, bool(data["inherited"]), ranking, incumbent)
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidArgumentError(f"not a selection: {error!r}") from error


def conservative_choice(
    ranking: Sequence[tuple[Choice, float, Sequence[float]]], incumbent: Choice
) -> Choice:
    """The selection's rule: the best mean of the candidates beating the incumbent everywhere.

    Args:
        ranking: ``(candidate, mean score, score per fold)``, best mean first.
        incumbent: the candidate kept unless another beats it on every fold (in ``ranking``).

    Examples:
        >>> ranking = [("b", 0.72, (0.63, 0.81)), ("a", 0.66, (0.47, 0.85))]
        >>> ranking.append(("c", 0.6, (0.5, 0.9)))
        >>> conservative_choice(ranking, "a")  # b wins the mean, c beats a on both folds
        'c'
    """
    beaten = next(per_fold for c, _, per_fold in ranking if c == incumbent)
    for candidate, _, per_fold in ranking:  # best mean first
        if all(score > own for score, own in zip(per_fold, beaten, strict=True)):
            return candidate
    return incumbent


def _candidate_dict(candidate: Candidate) -> dict[str, Any]:
    return {
        "readout": candidate.readout,
        "ft": candidate.fine_tune_epochs,
        "mode": candidate.mode,
        "graph_features": list(candidate.graph_features),
        "graph_feature_scaling": candidate.graph_feature_scaling,
    }


def _candidate(entry: dict[str, Any]) -> Candidate:
    # files written before head features were candidates hold none
    features = tuple(str(f) for f in entry.get("graph_features", ()))
    scaling = str(entry.get("graph_feature_scaling", "fixed"))
    return Candidate(str(entry["readout"]), int(entry["ft"]), str(entry["mode"]), features, scaling)


def inner_folds(target: str, sources: Sequence[str] = ()) -> tuple[Fold, ...]:
    """``(validation family, training sources)`` for every source of ``target`` held out.

    Examples:
        >>> inner_folds("nb101", ("nb201", "nb301"))
        (('nb201', ('nb301',)), ('nb301', ('nb201',)))
        >>> inner_folds("ofa-mbv3")[0]
        ('nb101', ('nb201', 'nb301', 'cbm-mobilenet', 'cbm-resnet'))
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


def _fold_config(
    base: ProtocolConfig, fold: Fold, grid: SelectionGrid, candidate: Candidate
) -> ProtocolConfig:
    """The inner evaluation of ``candidate``'s source model on ``fold`` (both modes' rows)."""
    encoder = dataclasses.replace(base.source.encoder, readout=candidate.readout)
    head = dataclasses.replace(
        base.source.head,
        graph_features=candidate.graph_features,
        graph_feature_scaling=candidate.graph_feature_scaling,
    )
    return dataclasses.replace(
        base.for_fold(fold),
        shots=grid.evaluated_shots,
        encoders=(),
        fine_tune_epochs=candidate.fine_tune_epochs,
        source=dataclasses.replace(base.source, encoder=encoder, head=head),
    )


def _fold_score(result: Any, setting: str, grid: SelectionGrid, mode: str) -> float:
    """A candidate's score on one fold: the mean SRCC over the grid's criterion."""
    srcc = []
    for k in grid.evaluated_shots:
        # zero-shot, both modes are the source model itself: its gnn-fine-tune row at 0 shots
        row = result.row(setting, MODE_METHODS["full" if k == 0 else mode], k)
        # an SRCC is undefined only for a constant prediction: no ranking at all
        srcc.append(0.0 if row.srcc_mean is None else row.srcc_mean)
    return statistics.fmean(srcc)


def select_on_sources(
    base: ProtocolConfig,
    grid: SelectionGrid,
    *,
    work_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> Selection:
    """Rank the candidates of ``grid`` for ``base.target`` on its sources only.

    Args:
        base: the protocol run the choice is for: its target and sources, seeds, source
            training and cell limits are used; every inner evaluation replaces the target by
            a held-out source (its first test setting) and trains on the remaining sources.
        grid: the candidates and the criterion.
        work_dir: inner evaluations are written (and resumed) here as ``evaluate``'s
            ``r.json`` files.
        data_dir: the benchmark data directory.
        device: torch device.
        progress: progress bars.

    Returns:
        The ranking; ``Selection.best`` is the choice.
    """
    folds, inherited = _folds_for(base.target, base.sources)
    scores: dict[tuple[Candidate, Fold], float] = {}
    for fold in folds:
        # one inner evaluation reports both fine-tuning modes: the candidates it scores
        evaluations: dict[ProtocolConfig, list[Candidate]] = {}
        for candidate in grid.candidates():
            config = _fold_config(base, fold, grid, candidate)
            evaluations.setdefault(config, []).append(candidate)
        for config, candidates in evaluations.items():
            out = None
            if work_dir is not None:
                Path(work_dir).mkdir(parents=True, exist_ok=True)
                out = Path(work_dir) / f"{config.digest()[:16]}.json"
            result = evaluate(config, data_dir=data_dir, out=out, device=device, progress=progress)
            for candidate in candidates:
                setting = config.settings[0]
                scores[(candidate, fold)] = _fold_score(result, setting, grid, candidate.mode)
    ranking = []
    for candidate in grid.candidates():
        per_fold = tuple(scores[(candidate, fold)] for fold in folds)
        ranking.append((candidate, statistics.fmean(per_fold), per_fold))
    ranking.sort(key=lambda entry: -entry[1])
    return Selection(base.target, folds, inherited, tuple(ranking))
