"""The full-size search runs (``tools/run_searches.py``) and the files they committed.

The book's search chapter reads ``results/search/<space>--<strategy>.json`` as the runs of
``tools/run_searches.py``: every committed file must hold exactly the configuration the tool
runs for its space and run (so the book shows what the tool computes), with the tool's 20
seeds, and every space must be one the oracles can search. ``best-proxy-order``'s proxy is
chosen on the other families' proxy agreement only.
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
        for run, strategy in tool.RUNS.items():
            config = tool.search_config(space, run)
            assert (config.family, config.seeds, config.strategy) == (family, tool.SEEDS, strategy)
            paths.add(tool.results_path(space, run))
    assert len(paths) == len(tool.SPACES) * len(tool.RUNS)


def test_committed_files_hold_the_tools_configuration() -> None:
    tool = _tool()
    by_name = {
        tool.results_path(space, run).name: (space, run)
        for space in tool.SPACES
        for run in tool.RUNS
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


def _agreement(root: Path, family: str, srcc: dict[str, float]) -> None:
    path = root / family / f"{family}-cifar10-smooth.json"
    path.parent.mkdir(parents=True)
    proxies = {name: {"srcc_ours_acc": value} for name, value in srcc.items()}
    path.write_text(json.dumps({"proxies": proxies}))


def test_the_search_proxy_is_chosen_on_the_other_families_only(tmp_path: Path) -> None:
    tool = _tool()
    _agreement(tmp_path, "nb101", {"synflow": 0.5, "meco": 0.2, "params": 0.9, "az_nas": 0.9})
    _agreement(tmp_path, "nb201", {"synflow": 0.7, "meco": 0.9, "params": 0.9, "az_nas": 0.9})
    _agreement(tmp_path, "nb301", {"synflow": 0.1, "meco": 0.5, "zico": 0.99})
    # nb201: the mean over nb101 and nb301 (0.3 vs 0.35), whatever nb201's own run says
    assert tool.search_proxy("nb201", tmp_path) == "meco"
    assert tool.search_proxy("nb301", tmp_path) == "synflow"  # 0.6 vs 0.55; zico not in all
    assert tool.search_proxy("ofa-mbv3", tmp_path) == "meco"  # cost orderings and az_nas never
    (tmp_path / "nb201" / "nb201-cifar10-smooth.json").unlink()
    assert tool.search_proxy("nb201", tmp_path) == "meco"
    with pytest.raises(FileNotFoundError, match="cgnas proxy-agreement --targets nb201"):
        tool.search_proxy("nb101", tmp_path)
