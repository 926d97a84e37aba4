"""Searches run the predictor chosen on the other families' pools (results/selection/).

``tools/select_search_predictor.py`` wrote ``selection-search.json``: per searched family, the
source training and warm start of ``predictor-ea``'s predictor, decided by the selection's
conservative rule on the folds that do not search that family. cg-evo's ``SEARCH_PREDICTORS``
applies the choices; here the table must equal the file, and the file's choices must follow from
its folds. ``selection-search-random.json`` decided ``random_per_generation`` the same way, and
``selection-search-stall.json`` (once run) ``random_after_stall`` with it, under the rule its
config names; the search experiment's runs must use what the newest of them chose, and the
same for the warm-start design (``selection-search-proxy-warm.json``, then
``selection-search-ensemble-warm.json``). The local searches' reports decide their own
settings (``selection-search-local-optimum-<strategy>.json``, and predictor-ls's warm start,
``selection-search-local-warm.json``).
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cg_evo.surrogate import SEARCH_PREDICTORS, search_flops_weight, search_training
from cg_predict.evaluate import conservative_choice

ROOT = Path(__file__).resolve().parents[1]
SELECTION = ROOT / "results" / "selection"
REPORTS = sorted(p.name for p in SELECTION.glob("selection-search*.json"))
# the reports deciding predictor-ea's random queries, oldest first: the newest one applies
RANDOM_QUERY_REPORTS = ("selection-search-random.json", "selection-search-stall.json")
# the reports deciding predictor-ea's warm-start design, oldest first (see test_searches_use_the
# _chosen_warm_start for how they combine)
WARM_START_REPORTS = (
    "selection-search-proxy-warm.json",
    "selection-search-ensemble-warm.json",
    "selection-search-portfolio-warm.json",
)
DEFAULT = {"training": "protocol", "warm_start": "blend"}


def _report(name: str = "selection-search.json") -> dict:  # type: ignore[type-arg]
    report: dict = json.loads((SELECTION / name).read_text())  # type: ignore[type-arg]
    return report


def _tool(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``tools/select_search_predictor.py`` as a module (its imports need ``tools/``)."""
    monkeypatch.syspath_prepend(str(ROOT / "tools"))
    path = ROOT / "tools" / "select_search_predictor.py"
    spec = importlib.util.spec_from_file_location("select_search_predictor", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


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


def test_the_reports_are_there() -> None:
    assert {"selection-search.json", "selection-search-random.json"} <= set(REPORTS)


@pytest.mark.parametrize("name", REPORTS)
def test_the_files_choices_follow_from_its_folds(name: str, monkeypatch) -> None:
    report = _report(name)
    folds, incumbent = report["folds"], report["config"]["incumbent"]
    rule = report["config"].get("rule", "strict")  # reports before --rule used the strict one
    choose = _tool(monkeypatch).dominance_choice if rule == "dominance" else conservative_choice
    for family, entry in report["choices"].items():
        used = [v for v in folds if v != family]
        assert entry["folds"] == used  # never the searched family's own pool
        ranking = []
        for name in report["config"]["candidates"]:
            per_fold = tuple(-folds[v]["candidates"][name]["score"] for v in used)
            ranking.append((name, statistics.fmean(per_fold), per_fold))
        ranking.sort(key=lambda r: -r[1])
        assert entry["chosen"]["candidate"] == choose(ranking, incumbent)


def test_searches_use_the_chosen_random_queries() -> None:
    from cg_evo.experiments import GOAL_SPACES, goal_config
    from cg_evo.oracle import ORACLES

    newest = [name for name in RANDOM_QUERY_REPORTS if name in REPORTS][-1]
    chosen = {
        family: (
            entry["chosen"]["random_per_generation"],
            entry["chosen"].get("random_after_stall", 0),  # before it existed: 0
        )
        for family, entry in _report(newest)["choices"].items()
    }
    assert set(chosen) == set(ORACLES)
    for space in GOAL_SPACES:
        config = goal_config(space, "predictor-ea")
        used = (config.settings.random_per_generation, config.settings.random_after_stall)
        assert used == chosen[config.family], space


def test_the_tools_incumbent_is_the_packages_default_search(monkeypatch) -> None:
    from cg_evo.strategies import StrategySettings

    tool = _tool(monkeypatch)
    incumbent = tool.CANDIDATES[tool.INCUMBENT]
    default = StrategySettings()
    assert (incumbent.random_per_generation, incumbent.random_after_stall) == (
        default.random_per_generation,
        default.random_after_stall,
    )
    assert incumbent.warm_design == default.warm_design
    assert {"training": incumbent.training, "warm_start": incumbent.warm_start} == DEFAULT


def _warm_designs_chosen() -> dict[str, str]:
    """Each family's warm-start design after every report of ``WARM_START_REPORTS`` in turn.

    A report compares its incumbent with its candidates on every family: a family takes the
    report's choice when it is not the incumbent, or when the design the family had is among
    the report's candidates (so the report weighed it); otherwise (the report never compared
    the family's design) the family keeps it.
    """
    from cg_evo.strategies import StrategySettings

    designs: dict[str, str] = {}
    for name in [name for name in WARM_START_REPORTS if name in REPORTS]:
        report = _report(name)
        compared = {design for *_, design in report["config"]["candidates"].values()}
        incumbent = report["config"]["candidates"][report["config"]["incumbent"]][-1]
        for family, entry in report["choices"].items():
            chosen = entry["chosen"]["warm_design"]
            had = designs.get(family, StrategySettings().warm_design)
            if chosen != incumbent or had in compared:
                designs[family] = chosen
            else:
                designs[family] = had
    return designs


def _assert_warm_designs_applied(strategy: str, chosen: dict[str, str]) -> None:
    """``SEARCH_WARM_DESIGNS[strategy]`` holds the non-default designs of ``chosen`` (family ->
    design), and ``strategy`` runs with ``chosen``'s design (and the family's best proxy where
    the design reads one) on every goal space."""
    from cg_evo.experiments import BEST_PROXY, GOAL_SPACES, SEARCH_WARM_DESIGNS, goal_config
    from cg_evo.strategies import StrategySettings

    default = StrategySettings().warm_design
    applied = SEARCH_WARM_DESIGNS.get(strategy, {})
    assert applied == {f: d for f, d in chosen.items() if d != default}, strategy
    for space, (family, *_) in GOAL_SPACES.items():
        settings = goal_config(space, strategy).settings
        assert settings.warm_design == chosen[family], (strategy, space)
        if settings.warm_design in ("proxy", "portfolio"):
            assert settings.proxy == BEST_PROXY[family], (strategy, space)


def test_searches_use_the_chosen_warm_start() -> None:
    """The warm-start reports' designs per family (``_warm_designs_chosen``), applied by
    ``cg_evo.experiments.SEARCH_WARM_DESIGNS`` to every goal space's ``predictor-ea``."""
    _assert_warm_designs_applied("predictor-ea", _warm_designs_chosen())


def test_predictor_local_search_uses_its_chosen_warm_start() -> None:
    """``selection-search-local-warm.json``'s choices (predictor-ls's own warm start, measured
    with the restart it runs with), applied by ``cg_evo.experiments.SEARCH_WARM_DESIGNS`` to
    ``predictor-ls`` on every goal space."""
    from cg_evo.experiments import GOAL_SPACES, goal_config

    report = _report("selection-search-local-warm.json")
    assert report["config"]["incumbent"] == "predictor-ls restart"
    chosen = {f: e["chosen"]["warm_design"] for f, e in report["choices"].items()}
    _assert_warm_designs_applied("predictor-ls", chosen)
    for space in GOAL_SPACES:  # the move the selection measured both candidates with
        assert goal_config(space, "predictor-ls").settings.at_local_optimum == "restart", space


def test_searches_use_the_chosen_members() -> None:
    """``selection-search-members.json``'s choices, applied by
    ``cg_evo.experiments.SEARCH_MEMBERS`` to every goal space's ``predictor-ea`` (and to no
    other strategy: the selection measured predictor-ea)."""
    from cg_evo.experiments import GOAL_SPACES, SEARCH_MEMBERS, goal_config
    from cg_evo.surrogate import FineTuneConfig

    default = FineTuneConfig().members
    chosen = {
        family: entry["chosen"]["members"]
        for family, entry in _report("selection-search-members.json")["choices"].items()
    }
    assert SEARCH_MEMBERS == {f: m for f, m in chosen.items() if m != default}
    for space, (family, *_) in GOAL_SPACES.items():
        assert goal_config(space, "predictor-ea").fine_tune.members == chosen[family], space
        assert goal_config(space, "predictor-topk").fine_tune.members == default, space


def test_local_searches_use_the_chosen_move(monkeypatch) -> None:
    """Each ``selection-search-local-optimum-<strategy>.json``'s choices (one report per local
    search of the tool's ``LOCAL_SEARCHES``), applied by ``cg_evo.experiments
    .SEARCH_LOCAL_OPTIMUM`` to that strategy on every goal space (and to no other strategy:
    each local search was measured on its own)."""
    from cg_evo.experiments import GOAL_SPACES, SEARCH_LOCAL_OPTIMUM, goal_config
    from cg_evo.strategies import StrategySettings

    local_searches = _tool(monkeypatch).LOCAL_SEARCHES
    default = StrategySettings().at_local_optimum
    assert set(SEARCH_LOCAL_OPTIMUM) <= set(local_searches)
    for strategy in local_searches:
        report = _report(f"selection-search-local-optimum-{strategy}.json")
        assert report["config"]["incumbent"] == f"{strategy} {default}"
        chosen = {f: e["chosen"]["at_local_optimum"] for f, e in report["choices"].items()}
        applied = SEARCH_LOCAL_OPTIMUM.get(strategy, {})
        assert {f: m for f, m in chosen.items() if m != default} == applied, strategy
        for space, (family, *_) in GOAL_SPACES.items():
            settings = goal_config(space, strategy).settings
            assert settings.at_local_optimum == chosen[family], (strategy, space)
    assert goal_config("NB-301 CIFAR-10", "predictor-ea").settings.at_local_optimum == default


def test_no_report_while_a_fold_lacks_a_candidate(monkeypatch, capsys) -> None:
    """A run with the incumbent alone completes its folds but writes no report (stop 33 wrote
    one when the last fold's incumbent finished while another fold held both candidates)."""
    compared = _tool(monkeypatch).compared_candidates
    both = {"candidates": {"incumbent": {}, "candidate": {}}}
    alone = {"candidates": {"incumbent": {}}}
    assert compared({"a": both, "b": alone}, ["incumbent"]) is None
    assert "fold b lacks ['candidate']" in capsys.readouterr().out
    assert compared({"a": alone, "b": alone}, ["incumbent"]) == ["incumbent"]
    assert compared({"a": both, "b": both}, ["incumbent"]) == ["incumbent", "candidate"]
