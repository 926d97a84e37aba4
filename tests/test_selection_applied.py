"""The protocol runs the model chosen on the source families (results/selection/).

``tools/select_on_sources.py`` writes the nested leave-one-family-out selections, one after the
other: ``selection.json`` chose the readout, the fine-tuning epochs and mode;
``selection-heads.json`` then chose the head's cost features with that choice fixed;
``tools/select_zero_shot.py`` wrote ``selection-zero-shot.json`` (source balance and the zero-shot
FLOPs blend), ``tools/select_zero_shot_blend.py`` ``selection-zero-shot-blend.json`` (the zero-shot
rank ensembles). The choices (``Selection.best`` and ``conservative_choice``, the rule of
``cg_predict.evaluate``) are applied by cg-predict's ``SELECTED_MODELS`` and its fine-tuning
defaults: for every target, the protocol must run what the files chose.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from cg_predict import Predictor
from cg_predict.evaluate import (
    FAMILIES,
    INCUMBENT,
    UNSEEN_FAMILY_BLEND,
    Candidate,
    ProtocolConfig,
    Selection,
    SourceTraining,
    conservative_choice,
)
from cg_predict.training import FINE_TUNE_MODE

SELECTIONS = Path(__file__).resolve().parents[1] / "results" / "selection"
TARGETS = {"nb101", "nb201", "nb301", "ofa-mbv3"}


def _choices(name: str) -> dict[str, Candidate]:
    report = json.loads((SELECTIONS / name).read_text())
    assert set(report["targets"]) == TARGETS
    return {t: Selection.from_dict(entry).best for t, entry in report["targets"].items()}


def _zero_shot_choice(target: str) -> dict[str, Any]:
    report = json.loads((SELECTIONS / "selection-zero-shot.json").read_text())
    choice: dict[str, Any] = report["targets"][target]["chosen"]
    return choice


def _protocol_runs(config: ProtocolConfig) -> Candidate:
    head = config.source.head
    return Candidate(
        config.source.encoder.readout,
        config.fine_tune_epochs,
        FINE_TUNE_MODE,
        head.graph_features,
        head.graph_feature_scaling,
    )


def test_protocol_runs_the_choices_of_the_selection_files() -> None:
    network, heads = _choices("selection.json"), _choices("selection-heads.json")
    grid = json.loads((SELECTIONS / "selection-heads.json").read_text())["grid"]
    for target in TARGETS:
        first = network[target]
        # the head selection varied the head alone, at the first selection's choice
        assert (grid["readouts"], grid["fine_tune_epochs"]) == (
            [first.readout],
            [first.fine_tune_epochs],
        )
        assert heads[target].mode == first.mode
        # the later zero-shot selection may choose a head with its source training
        later = _zero_shot_choice(target).get("head", {})
        head = dataclasses.replace(
            heads[target],
            graph_features=tuple(later.get("graph_features", heads[target].graph_features)),
            graph_feature_scaling=later.get(
                "graph_feature_scaling", heads[target].graph_feature_scaling
            ),
        )
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            assert _protocol_runs(config) == head, target


def test_the_rule_keeps_the_defaults_unless_beaten_on_every_fold() -> None:
    report = json.loads((SELECTIONS / "selection.json").read_text())
    nb201 = Selection.from_dict(report["targets"]["nb201"])
    top, _, top_folds = nb201.ranking[0]
    assert top != INCUMBENT  # the best mean (the mean readout) ...
    own = next(folds for c, _, folds in nb201.ranking if c == INCUMBENT)
    assert not all(a > b for a, b in zip(top_folds, own, strict=True))  # ... loses a fold
    assert nb201.best == INCUMBENT


def test_protocol_runs_the_zero_shot_choices() -> None:
    """``tools/select_zero_shot.py``: source training and FLOPs blend, per target and unseen."""
    report = json.loads((SELECTIONS / "selection-zero-shot.json").read_text())
    targets = report["targets"]
    assert set(targets) == set(FAMILIES) | {"unseen family"}
    # every source-training field a candidate changes: the chosen value or the default
    changed = {f for t in report["config"]["trainings"].values() for f in t.get("training", {})}
    for target, entry in targets.items():
        assert target not in entry["folds"]  # decided without scoring on the target
        ranking = [(r["candidate"], r["score"], r["folds"]) for r in entry["ranking"]]
        for name, _, per_fold in ranking:  # the criterion: mean of zero-shot and k-label SRCC
            training = name.split(" w=")[0]
            folds = [report["folds"][v] for v in entry["folds"]]
            assert per_fold == [(f["srcc"][name] + f["srcc_k_shot"][training]) / 2 for f in folds]
        chosen = entry["chosen"]
        assert conservative_choice(ranking, report["incumbent"]) == chosen["candidate"]
        if target == "unseen family":
            continue
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            assert config.zero_shot_flops_weight == chosen["flops_weight"], target
        source = ProtocolConfig.full(target).source
        for name in changed:
            wanted = chosen.get("training", {}).get(name, getattr(SourceTraining(), name))
            assert getattr(source, name) == wanted, (target, name)
        for name, value in chosen.get("head", {}).items():
            assert getattr(source.head, name) == (
                tuple(value) if isinstance(value, list) else value
            )


def test_protocol_runs_the_zero_shot_ensembles() -> None:
    """``tools/select_zero_shot_blend.py``: each target's ensemble, and the unseen family's."""
    report = json.loads((SELECTIONS / "selection-zero-shot-blend.json").read_text())
    choices = report["choices"]
    assert set(choices) == set(FAMILIES) | {"unseen family"}
    for target in FAMILIES:
        assert target not in choices[target]["chosen_on"]  # decided without its labels
        # a weight that rounds to 0 weighs nothing: such a member is not applied
        wanted = {m: w for m, w in choices[target]["weights"]["weights"].items() if w > 0}
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            assert dict(config.zero_shot_ensemble) == wanted, target
    unseen = choices["unseen family"]
    assert set(unseen["chosen_on"]) == set(FAMILIES)
    shipped = {
        "weights": unseen["weights"]["weights"],
        "graphs_only": unseen["graphs_only"]["weights"],
    }
    assert {k: dict(v) for k, v in UNSEEN_FAMILY_BLEND.items()} == shipped
    assert Predictor.default().zero_shot_blend == shipped  # what `cgnas predict` ranks by
