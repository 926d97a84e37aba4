from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import cg_contrast.ablation as ablation
import cg_predict.evaluate._protocol as protocol
from cg_contrast.ablation import (
    AblationConfig,
    SourceChoice,
    ablation_rows,
    cl_choice,
    encoder_path,
    predictor_choice,
    run_ablation,
    select_on_sources,
    supervised_control,
)
from cg_contrast.errors import InvalidArgumentError, PretrainCheckpointError
from cg_contrast.pools import unlabeled_pool
from cg_contrast.pretrain import pretrain
from cg_ir.executor import LocalExecutor
from cg_predict.checkpoint import load_encoder
from cg_predict.evaluate import (
    EvaluationResult,
    ProtocolConfig,
    SourceTraining,
    families_loaded,
    inner_folds,
)

TINY = AblationConfig(
    targets=("nb201",),
    families=("nb201", "nb301"),
    sources=("nb101", "nb201", "nb301"),
    pool_size=40,
    epochs=1,
    seeds=2,
    shots=(0, 5),
    source_cells=40,
    source_epochs=1,
    quick=True,
    pretrain={"batch_size": 16},
    unfreeze_encoder=False,
)


def test_unknown_method_or_target_is_rejected() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown methods"):
        AblationConfig(methods=("retrieval", "bogus"))
    with pytest.raises(InvalidArgumentError, match="unknown targets"):
        AblationConfig(targets=("resnet",))  # no labels: never a target
    with pytest.raises(InvalidArgumentError, match="paired seeds"):
        AblationConfig(pretrain={"seed": 3})


def test_cl_encoders_must_be_the_supervised_network() -> None:
    # the supervised rows train SourceTraining().encoder: the rows differ in pretraining only
    with pytest.raises(InvalidArgumentError, match="encoder"):
        AblationConfig(pretrain={"encoder": {"dim": 64, "op_dim": 16}})
    with pytest.raises(InvalidArgumentError, match="encoder"):
        AblationConfig(pretrain={"encoder": {**SourceTraining().encoder.to_dict(), "gnn": "gin"}})
    same = AblationConfig(pretrain={"encoder": SourceTraining().encoder.to_dict()})
    assert same.pretrain_config("retrieval").encoder == SourceTraining().model()["encoder"]


def test_pretrain_overrides_reach_the_pretrain_config() -> None:
    config = TINY.pretrain_config("augment", seed=1)
    assert (config.method, config.epochs, config.batch_size, config.seed) == ("augment", 1, 16, 1)


def test_the_evaluation_of_a_paired_seed_is_a_protocol_config(tmp_path) -> None:
    encoder = tmp_path / "retrieval-seed1.pt"
    config = TINY.protocol("nb201", [encoder], seed=1)
    # paired seed 1: the protocol's run 1 alone, whose source model is trained with seed 1
    assert list(config.runs) == [1]
    assert config.source_for(1).seed == 1
    assert config == ProtocolConfig.quick(
        "nb201",
        dataset="cifar10",
        sources=("nb101", "nb301"),  # the ablation's sources but the target
        shots=(0, 5),
        seeds=2,
        first_seed=1,
        settings="a",
        encoders=(str(encoder),),
        source=SourceTraining.quick(cells=40, epochs=1),
    )
    full = AblationConfig().protocol("nb101", [])
    assert (full.seeds, full.source.seed, full.source.cells, full.source.epochs) == (1, 0, 2000, 25)
    assert full.mode == "full" and full.unfreeze_encoder and full.settings == ("a",)
    assert full.sources == ProtocolConfig.full("nb101").sources  # no sources given: the default
    # no cap given: the mode's default cap
    capless = dataclasses.replace(TINY, source_cells=None).protocol("nb201", [])
    assert capless.source.cells == SourceTraining.quick().cells


