"""Searches run the predictor chosen on the other families' pools (results/selection/).

``tools/select_search_predictor.py`` wrote ``selection-search.json``: per searched family, the
source training and warm start of ``predictor-ea``'s predictor, decided by the selection's
conservative rule on the folds that do not search that family. cg-evo's ``SEARCH_PREDICTORS``
applies the choices; here the table must equal the file, and the file's choices must follow from
its folds. ``selection-search-random.json`` decided ``random_per_generation`` the same way; the
search experiment's runs must use what it chose.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from cg_evo.surrogate import SEARCH_PREDICTORS, search_flops_weight, search_training
from cg_predict.evaluate import conservative_choice

SELECTION = Path(__file__).resolve().parents[1] / "results" / "selection"
REPORTS = ("selection-search.json", "selection-search-random.json")
DEFAULT = {"training": "protocol", "warm_start": "blend"}


def _report(name: str = REPORTS[0]) -> dict:  # type: ignore[type-arg]
    report: dict = json.loads((SELECTION / name).read_text())  # type: ignore[type-arg]
    return report


def test_search_predictors_are_the_files_choices() -> None:
    report = _report()
    applied = {}
    for family, entry in report["choices"].items():
        chosen = {k: entry["chosen"][k] for k in ("training", "warm_start")}
        if chosen != DEFAULT:
            applied[family] = chosen
        head = search_training(family).head.graph_features
        assert bool(head) == (chosen["training"] == "protocol"), family
        assert (search_flops_weight(family) > 0) == (chosen["warm_start"] == "blend"), family
    assert {f: dict(c) for f, c in SEARCH_PREDICTORS.items()} == applied


@pytest.mark.parametrize("name", REPORTS)
def test_the_files_choices_follow_from_its_folds(name: str) -> None:
    report = _report(name)
    folds, incumbent = report["folds"], report["config"]["incumbent"]
    for family, entry in report["choices"].items():
        used = [v for v in folds if v != family]
        assert entry["folds"] == used  # never the searched family's own pool
        ranking = []
        for name in report["config"]["candidates"]:
            per_fold = tuple(-folds[v]["candidates"][name]["score"] for v in used)
            ranking.append((name, statistics.fmean(per_fold), per_fold))
        ranking.sort(key=lambda r: -r[1])
        assert entry["chosen"]["candidate"] == conservative_choice(ranking, incumbent)


def test_searches_use_the_chosen_random_queries() -> None:
    from cg_evo.experiments import GOAL_SPACES, goal_config
    from cg_evo.oracle import ORACLES

    chosen = {
        family: entry["chosen"]["random_per_generation"]
        for family, entry in _report(REPORTS[1])["choices"].items()
    }
    assert set(chosen) == set(ORACLES)
    for space in GOAL_SPACES:
        config = goal_config(space, "predictor-ea")
        assert config.settings.random_per_generation == chosen[config.family], space
