"""Nested leave-one-family-out selection: choices are made without loading the target."""

from __future__ import annotations

import dataclasses

import pytest

from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate import (
    FAMILIES,
    Candidate,
    EvaluationResult,
    ProtocolConfig,
    Selection,
    SelectionGrid,
    SourceTraining,
    families_loaded,
    inner_folds,
    select_on_sources,
)
from cg_predict.head import HeadConfig

TINY = ProtocolConfig.quick(
    "nb101",
    sources=("nb201", "nb301"),
    shots=(0, 5),
    seeds=2,
    source=SourceTraining.quick(
        encoder=EncoderConfig(dim=16, op_dim=8, num_layers=2),
        head=HeadConfig(hidden=(16,)),
        epochs=1,
        cells=40,
    ),
    test_cells=60,
)


def test_inner_folds_hold_out_each_source_and_never_the_target() -> None:
    pair = ("nb101", "nb301")
    assert inner_folds("nb201", pair) == (("nb101", ("nb301",)), ("nb301", ("nb101",)))
    for target in FAMILIES:
        for validation, training in inner_folds(target):
            assert target not in (validation, *training)
            assert validation not in training
    assert inner_folds("nb101", ("nb201",)) == ()  # one source: no inner fold of its own


def test_candidate_and_arguments_are_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="fine-tuning mode"):
        Candidate("mean", 10, "encoder-only")
    with pytest.raises(InvalidArgumentError, match="shots >= 2"):
        SelectionGrid(readouts=("mean",), fine_tune_epochs=(2,), shots=1)


GRID = SelectionGrid(
    readouts=("mean", "mean-sum"),
    fine_tune_epochs=(2,),
    graph_features=((), ("log_flops", "depth")),
    shots=5,
)


@pytest.mark.needs_data
def test_selection_never_loads_the_target_and_ranks_every_candidate(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    import cg_predict.evaluate._selection as selection_module

    evaluated: list[ProtocolConfig] = []
    real_evaluate = selection_module.evaluate

    def spy(config, **kwargs):  # type: ignore[no-untyped-def]
        evaluated.append(config)
        return real_evaluate(config, **kwargs)

    monkeypatch.setattr(selection_module, "evaluate", spy)
    with families_loaded() as loaded:
        selection = select_on_sources(TINY, GRID, work_dir=tmp_path / "work")
    assert loaded and "nb101" not in loaded  # the target's cells were never read
    assert set(loaded) == {"nb201", "nb301"}
    # 2 readouts x 2 feature sets x 1 epoch count x 2 modes; one evaluation serves both modes
    assert len(selection.ranking) == 8 and len(evaluated) == 2 * 4
    assert {c.shots for c in evaluated} == {(0, 5)}
    assert {c.source.head.graph_features for c in evaluated} == {(), ("log_flops", "depth")}
    assert [s for _, s, _ in selection.ranking] == sorted(
        (s for _, s, _ in selection.ranking), reverse=True
    )
    assert selection.folds == inner_folds("nb101", TINY.sources) and not selection.inherited
    assert Selection.from_dict(selection.to_dict()) == selection
    again = select_on_sources(TINY, GRID, work_dir=tmp_path / "work")
    assert again == selection  # resumed from the inner results, same ranking


@pytest.mark.needs_data
def test_a_fold_scores_the_mean_of_zero_shot_and_k_labels(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    grid = SelectionGrid(readouts=("mean-sum",), fine_tune_epochs=(2,), shots=5)
    selection = select_on_sources(TINY, grid, work_dir=tmp_path / "work")
    only_k = dataclasses.replace(grid, zero_shot=False)
    without = select_on_sources(TINY, only_k, work_dir=tmp_path / "work-k")
    result = EvaluationResult.read(next((tmp_path / "work").glob("*.json")))
    fold = selection.folds.index((result.config["target"], tuple(result.config["sources"])))
    for candidate, _, per_fold in selection.ranking:
        method = {"full": "gnn-fine-tune", "head": "gnn-head"}[candidate.mode]
        zero = result.row("a", "gnn-fine-tune", 0).srcc_mean
        k = result.row("a", method, 5).srcc_mean
        assert per_fold[fold] == pytest.approx((zero + k) / 2)
        k_only = next(f for c, _, f in without.ranking if c == candidate)
        assert k_only[fold] == pytest.approx(k)