def test_every_labelled_family_is_a_target_on_its_first_dataset_and_setting() -> None:
    from cg_contrast.ablation import ABLATION_TARGETS, target_setting
    from cg_predict.evaluate import DATASETS, FAMILIES

    assert ABLATION_TARGETS == tuple(FAMILIES) == AblationConfig().targets
    # the paper's three (its Table 1) on the NAS-Bench-Suite-Zero test cells, the others on b
    assert [target_setting(t) for t in ("nb101", "nb201", "nb301")] == ["a", "a", "a"]
    ofa = AblationConfig().protocol("ofa-mbv3", [])
    assert (ofa.dataset, ofa.settings) == (DATASETS["ofa-mbv3"][0], ("b",))
    # the CL choice's folds evaluate a held-out source the same way
    fold = ofa.for_fold(("cbm-resnet", ("nb101",)))
    assert fold.settings == (target_setting("cbm-resnet"),)


@pytest.mark.slow  # a minute: a whole tiny ablation, live proxies of a Channel-Bench-Macro sample
@pytest.mark.needs_data
def test_a_target_without_suite_zero_cells_runs_on_setting_b(tmp_path) -> None:
    from cg_contrast.ablation import result_setting

    config = dataclasses.replace(
        TINY, targets=("cbm-resnet",), sources=("nb201", "nb301"), seeds=1, shots=(0, 5)
    )
    result = run_ablation(config, tmp_path / "work", progress=False)["cbm-resnet"]
    assert result_setting(result) == "b" and result.config["dataset"] == "cifar10"
    header, rows = ablation_rows(result, config.methods)
    assert [row[0] for row in rows] == ["0", "5"] and len(rows[0]) == len(header)
    # its CL choice held out each source on that source's own first setting
    assert [v for v, _ in cl_choice(result).folds] == ["nb201", "nb301"]


