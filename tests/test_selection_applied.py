"""The protocol runs the model chosen on the source families (results/selection/selection.json).

``tools/select_on_sources.py`` writes the nested leave-one-family-out selection; the choices are
applied by cg-predict's ``SELECTED_MODELS`` and its fine-tuning defaults, which must name the
same readout, head features, fine-tuning epochs and mode as the file's choice (``Selection.best``,
the rule of ``cg_predict.evaluate``) for every target.
"""

from __future__ import annotations

import json
from pathlib import Path

from cg_predict.evaluate import INCUMBENT, Candidate, ProtocolConfig, Selection
from cg_predict.training import FINE_TUNE_MODE

SELECTION = Path(__file__).resolve().parents[1] / "results" / "selection" / "selection.json"


def test_protocol_runs_the_choice_of_the_selection_file() -> None:
    targets = json.loads(SELECTION.read_text())["targets"]
    assert set(targets) == {"nb101", "nb201", "nb301", "ofa-mbv3"}
    for target, entry in targets.items():
        best = Selection.from_dict(entry).best
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            head = config.source.head
            ran = Candidate(
                config.source.encoder.readout,
                config.fine_tune_epochs,
                FINE_TUNE_MODE,
                head.graph_features,
                head.graph_feature_scaling,
            )
            assert ran == best, target


def test_the_rule_keeps_the_defaults_unless_beaten_on_every_fold() -> None:
    nb201 = Selection.from_dict(json.loads(SELECTION.read_text())["targets"]["nb201"])
    top, _, top_folds = nb201.ranking[0]
    assert top != INCUMBENT  # the best mean (the mean readout) ...
    own = next(folds for c, _, folds in nb201.ranking if c == INCUMBENT)
    assert not all(a > b for a, b in zip(top_folds, own, strict=True))  # ... loses a fold
    assert nb201.best == INCUMBENT
