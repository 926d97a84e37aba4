"""The protocol runs the model chosen on the source families (results/selection/).

``tools/select_on_sources.py`` writes the nested leave-one-family-out selections, one after the
other: ``selection.json`` chose the readout, the fine-tuning epochs and mode;
``selection-heads.json`` then chose the head's cost features with that choice fixed. The choices
(``Selection.best``, the rule of ``cg_predict.evaluate``) are applied by cg-predict's
``SELECTED_MODELS`` and its fine-tuning defaults: for every target, the protocol must run what
the files chose.
"""

from __future__ import annotations

import json
from pathlib import Path

from cg_predict.evaluate import INCUMBENT, Candidate, ProtocolConfig, Selection
from cg_predict.training import FINE_TUNE_MODE

SELECTIONS = Path(__file__).resolve().parents[1] / "results" / "selection"
TARGETS = {"nb101", "nb201", "nb301", "ofa-mbv3"}


def _choices(name: str) -> dict[str, Candidate]:
    report = json.loads((SELECTIONS / name).read_text())
    assert set(report["targets"]) == TARGETS
    return {t: Selection.from_dict(entry).best for t, entry in report["targets"].items()}


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
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            assert _protocol_runs(config) == heads[target], target


def test_the_rule_keeps_the_defaults_unless_beaten_on_every_fold() -> None:
    report = json.loads((SELECTIONS / "selection.json").read_text())
    nb201 = Selection.from_dict(report["targets"]["nb201"])
    top, _, top_folds = nb201.ranking[0]
    assert top != INCUMBENT  # the best mean (the mean readout) ...
    own = next(folds for c, _, folds in nb201.ranking if c == INCUMBENT)
    assert not all(a > b for a, b in zip(top_folds, own, strict=True))  # ... loses a fold
    assert nb201.best == INCUMBENT