def test_force_pretrains_over_a_state_of_another_configuration(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    small = dataclasses.replace(TINY, methods=("dropout",), families=("nb201",), pool_size=24)
    config = small.pretrain_config("dropout")
    work = tmp_path / "work"
    state = Path(f"{encoder_path(work, 'dropout', 0)}.state")
    # an interrupted run of another configuration left its training state
    pool = unlabeled_pool(
        small.families, small.pool_size, small.pool_seed, workers=1, progress=False
    )
    other = dataclasses.replace(config, tau=0.5)
    pretrain(pool, other, state_path=state, progress=False)
    with pytest.raises(PretrainCheckpointError, match="another configuration"):
        ablation._encoders(small, work, 0, False, "cpu", False)
    # force: that encoder is pretrained over, with this configuration
    [path] = ablation._encoders(small, work, 0, True, "cpu", False)
    assert ablation._encoder_is_done(path, config, small, force=False)
    assert not state.exists()


def test_nothing_is_chosen_without_fine_tuning_or_a_second_source(tmp_path) -> None:
    from cg_contrast._ablation_selection import choose_on_sources

    zero_shot = dataclasses.replace(TINY, shots=(0,)).protocol("nb201", [])
    one_source = dataclasses.replace(TINY, sources=("nb101", "nb201")).protocol("nb201", [])
    for config in (zero_shot, one_source):
        with pytest.raises(InvalidArgumentError, match="choosing on the sources needs"):
            choose_on_sources(config, TINY.methods, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any fold ran


def test_the_quick_run_trains_on_two_source_families() -> None:
    # source training dominates the quick run's cost (every encoder, seed and CL fold): two
    # source families, so the CL choice of NB-201 has two folds, each trained on the other
    quick = AblationConfig.for_mode("quick")
    config = quick.protocol("nb201", [])
    assert config.sources == ("nb101", "nb301") and config.source.cells == 600
    assert (quick.targets, quick.seeds, quick.shots) == (("nb201",), 3, (0, 50))
    assert inner_folds("nb201", config.sources) == (("nb101", ("nb301",)), ("nb301", ("nb101",)))
    assert AblationConfig.for_mode("full").sources == ()  # every other labelled family


def test_a_cl_choice_is_the_best_mean_over_folds() -> None:
    folds = inner_folds("nb201", ("nb101", "nb301"))
    # augment wins one fold, retrieval has the better mean
    choice = SourceChoice("nb201", 5, folds, {"augment": (0.9, 0.1), "retrieval": (0.6, 0.5)})
    assert choice.method == "retrieval"
    assert choice.ranking == (("retrieval", 0.55), ("augment", 0.5))
    assert choice.describe().startswith("retrieval (nb101 0.600, nb301 0.500: mean 0.550")


@pytest.fixture(scope="module")
def paired(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EvaluationResult]]:
    """``TINY`` run once (two paired seeds) in a work directory: it and the nb201 result."""
    root = tmp_path_factory.mktemp("ablation")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CGNAS_CACHE_DIR", str(root / "cache"))  # kept for the rerun's cached models
        yield root / "work", run_ablation(TINY, root / "work", progress=False)["nb201"]


@pytest.mark.needs_data
def test_every_method_is_compared_over_paired_seeds(paired) -> None:  # type: ignore[no-untyped-def]
    work, result = paired
    header, rows = ablation_rows(result, TINY.methods)
    assert header == [
        "shots",
        "supervised GNN",
        "CL retrieval",
        "CL augment",
        "CL dropout",
        f"chosen on the sources: {predictor_choice(result).method}",
        "best proxy (oracle: best on the test cells)",
    ]
    assert [r[0] for r in rows] == ["0", "5"]
    assert all("±" in cell for row in rows for cell in row[1:5])  # two seeds: a spread
    chosen = result.row("a", predictor_choice(result).method, 5)
    assert rows[1][5].startswith(f"{chosen.srcc_mean:.3f} ± ")
    assert sorted(p.name for p in work.iterdir()) == [
        *(f"{m}-seed{j}.pt" for m in ("augment", "dropout") for j in (0, 1)),
        "nb201-frozen-seed0.json",
        "nb201-frozen-seed1.json",
        "nb201-frozen.json",
        *(f"retrieval-seed{j}.pt" for j in (0, 1)),
        "select-nb201-nb101-frozen.json",
        "select-nb201-nb301-frozen.json",
    ]
    assert EvaluationResult.read(work / "nb201-frozen.json").runs == result.runs


@pytest.mark.needs_data
def test_encoders_of_two_seeds_differ_and_share_the_pool(paired) -> None:  # type: ignore[no-untyped-def]
    work, _ = paired
    for method in TINY.methods:
        first, second = (load_encoder(encoder_path(work, method, j)) for j in (0, 1))
        assert (first.metadata["config"]["seed"], second.metadata["config"]["seed"]) == (0, 1)
        for key in ("families", "pool_size", "pool_seed"):
            assert first.metadata[key] == second.metadata[key]
        assert first.metadata["pool_seed"] == TINY.pool_seed
        weights = zip(
            first.encoder.state_dict().values(), second.encoder.state_dict().values(), strict=True
        )
        assert not all(torch.equal(a, b) for a, b in weights)


@pytest.mark.needs_data
def test_paired_seed_j_trains_the_sources_with_seed_j(paired) -> None:  # type: ignore[no-untyped-def]
    work, result = paired
    for seed in (0, 1):
        evaluated = EvaluationResult.read(work / f"nb201-frozen-seed{seed}.json")
        # the protocol's run j trains its source models with seed train.seed + j = j
        assert evaluated.config["train"]["seed"] == 0
        assert set(evaluated.metadata["source_training"]) == {str(seed)}
        assert [e[0] for e in evaluated.config["encoder"]] == [
            str(encoder_path(work, m, seed)) for m in TINY.methods
        ]


@pytest.mark.needs_data
def test_the_spread_is_the_sample_std_over_paired_seeds(paired) -> None:  # type: ignore[no-untyped-def]
    work, result = paired
    # run j is run j of paired seed j's evaluation; before pairing, runs 0 and 1 were
    # fine-tuned from one source model and one encoder per method, of seed 0
    for seed in (0, 1):
        evaluated = EvaluationResult.read(work / f"nb201-frozen-seed{seed}.json")
        assert {r["seed"] for r in evaluated.runs} == {seed}  # no run dropped
        assert [r for r in result.runs if r["seed"] == seed] == list(evaluated.runs)
    assert [p["seed"] for p in result.metadata["paired_seeds"]] == [0, 1]
    scored = [row for row in result.results if row.srcc_mean is not None]
    assert scored and all(row.seeds == (0, 1) for row in result.results)
    for row in scored:
        srcc = [float(v) for v in row.per_seed["srcc"] if v is not None]
        assert row.srcc_std == pytest.approx(statistics.stdev(srcc))  # ddof=1


@pytest.mark.needs_data
def test_a_rerun_resumes_every_file(paired, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    work, first = paired

    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("computed again")

    monkeypatch.setattr(ablation, "pretrain_encoder", fail)
    monkeypatch.setattr(protocol, "fit", fail)  # no source model trained again
    monkeypatch.setattr(protocol, "seed_rows", fail)  # no run evaluated again
    again = run_ablation(TINY, work, progress=False)["nb201"]
    assert again.runs == first.runs and cl_choice(again) == cl_choice(first)
    assert predictor_choice(again) == predictor_choice(first)
    # an encoder of another pool is not reused
    with pytest.raises(AssertionError, match="computed again"):
        run_ablation(dataclasses.replace(TINY, pool_seed=1), work, progress=False)


@pytest.mark.needs_data
def test_worker_processes_give_the_same_result(paired, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _, first = paired
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))  # the workers see it too
    with LocalExecutor(2) as executor:
        again = run_ablation(TINY, tmp_path / "work", progress=False, executor=executor)["nb201"]
    assert again.runs == first.runs and cl_choice(again) == cl_choice(first)


@pytest.mark.needs_data
def test_the_choices_are_made_without_loading_the_target(paired) -> None:  # type: ignore[no-untyped-def]
    work, result = paired
    with families_loaded() as loaded:
        choice, predictor = select_on_sources(TINY, "nb201", work / "fresh", progress=False)
    assert loaded and set(loaded) == {"nb101", "nb301"}  # nb201's cells were never read
    for made in (choice, predictor):
        assert made.folds == inner_folds("nb201", ("nb101", "nb301"))
        assert made.shots == max(TINY.shots)
    # the predictor's candidates: every learned row, supervised and CL, no proxy
    assert {"gnn-fine-tune", "gnn-head", "cl-retrieval-fine-tune"} <= set(predictor.scores)
    assert not any(m.startswith("proxy:") for m in predictor.scores)
    for fold, (validation, _) in enumerate(choice.folds):
        evaluated = EvaluationResult.read(work / "fresh" / f"select-nb201-{validation}-frozen.json")
        assert evaluated.config["target"] == validation and evaluated.config["shots"] == [5]
        for method, scores in choice.scores.items():
            row = evaluated.row("a", f"cl-{method}-fine-tune", 5)
            assert scores[fold] == predictor.scores[row.method][fold] == (row.srcc_mean or 0.0)
        for method, scores in predictor.scores.items():
            assert scores[fold] == (evaluated.row("a", method, 5).srcc_mean or 0.0)
    for made in (choice, predictor):
        means = {m: statistics.fmean(s) for m, s in made.scores.items()}
        assert made.method == max(means, key=means.__getitem__)
    # what run_ablation stored: the same computation
    assert cl_choice(result) == choice and predictor_choice(result) == predictor


def _result(rows: list[tuple[str, int, float | None, str, float | None]]) -> EvaluationResult:
    """An evaluate result of setting a whose summary rows have these SRCC means and stds.

    Each row is two seeds, ``mean - std / sqrt 2`` and ``mean + std / sqrt 2`` (so the sample
    std is ``std``), or one seed where ``std`` is None.
    """
    runs = []
    for method, shots, mean, unit, std in rows:
        offsets = [0.0] if std is None or mean is None else [-std / 2**0.5, std / 2**0.5]
        for seed, offset in enumerate(offsets):
            srcc = None if mean is None else mean + offset
            runs.append(
                {
                    "setting": "a",
                    "method": method,
                    "shots": shots,
                    "unit": unit,
                    "seed": seed,
                    "test_size": 10,
                    "srcc": srcc,
                    "kendall": srcc,
                }
            )
    shots = sorted({r[1] for r in rows})
    return EvaluationResult.from_runs({"shots": shots, "settings": ["a"]}, "h", None, {}, runs)


def _row(
    method: str, shots: int, srcc: float | None, unit: str = "class", std: float | None = 0.01
) -> tuple[str, int, float | None, str, float | None]:
    return (method, shots, srcc, unit, std)


def test_the_proxy_column_is_the_oracle_best_proxy_per_class() -> None:
    result = _result(
        [
            _row("proxy:nwot", 0, 0.7),
            _row("proxy:flops", 0, 0.8),
            _row("proxy:flops", 0, 0.95, unit="row"),  # twins counted again: not the headline
            _row("proxy:snip", 0, None),
            _row("gnn-fine-tune", 0, 0.5),
        ]
    )
    assert supervised_control(result) == "gnn-fine-tune"
    header, rows = ablation_rows(result, [])
    assert header[-1] == "best proxy (oracle: best on the test cells)"
    assert rows == [["0", "0.500 ± 0.010", "0.800 (flops)"]]


def test_unfrozen_runs_compare_cl_with_the_two_stage_control() -> None:
    result = _result(
        [
            _row("gnn-fine-tune", 0, 0.5),
            _row("supervised-2stage-fine-tune", 0, 0.6, std=None),
            _row("supervised-2stage-fine-tune", 0, 0.4, unit="row", std=None),
            _row("cl-retrieval-fine-tune", 0, 0.7),
            _row("proxy:flops", 0, 0.3),
        ]
    )
    assert supervised_control(result) == "supervised-2stage-fine-tune"
    header, rows = ablation_rows(result, ["retrieval"])
    assert header == [
        "shots",
        "supervised GNN",
        "supervised GNN, 2 stages",
        "CL retrieval",
        "best proxy (oracle: best on the test cells)",
    ]
    # per class, sample std (none for one seed), and the per-row mean where it differs
    assert rows == [["0", "0.500 ± 0.010", "0.600 [rows 0.400]", "0.700 ± 0.010", "0.300 (flops)"]]


def test_the_predictor_chosen_on_the_sources_has_its_column() -> None:
    result = _result(
        [
            _row("gnn-fine-tune", 0, 0.5),
            _row("gnn-fine-tune", 5, 0.6),
            _row("cl-retrieval-fine-tune", 0, 0.4),
            _row("cl-retrieval-fine-tune", 5, 0.9),
            _row("gbm-flops-params-proxies", 5, 0.7),
            _row("proxy:flops", 0, 0.3),
            _row("proxy:flops", 5, 0.3),
        ]
    )
    assert predictor_choice(result) is None  # made before the choice was recorded: no column
    assert len(ablation_rows(result, ["retrieval"])[0]) == 4
    folds = inner_folds("nb201", ("nb101", "nb301"))
    # chosen on the sources although retrieval is the best on these test cells
    scores = {"gnn-fine-tune": (0.8, 0.8), "gbm-flops-params-proxies": (0.9, 0.9)}
    chosen = SourceChoice("nb201", 5, folds, scores)
    result = dataclasses.replace(result, metadata={"predictor_choice": chosen.to_dict()})
    assert predictor_choice(result) == chosen
    header, rows = ablation_rows(result, ["retrieval"])
    assert header[3] == "chosen on the sources: gbm-flops-params-proxies"
    assert [row[3] for row in rows] == ["–", "0.700 ± 0.010"]  # no GBM without labels


def test_the_csv_puts_every_cell_under_its_own_column() -> None:
    # the frozen run has no two-stage control and each target names its chosen method: rows of
    # other columns must not shift under the first run's header (they did in full mode)
    from cg_contrast.experiments.ablation import _csv_record, _csv_table

    unfrozen = ["shots", "supervised GNN", "supervised GNN, 2 stages", "CL retrieval"]
    frozen = ["shots", "supervised GNN", "CL retrieval", "chosen on the sources: gnn-head"]
    columns, rows = _csv_table(
        [
            _csv_record("nb101", "unfrozen", unfrozen, ["50", "0.1", "0.2", "0.3"]),
            _csv_record("nb201", "frozen", frozen, ["50", "0.4", "0.5", "0.6"]),
        ]
    )
    table = [dict(zip(columns, row, strict=True)) for row in rows]
    assert [r["CL retrieval"] for r in table] == ["0.3", "0.5"]
    assert [r["supervised GNN, 2 stages"] for r in table] == ["0.2", "–"]
    assert [r["chosen on the sources"] for r in table] == ["–", "0.6"]
    assert [r["chosen method"] for r in table] == ["–", "gnn-head"]
