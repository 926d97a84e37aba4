"""``run_search``: the results file, its summary and provenance, resuming, each seed's source
model, and the Ray backend."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import cg_evo.search as search
import cg_evo.surrogate as surrogate
from cg_evo.budget import Budget
from cg_evo.errors import InvalidSearchError, SearchStateError
from cg_evo.oracle import Oracle
from cg_evo.search import FORMAT, SearchConfig, run_search, summarize
from cg_evo.space import SearchSpace
from cg_evo.strategies import StrategySettings
from cg_evo.surrogate import SOURCE_MODELS, FineTuneConfig
from cg_predict.checkpoint import save_checkpoint
from cg_predict.encoder import EncoderConfig
from cg_predict.evaluate import ProtocolConfig, SourceTraining
from cg_predict.model import PredictorNet

NB201_TABLE = "nb201_200ep_test_acc.csv"
REA = StrategySettings(population=5, tournament=3)
# a predictor search that refits cheaply, on NB-301's 725 cells
PREDICTOR = StrategySettings(warm_start=4, per_generation=2, mutants=10)
CHEAP_FINE_TUNE = FineTuneConfig(steps=2)
TINY_ENCODER = EncoderConfig(num_layers=1, dim=8, op_dim=4)
SOURCE_GROUPS = ["nb101/cifar10", "nb201/cifar10"]


def _without_seconds(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in runs]


# -- summary (no data) -----------------------------------------------------------------------
def test_summarize_medians_and_padding() -> None:
    runs = [
        {
            "best_so_far": [1.0, 2.0, 3.0, 3.0],
            "rank_so_far": [5, 3, 1, 1],
            "queries_to_best": 3,
            "queries_to_near_best": 2,
            "queries_to_top01": 3,
            "seconds": 1.0,
        },
        {  # the space ran out after 2 classes: the curve stays at its end
            "best_so_far": [2.0, 2.0],
            "rank_so_far": [4, 4],
            "queries_to_best": 5,
            "queries_to_near_best": 5,
            "queries_to_top01": 5,
            "seconds": 3.0,
        },
    ]
    summary = summarize(runs, queries=4)
    assert summary["seeds"] == 2
    assert summary["best_so_far_median"] == [1.5, 2.0, 2.5, 2.5]
    assert summary["best_so_far_q25"] == [1.25, 2.0, 2.25, 2.25]
    assert summary["best_so_far_q75"] == [1.75, 2.0, 2.75, 2.75]
    assert summary["rank_so_far_median"] == [4.5, 3.5, 2.5, 2.5]
    assert summary["final_best_median"] == 2.5 and summary["final_rank_median"] == 2.5
    assert summary["queries_to_best_median"] == 4.0
    assert summary["queries_to_top01_median"] == 4.0
    assert summary["queries_to_near_best_median"] == 3.5
    assert summary["found_best"] == 1  # 5 = budget + 1: not reached
    assert summary["seconds_per_seed_median"] == 2.0


# -- resuming (no data: a pool of NB-201 cells with made-up labels) ---------------------------
def _pool_oracle(labels: Any) -> Oracle:
    """An oracle of NB-201's first ``len(labels)`` cells (table order) with ``labels``."""
    cells = itertools.islice(itertools.product(range(5), repeat=6), len(labels))
    keys = tuple(str(cell) for cell in cells)
    return Oracle("nb201", "cifar10", "made-up", "acc", keys, np.asarray(labels, dtype=float))


@pytest.fixture
def pool_oracle(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Oracle]:
    """``{"oracle": ...}``: what ``run_search`` loads (set it to change the label table)."""
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    pool = {"oracle": _pool_oracle(np.arange(40.0))}
    monkeypatch.setattr(search, "load_oracle", lambda *_, **__: pool["oracle"])
    return pool


