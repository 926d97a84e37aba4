"""The full-size search runs (``tools/run_searches.py``) and the files they committed.

The book's search chapter reads ``results/search/<space>--<strategy>.json`` as the runs of
``tools/run_searches.py``: every committed file must hold exactly the configuration the tool
runs for its space and strategy (so the book shows what the tool computes), with the tool's 20
seeds, and every space must be one the oracles can search.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from cg_evo import ORACLES
from cg_predict.evaluate._results import config_hash

TOOL = Path(__file__).resolve().parents[1] / "tools" / "run_searches.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_searches", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_space_is_searchable_and_every_run_has_its_own_file() -> None:
    tool = _tool()
    paths = set()
    for space, (family, dataset, _limits, queries) in tool.SPACES.items():
        assert dataset in ORACLES[family], space
        assert queries >= 200  # the goals' budgets
        for strategy in tool.STRATEGIES:
            config = tool.search_config(space, strategy)
            assert (config.family, config.seeds) == (family, tool.SEEDS)
            paths.add(tool.results_path(space, strategy))
    assert len(paths) == len(tool.SPACES) * len(tool.STRATEGIES)


def test_committed_files_hold_the_tools_configuration() -> None:
    tool = _tool()
    by_name = {
        tool.results_path(space, strategy).name: (space, strategy)
        for space in tool.SPACES
        for strategy in tool.STRATEGIES
    }
    committed = sorted(tool.RESULTS.glob("*.json"))
    for path in committed:
        assert path.name in by_name, f"{path.name} is not a run of tools/run_searches.py"
        doc = json.loads(path.read_text())
        config = tool.search_config(*by_name[path.name])
        assert doc["config"] == config.to_dict()
        assert doc["config_hash"] == config_hash(config.to_dict())
        assert [r["seed"] for r in doc["runs"]] == list(range(len(doc["runs"])))
        assert len(doc["runs"]) <= tool.SEEDS


def test_the_tool_refuses_an_unknown_space() -> None:
    with pytest.raises(SystemExit):
        _tool().main(["--spaces", "NB-999", "--list"])
