"""The protocol runs the model chosen on the source families (results/selection/selection.json).

``tools/select_on_sources.py`` writes the nested leave-one-family-out selection; the choices are
applied by cg-predict's ``SELECTED_READOUTS`` and its fine-tuning defaults, which must name the
same readout, fine-tuning epochs and mode as the file's top candidate for every target.
"""

from __future__ import annotations

import json
from pathlib import Path

from cg_predict.evaluate import ProtocolConfig
from cg_predict.training import FINE_TUNE_MODE

SELECTION = Path(__file__).resolve().parents[1] / "results" / "selection" / "selection.json"


def test_protocol_runs_the_choice_of_the_selection_file() -> None:
    targets = json.loads(SELECTION.read_text())["targets"]
    assert set(targets) == {"nb101", "nb201", "nb301", "ofa-mbv3"}
    for target, selection in targets.items():
        best = selection["ranking"][0]
        for config in (ProtocolConfig.full(target), ProtocolConfig.quick(target)):
            ran = (config.source.encoder.readout, config.fine_tune_epochs, FINE_TUNE_MODE)
            assert ran == (best["readout"], best["ft"], best["mode"]), target