def test_runs_of_another_label_table_are_not_resumed(tmp_path, pool_oracle, seeds_run) -> None:
    out = tmp_path / "s.json"
    config = _config(strategy="random", queries=5, seeds=2)
    first = run_search(config, out=out, progress=False)
    assert run_search(config, out=out, progress=False)["runs"] == first["runs"]  # resumed
    assert seeds_run == [0, 1]
    pool_oracle["oracle"] = _pool_oracle(np.arange(40.0)[::-1])  # same pool, other labels
    other = run_search(config, out=out, progress=False)
    assert seeds_run == [0, 1, 0, 1]  # every seed labelled again, by the new table
    assert other["table_digest"] != first["table_digest"]
    assert other["config_hash"] != first["config_hash"]  # the table is part of the key
    fresh = run_search(config, out=tmp_path / "f.json", progress=False)
    assert _without_seconds(other["runs"]) == _without_seconds(fresh["runs"])
    assert json.loads(out.read_text())["table_digest"] == other["table_digest"]  # overwritten


def test_fewer_seeds_report_those_seeds_alone(tmp_path, pool_oracle, seeds_run) -> None:
    out = tmp_path / "s.json"
    three = run_search(_config(strategy="random", queries=5, seeds=3), out=out, progress=False)
    two = run_search(_config(strategy="random", queries=5, seeds=2), out=out, progress=False)
    assert seeds_run == [0, 1, 2]  # seeds 0 and 1 read back
    assert two["runs"] == three["runs"][:2]
    assert two["summary"] == summarize(three["runs"][:2], 5) and two["summary"]["seeds"] == 2
    assert two["provenance"]["seeds"] == [0, 1]
    assert json.loads(out.read_text())["runs"] == two["runs"]


@pytest.mark.parametrize("strategy", ["rea", "random"])
def test_a_budget_of_every_network_finds_the_best(tmp_path, pool_oracle, strategy) -> None:
    networks = SearchSpace.from_oracle(pool_oracle["oracle"]).num_classes
    result = run_search(_config(strategy=strategy, queries=networks, seeds=1), progress=False)
    [run] = result["runs"]
    assert len(run["labels"]) == networks  # it ends (evolution asked for known twins forever)
    assert run["rank_so_far"][-1] == 1


# -- the results file (benchmark data) -------------------------------------------------------
_ORACLES: dict[tuple[str, str | None], Any] = {}
_SPACES: dict[tuple[Any, ...], SearchSpace] = {}


