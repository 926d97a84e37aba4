"""The ``search`` experiment of ``cgnas reproduce``: its runs are due when it runs them."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from cg_evo.experiments import DATA_FREE_RUNS, _run, results_name
from cg_ir.experiments import RunContext

SPACE, STRATEGY = "NB-201 CIFAR-10", "cost-order"


@pytest.mark.needs_data
def test_a_file_other_code_left_in_the_folder_is_recomputed(tmp_path: Path, data_dir: Path) -> None:
    ctx = RunContext(tmp_path, "quick", data_dir, "local", "cpu", progress=False)
    first = _run(ctx, SPACE, STRATEGY)
    path = tmp_path / results_name(SPACE, STRATEGY)
    stale = json.loads(path.read_text())
    digests = [key for key in stale if "digest" in key]
    assert digests, sorted(stale)
    path.write_text(json.dumps({**stale, **dict.fromkeys(digests, "0" * 64)}))
    # reproduce reruns an experiment only when its code changed: a file of other code in its
    # folder is recomputed, not refused (SearchStateError) as cgnas search refuses it
    again = _run(ctx, SPACE, STRATEGY)
    timeless = [
        {k: v for k, v in doc["summary"].items() if "seconds" not in k} for doc in (first, again)
    ]
    assert timeless[0] == timeless[1]
    assert json.loads(path.read_text())[digests[0]] != "0" * 64


KEYS = ["(1, 1, 1, 1, 1, 1)", "(4, 0, 1, 2, 3, 4)", "(3, 3, 3, 3, 3, 3)", "(0, 2, 3, 2, 3, 1)"]


def _warm_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sample: int | None) -> list[str]:
    """Warm ``proxy-order``'s ``sample`` of a pool of ``KEYS`` up; the keys in the sample."""
    import cg_evo
    from cg_evo import experiments, proxy_table
    from cg_evo.space import in_key_sample

    monkeypatch.setattr(cg_evo, "load_oracle", lambda *_: SimpleNamespace(keys=KEYS))
    monkeypatch.setattr(proxy_table, "SAVE_EVERY", 2)  # several saves of the table
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    ctx = RunContext(tmp_path, "full", None, "local", "cpu", progress=False, workers=2)
    config = experiments.goal_config(SPACE, "proxy-order")
    config = replace(config, settings=replace(config.settings, proxy_candidates=sample))
    experiments.warm_proxy_cache(config, "synflow", ctx)
    mask = in_key_sample(KEYS, sample, len(KEYS))
    return [k for k, kept in zip(KEYS, mask, strict=True) if kept]


def test_the_warm_up_scores_the_sample_into_the_score_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cg_evo.proxy_table import ProxyTable
    from cg_predict.evaluate import live_proxy_cache
    from cg_predict.proxies import agreement

    sampled = _warm_up(tmp_path, monkeypatch, 2)
    assert 0 < len(sampled) < len(KEYS)
    table = ProxyTable("nb201", "synflow")
    assert table.missing(KEYS) == [k for k in KEYS if k not in sampled]
    assert len(live_proxy_cache("nb201")) == len(sampled)
    # a second warm-up finds every sampled score in the table and computes nothing
    monkeypatch.setattr(agreement, "map_cell_proxies", _never)
    _warm_up(tmp_path, monkeypatch, 2)


def test_the_warm_up_without_a_sample_scores_the_whole_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cg_evo.proxy_table import ProxyTable

    _warm_up(tmp_path, monkeypatch, None)
    assert ProxyTable("nb201", "synflow").missing(KEYS) == []


def _never(*_: object, **__: object) -> None:
    raise AssertionError("computed a score the table holds")


@pytest.mark.parametrize("quick", [True, False])
def test_without_a_data_folder_the_plan_keeps_the_data_free_runs(
    monkeypatch: pytest.MonkeyPatch, quick: bool
) -> None:
    from cg_evo.experiments import (
        DATA_FREE_SPACES,
        RUNS,
        STRATEGIES,
        _search_data,
        search_plan,
    )

    monkeypatch.delenv("CGNAS_DATA_DIR", raising=False)
    spaces, runs = search_plan(quick, None)
    assert set(spaces) == set(DATA_FREE_SPACES) and set(runs) == set(DATA_FREE_RUNS)
    assert not {"predictor-ea", "predictor-topk", "predictor-ls", "best-proxy-order"} & set(runs)
    assert _search_data(None) == {}  # the experiment runs instead of being skipped
    with_data = search_plan(quick, Path("data"))
    assert with_data[1] == (STRATEGIES if quick else tuple(RUNS))


@pytest.mark.slow
def test_the_quick_search_runs_without_a_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cg_ir.experiments import ReproduceConfig, run_experiment

    monkeypatch.delenv("CGNAS_DATA_DIR", raising=False)
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    record = run_experiment("search", ReproduceConfig(out=tmp_path, progress=False))
    assert record.status == "ran", record.message
    printed = capsys.readouterr().out
    assert "no benchmark data folder" in printed and "CGNAS_DATA_DIR" in printed
    with (tmp_path / "search" / "search.csv").open(newline="") as handle:
        runs = {row["run"] for row in csv.DictReader(handle)}
    assert runs == set(DATA_FREE_RUNS)
