"""The full-size searches of the ``search`` experiment, and the proxy its ``best-proxy-order`` uses.

``cgnas reproduce --full --only search`` writes ``results/full/search/<space>--<run>.json``, which
the book's search chapter and introduction read: every committed file the current code wrote must
hold exactly the configuration the experiment runs for its space and run, every one its 20 seeds,
and every space must be one the oracles can search. ``best-proxy-order``'s proxy (``BEST_PROXY``,
declared) must be what ``search_proxy``'s rule chooses on the other families' committed proxy
agreement runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cg_evo import ORACLES
from cg_evo.experiments import (
    AGREEMENT_FAMILIES,
    BEST_PROXY,
    GOAL_SPACES,
    RUNS,
    SEEDS,
    agreement_evidence,
    goal_config,
    results_name,
    search_proxy,
)
from cg_evo.search import SEARCH_CODE, _resume_key
from cg_ir.provenance import code_digest

ROOT = Path(__file__).resolve().parents[1]
FULL_SEARCH = ROOT / "results" / "full" / "search"
AGREEMENT = ROOT / "results" / "proxies"


def test_every_space_is_searchable_and_every_run_has_its_own_file() -> None:
    names = set()
    for space, (family, dataset, _limits, queries) in GOAL_SPACES.items():
        assert dataset in ORACLES[family], space
        assert queries >= 200  # the goals' budgets
        for run, strategy in RUNS.items():
            config = goal_config(space, run)
            assert (config.family, config.seeds, config.strategy) == (family, SEEDS, strategy)
            names.add(results_name(space, run))
    assert len(names) == len(GOAL_SPACES) * len(RUNS)


def _finished_full_searches() -> list[Path]:
    """The files of a finished full search (its provenance lists them; none while it runs)."""
    provenance = FULL_SEARCH / "provenance.json"
    if not provenance.is_file():  # no full search, or one still writing its files
        return []
    return [FULL_SEARCH / name for name in json.loads(provenance.read_text())["files"]]


def test_committed_full_searches_hold_the_experiments_configuration() -> None:
    """Every file has the 20 seeds; a file the current code wrote, the current configuration.

    A file written by other code may hold that code's configuration (a warm start chosen
    since, say): the book marks it stale until the rerun replaces it.
    """
    by_name = {results_name(space, run): (space, run) for space in GOAL_SPACES for run in RUNS}
    current = code_digest(*SEARCH_CODE)
    for path in _finished_full_searches():
        if path.name not in by_name:  # the trivial ordering's longer run, the figures
            continue
        doc = json.loads(path.read_text())
        assert [r["seed"] for r in doc["runs"]] == list(range(SEEDS)), path.name
        if doc["code_digest"] != current:
            continue
        config = goal_config(*by_name[path.name])
        assert doc["config"] == config.to_dict(), path.name
        labelled_by = SimpleNamespace(table_digest=doc["table_digest"])  # the run's label table
        assert doc["config_hash"] == _resume_key(config.to_dict(), labelled_by), path.name


def test_best_proxy_is_the_rules_choice_on_the_committed_agreement_runs() -> None:
    evidence = agreement_evidence(AGREEMENT)
    families = {family for family, *_ in GOAL_SPACES.values()}
    assert set(BEST_PROXY) == families
    assert {family: search_proxy(family, evidence) for family in families} == dict(BEST_PROXY)


def _agreement(root: Path, family: str, srcc: dict[str, float]) -> None:
    path = root / family / f"{family}-cifar10-smooth.json"
    path.parent.mkdir(parents=True)
    proxies = {name: {"srcc_ours_acc": value} for name, value in srcc.items()}
    path.write_text(json.dumps({"proxies": proxies}))


def test_the_search_proxy_is_chosen_on_the_other_families_only(tmp_path: Path) -> None:
    _agreement(tmp_path, "nb101", {"synflow": 0.5, "meco": 0.2, "params": 0.9, "az_nas": 0.9})
    _agreement(tmp_path, "nb201", {"synflow": 0.7, "meco": 0.9, "params": 0.9, "az_nas": 0.9})
    _agreement(tmp_path, "nb301", {"synflow": 0.1, "meco": 0.5, "zico": 0.99})
    evidence = agreement_evidence(tmp_path)
    # nb201: the mean over nb101 and nb301 (0.3 vs 0.35), whatever nb201's own run says
    assert search_proxy("nb201", evidence) == "meco"
    assert search_proxy("nb301", evidence) == "synflow"  # 0.6 vs 0.55; zico not in all
    assert search_proxy("ofa-mbv3", evidence) == "meco"  # cost orderings and az_nas never
    (tmp_path / "nb201" / "nb201-cifar10-smooth.json").unlink()
    assert search_proxy("nb201", agreement_evidence(tmp_path, ["nb101", "nb301"])) == "meco"
    with pytest.raises(FileNotFoundError, match="cgnas proxy-agreement --targets nb201"):
        agreement_evidence(tmp_path, AGREEMENT_FAMILIES)