@pytest.fixture
def shared_spaces(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    """Let in-process ``run_search`` calls reuse oracles and spaces (each costs seconds to
    load); workers of other backends load their own."""
    real_load, real_space = search.load_oracle, SearchSpace.from_oracle

    def load(family: str, dataset: str | None = None, data_dir: Any = None) -> Any:
        key = (family, dataset)
        if key not in _ORACLES:
            _ORACLES[key] = real_load(family, dataset, data_dir)
        return _ORACLES[key]

    def space(oracle: Any, budget: Budget | None = None, *, progress: bool = False) -> Any:
        key = (oracle.benchmark, oracle.dataset, *sorted((budget or Budget()).limits.items()))
        if key not in _SPACES:
            _SPACES[key] = real_space(oracle, budget, progress=progress)
        return _SPACES[key]

    monkeypatch.setattr(search, "load_oracle", load)
    monkeypatch.setattr(SearchSpace, "from_oracle", space)


@pytest.fixture
def seeds_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seeds ``run_search`` computes (rather than reads back from the results file)."""
    seen: list[int] = []
    real = search.run_seed

    def spy(config, seed, *args, **kwargs):
        seen.append(seed)
        return real(config, seed, *args, **kwargs)

    monkeypatch.setattr(search, "run_seed", spy)
    return seen


def _config(**kw: Any) -> SearchConfig:
    defaults: dict[str, Any] = dict(family="nb201", strategy="rea", queries=8, seeds=3)
    defaults["settings"] = REA
    return SearchConfig(**{**defaults, **kw})


@pytest.mark.needs_data
def test_results_file(tmp_path, data_dir, shared_spaces, nb201_space) -> None:
    out = tmp_path / "s.json"
    queries = 8
    result = run_search(
        _config(strategy="random", queries=queries), data_dir=data_dir, out=out, progress=False
    )
    saved = json.loads(out.read_text())
    assert saved["runs"] == result["runs"] and saved["summary"] == result["summary"]
    assert saved["format"] == FORMAT and saved["config"]["strategy"] == "random"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temp file left
    keys = set(nb201_space.keys)
    best_label = float(nb201_space.labels.max())
    top = nb201_space.top_threshold(0.001)
    runs = saved["runs"]
    assert [r["seed"] for r in runs] == [0, 1, 2]
    for run in runs:
        best, rank = run["best_so_far"], run["rank_so_far"]
        assert len(best) == len(rank) == len(run["queried"]) == queries
        assert set(run["queried"]) <= keys
        assert all(a <= b for a, b in zip(best, best[1:], strict=False))  # non-decreasing
        assert all(a >= b for a, b in zip(rank, rank[1:], strict=False))  # non-increasing
        assert best == list(np.maximum.accumulate(run["labels"]))
        assert rank == nb201_space.ranks(np.asarray(best)).tolist()
        reached = [i + 1 for i, b in enumerate(best) if b >= best_label]
        assert run["queries_to_best"] == (reached[0] if reached else queries + 1)
        reached = [i + 1 for i, b in enumerate(best) if b >= top]
        assert run["queries_to_top01"] == (reached[0] if reached else queries + 1)
        reached = [i + 1 for i, b in enumerate(best) if b >= best_label - 0.1]
        assert run["queries_to_near_best"] == (reached[0] if reached else queries + 1)
    # 8 random queries of 15,625 cells do not find the best: budget + 1
    assert all(r["queries_to_best"] == queries + 1 for r in runs)
    summary = saved["summary"]
    curves = np.array([r["best_so_far"] for r in runs])
    assert summary["best_so_far_median"] == np.median(curves, axis=0).tolist()
    assert summary["best_so_far_q25"] == np.percentile(curves, 25, axis=0).tolist()
    assert summary["best_so_far_q75"] == np.percentile(curves, 75, axis=0).tolist()
    assert summary["queries_to_best_median"] == queries + 1
    assert summary["queries_to_top01_median"] == np.median([r["queries_to_top01"] for r in runs])
    space = saved["space"]
    assert space["candidates"] == space["pool_size"] == 15_625
    assert space["best_label"] == best_label and space["benchmark"] == "nb201-200ep"
    provenance = saved["provenance"]
    assert set(provenance["versions"]) >= {"cg_evo", "cg_predict", "cg_ir", "torch", "numpy"}
    assert len(provenance["code_digest"]) == 64
    table = data_dir / "nb201" / NB201_TABLE
    assert provenance["data_files"] == {NB201_TABLE: hashlib.sha256(table.read_bytes()).hexdigest()}
    assert provenance["wall_seconds"] > 0 and provenance["backend"] == "local"
    assert provenance["source_model"] is None  # random search starts from no model
    assert all(r["source_seed"] is None for r in runs)


@pytest.mark.needs_data
def test_queries_to_best_when_reached(data_dir, shared_spaces, nb201_space) -> None:
    # cost-order reaches the NB-201 CIFAR-10 best after 108 (seed 0) and 57 (seed 1) queries
    result = run_search(
        _config(strategy="cost-order", queries=80, seeds=2), data_dir=data_dir, progress=False
    )
    best_label = float(nb201_space.labels.max())
    reached, missed = result["runs"][1], result["runs"][0]
    first = reached["best_so_far"].index(best_label) + 1
    assert reached["queries_to_best"] == first <= 80
    assert reached["rank_so_far"][first - 1 :] == [1] * (80 - first + 1)
    assert missed["queries_to_best"] == 81 and best_label not in missed["best_so_far"]
    assert missed["rank_so_far"][-1] > 1
    assert result["summary"]["found_best"] == 1
    assert result["summary"]["queries_to_best_median"] == (first + 81) / 2


@pytest.mark.needs_data
def test_more_seeds_resume_from_the_results_file(
    tmp_path, data_dir, shared_spaces, seeds_run
) -> None:
    out = tmp_path / "s.json"
    two = run_search(_config(seeds=2), data_dir=data_dir, out=out, progress=False)
    assert seeds_run == [0, 1]
    three = run_search(_config(seeds=3), data_dir=data_dir, out=out, progress=False)
    assert seeds_run == [0, 1, 2], "the finished seeds were recomputed instead of read back"
    assert three["runs"][:2] == two["runs"]  # unchanged, "seconds" included
    fresh = run_search(_config(seeds=3), data_dir=data_dir, out=tmp_path / "f.json", progress=False)
    assert _without_seconds(fresh["runs"]) == _without_seconds(three["runs"])
    assert json.loads(out.read_text())["runs"] == three["runs"]


@pytest.mark.needs_data
def test_a_killed_run_resumes_to_the_same_result(
    tmp_path, data_dir, shared_spaces, monkeypatch
) -> None:
    out = tmp_path / "s.json"
    real = search.run_seed

    def killed_at_seed_2(config, seed, *args, **kwargs):
        if seed == 2:
            raise KeyboardInterrupt
        return real(config, seed, *args, **kwargs)

    monkeypatch.setattr(search, "run_seed", killed_at_seed_2)
    with pytest.raises(KeyboardInterrupt):
        run_search(_config(), data_dir=data_dir, out=out, progress=False)
    partial = json.loads(out.read_text())["runs"]
    assert [r["seed"] for r in partial] == [0, 1]
    seen: list[int] = []

    def spy(config, seed, *args, **kwargs):
        seen.append(seed)
        return real(config, seed, *args, **kwargs)

    monkeypatch.setattr(search, "run_seed", spy)
    resumed = run_search(_config(), data_dir=data_dir, out=out, progress=False)
    assert seen == [2]
    assert resumed["runs"][:2] == partial
    fresh = run_search(_config(), data_dir=data_dir, out=tmp_path / "f.json", progress=False)
    assert _without_seconds(resumed["runs"]) == _without_seconds(fresh["runs"])
    assert resumed["summary"]["best_so_far_median"] == fresh["summary"]["best_so_far_median"]


@pytest.mark.needs_data
@pytest.mark.parametrize(
    "changed",
    [
        {"queries": 6},
        {"budget": Budget.parse(max_params="median")},
        {"settings": StrategySettings()},
    ],
    ids=["queries", "cost-budget", "settings"],
)
def test_other_settings_do_not_reuse_runs(
    tmp_path, data_dir, shared_spaces, seeds_run, changed
) -> None:
    out = tmp_path / "s.json"
    first = run_search(_config(seeds=2), data_dir=data_dir, out=out, progress=False)
    other = run_search(_config(seeds=2, **changed), data_dir=data_dir, out=out, progress=False)
    assert seeds_run == [0, 1, 0, 1]  # every seed computed again
    assert other["config_hash"] != first["config_hash"]
    assert json.loads(out.read_text())["config_hash"] == other["config_hash"]  # overwritten


@pytest.mark.needs_data
def test_results_of_other_code_are_refused_unless_forced(
    tmp_path, data_dir, shared_spaces, seeds_run, monkeypatch
) -> None:
    import cg_ir.provenance

    out = tmp_path / "s.json"
    first = run_search(_config(seeds=1), data_dir=data_dir, out=out, progress=False)
    assert first["code_digest"] == first["provenance"]["code_digest"]
    real = cg_ir.provenance._package_digest  # simulate an edit of the sources
    monkeypatch.setattr(cg_ir.provenance, "_package_digest", lambda name: f"edit:{real(name)}")
    with pytest.raises(SearchStateError, match="--force") as info:
        run_search(_config(seeds=2), data_dir=data_dir, out=out, progress=False)
    assert str(out) in str(info.value) and first["code_digest"] in str(info.value)
    assert json.loads(out.read_text())["runs"] == first["runs"]  # left as it was
    forced = run_search(_config(seeds=2), data_dir=data_dir, out=out, progress=False, force=True)
    assert seeds_run == [0, 0, 1]  # every seed computed again by the new code
    assert forced["code_digest"] != first["code_digest"]


@pytest.mark.needs_data
def test_a_truncated_results_file_is_an_error(tmp_path, data_dir, shared_spaces) -> None:
    out = tmp_path / "s.json"
    run_search(_config(seeds=1), data_dir=data_dir, out=out, progress=False)
    text = out.read_text()
    out.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="cannot resume") as info:
        run_search(_config(seeds=2), data_dir=data_dir, out=out, progress=False)
    assert str(out) in str(info.value)
    assert out.read_text() == text[: len(text) // 2]  # left as it was, for the user to look at
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no partial or temp file


@pytest.mark.needs_data
def test_more_queries_than_networks_is_refused(data_dir, shared_spaces) -> None:
    with pytest.raises(InvalidSearchError, match="exceed the .* distinct networks"):
        run_search(_config(queries=20_000), data_dir=data_dir, progress=False)


# -- each seed's source model (benchmark data, a cheap stand-in for source training) --------
@pytest.fixture
def source_trainings(monkeypatch: pytest.MonkeyPatch) -> list[SourceTraining]:
    """Stand in an untrained tiny network seeded by the training's seed for source training;
    the trainings asked for, in order."""
    trained: list[SourceTraining] = []

    def train(family: str, training: SourceTraining, **kwargs: Any) -> Any:
        trained.append(training)
        torch.manual_seed(training.seed)
        tiny = dataclasses.replace(training, encoder=TINY_ENCODER)
        return PredictorNet.from_config(tiny.model()).eval(), {"trained_on": SOURCE_GROUPS}

    monkeypatch.setattr(surrogate, "train_source_model", train)
    monkeypatch.setattr(surrogate, "_SOURCE_MODELS_BUILT", {})  # this test's stand-ins only
    return trained


@pytest.fixture
def bases_run(monkeypatch: pytest.MonkeyPatch) -> dict[int, Any]:
    """The model each seed ``run_search`` computes starts from, by seed."""
    bases: dict[int, Any] = {}
    real = search.run_seed

    def spy(config, seed, space, base, *args, **kwargs):
        bases[seed] = base
        return real(config, seed, space, base, *args, **kwargs)

    monkeypatch.setattr(search, "run_seed", spy)
    return bases


def _predictor_config(**kw: Any) -> SearchConfig:
    defaults: dict[str, Any] = dict(strategy="predictor-topk", queries=8, seeds=3, quick=True)
    defaults.update(settings=PREDICTOR, fine_tune=CHEAP_FINE_TUNE)
    return SearchConfig("nb301", **{**defaults, **kw})


def _weights(model: PredictorNet) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.mark.needs_data
def test_each_seed_starts_from_its_source_model(
    data_dir, shared_spaces, source_trainings, bases_run
) -> None:
    seeds = SOURCE_MODELS + 1
    result = run_search(_predictor_config(seeds=seeds), data_dir=data_dir, progress=False)
    # each source model trained once, as cgnas evaluate trains its run j's (same cache entry)
    protocol = ProtocolConfig.quick("nb301")
    assert source_trainings == [protocol.source_for(j) for j in range(SOURCE_MODELS)]
    assert [r["source_seed"] for r in result["runs"]] == [s % SOURCE_MODELS for s in range(seeds)]
    assert result["provenance"]["source_model"] == {
        "trained_on": SOURCE_GROUPS,
        "source_seeds": list(range(SOURCE_MODELS)),
    }
    assert not torch.equal(_weights(bases_run[0]), _weights(bases_run[1]))
    assert bases_run[SOURCE_MODELS] is bases_run[0]


@pytest.mark.needs_data
def test_searches_of_one_family_build_its_source_models_once(
    data_dir, shared_spaces, source_trainings
) -> None:
    first = run_search(_predictor_config(seeds=2), data_dir=data_dir, progress=False)
    ea = _predictor_config(seeds=2, strategy="predictor-ea")
    second = run_search(ea, data_dir=data_dir, progress=False)
    assert len(source_trainings) == 2  # source models 0 and 1, for both searches
    for result in (first, second):
        assert result["provenance"]["source_model"]["source_seeds"] == [0, 1]


@pytest.mark.needs_data
def test_a_resumed_predictor_search_keeps_its_source_models(
    tmp_path, data_dir, shared_spaces, source_trainings
) -> None:
    out = tmp_path / "s.json"
    two = run_search(_predictor_config(seeds=2), data_dir=data_dir, out=out, progress=False)
    three = run_search(_predictor_config(seeds=3), data_dir=data_dir, out=out, progress=False)
    assert three["runs"][:2] == two["runs"]
    assert three["provenance"]["source_model"]["source_seeds"] == [0, 1, 2]
    fresh = run_search(_predictor_config(seeds=3), data_dir=data_dir, progress=False)
    assert _without_seconds(fresh["runs"]) == _without_seconds(three["runs"])


@pytest.mark.needs_data
def test_a_checkpoint_is_every_seeds_model(
    tmp_path, data_dir, shared_spaces, source_trainings, bases_run
) -> None:
    path = tmp_path / "model.pt"
    torch.manual_seed(0)
    model = PredictorNet.from_config(SourceTraining(encoder=TINY_ENCODER).model())
    save_checkpoint(path, model, {"method": "gnn", "trained_on": SOURCE_GROUPS})
    result = run_search(
        _predictor_config(seeds=2, checkpoint=str(path)), data_dir=data_dir, progress=False
    )
    assert source_trainings == []  # no source model trained
    assert bases_run[0] is bases_run[1]
    assert torch.equal(_weights(bases_run[0]), _weights(model))
    assert [r["source_seed"] for r in result["runs"]] == [None, None]
    assert result["provenance"]["source_model"] == {
        "trained_on": SOURCE_GROUPS,
        "method": "gnn",
        "source_seeds": None,
    }


# -- the Ray backend -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray of 2 CPUs for the module (RayExecutor joins it and leaves it running)."""
    ray = pytest.importorskip("ray", reason='ray is not installed: pip install "cg-ir[ray]"')
    assert not ray.is_initialized(), "another test left Ray running"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.needs_data
@pytest.mark.parametrize(
    ("family", "strategy"),
    # NB-301: 725 cells, quick for workers to load; the predictor's seeds start from two models
    [("nb301", "cost-order"), ("nb301", "rea"), ("nb301", "predictor-topk")],
)
def test_ray_backend_matches_the_local_one(
    tmp_path, data_dir, shared_spaces, source_trainings, ray_cluster, family, strategy
) -> None:
    config = SearchConfig(
        family, strategy=strategy, queries=10, seeds=2, settings=REA, fine_tune=CHEAP_FINE_TUNE
    )
    local = run_search(config, data_dir=data_dir, progress=False)
    out = tmp_path / "s.json"
    remote = run_search(
        config, data_dir=data_dir, out=out, backend="ray", workers=2, progress=False
    )
    assert ray_cluster.is_initialized()  # joined, not shut down by the executor
    assert _without_seconds(remote["runs"]) == _without_seconds(local["runs"])
    assert [r["seed"] for r in remote["runs"]] == [0, 1]
    assert remote["provenance"]["backend"] == "ray"
    assert remote["config_hash"] == local["config_hash"]
    assert json.loads(out.read_text())["runs"] == remote["runs"]
