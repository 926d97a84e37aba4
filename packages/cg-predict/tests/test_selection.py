"""Nested leave-one-family-out selection: choices are made without loading the target."""

from __future__ import annotations

import pytest

from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.evaluate import (
    Candidate,
    ProtocolConfig,
    SourceTraining,
    inner_folds,
    select_on_sources,
)
from cg_predict.head import HeadConfig

TINY = ProtocolConfig.quick(
    "nb101",
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
    assert inner_folds("nb201") == (("nb101", ("nb301",)), ("nb301", ("nb101",)))
    for target in ("nb101", "nb201", "nb301", "ofa-mbv3"):
        for validation, training in inner_folds(target):
            assert target not in (validation, *training)
            assert validation not in training
    assert inner_folds("nb101", ("nb201",)) == ()  # one source: no inner fold of its own


def test_candidate_and_arguments_are_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="fine-tuning mode"):
        Candidate("mean", 10, "encoder-only")
    with pytest.raises(InvalidArgumentError, match="shots >= 2"):
        select_on_sources(TINY, ["mean"], [2], shots=1)


@pytest.mark.needs_data
def test_selection_never_loads_the_target_and_ranks_every_candidate(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    import cg_predict.evaluate._protocol as protocol

    loaded: list[str] = []
    real_target, real_source = protocol.target_cells, protocol.source_cells

    def spy_target(family, *args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.append(family)
        return real_target(family, *args, **kwargs)

    def spy_source(family, *args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.append(family)
        return real_source(family, *args, **kwargs)

    monkeypatch.setattr(protocol, "target_cells", spy_target)
    monkeypatch.setattr(protocol, "source_cells", spy_source)
    selection = select_on_sources(TINY, ["mean", "mean-sum"], [2], work_dir=tmp_path / "work")
    assert loaded and "nb101" not in loaded  # the target's cells were never read
    assert set(loaded) == {"nb201", "nb301"}
    assert len(selection.ranking) == 4  # 2 readouts x 1 epoch count x 2 modes
    assert [s for _, s, _ in selection.ranking] == sorted(
        (s for _, s, _ in selection.ranking), reverse=True
    )
    assert selection.folds == inner_folds("nb101") and not selection.inherited
    assert selection.to_dict()["ranking"][0]["readout"] == selection.best.readout
    again = select_on_sources(TINY, ["mean", "mean-sum"], [2], work_dir=tmp_path / "work")
    assert again == selection  # resumed from the inner results, same ranking
