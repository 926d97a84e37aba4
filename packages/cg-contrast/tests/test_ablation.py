from __future__ import annotations

import dataclasses

import pytest

import cg_contrast.ablation as ablation
from cg_contrast.ablation import (
    AblationConfig,
    ablation_rows,
    run_ablation,
    supervised_control,
)
from cg_contrast.errors import InvalidArgumentError
from cg_predict.evaluate import EvaluationResult, ProtocolConfig, SourceTraining

TINY = AblationConfig(
    targets=("nb201",),
    families=("nb201", "nb301"),
    pool_size=40,
    epochs=1,
    seeds=1,
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
        AblationConfig(targets=("ofa-mbv3",))


def test_pretrain_overrides_reach_the_pretrain_config() -> None:
    config = TINY.pretrain_config("augment")
    assert (config.method, config.epochs, config.batch_size) == ("augment", 1, 16)


def test_the_evaluation_of_a_target_is_a_protocol_config(tmp_path) -> None:
    encoder = tmp_path / "retrieval.pt"
    config = TINY.protocol("nb201", [encoder])
    assert config == ProtocolConfig.quick(
        "nb201",
        dataset="cifar10",
        shots=(0, 5),
        seeds=1,
        settings="a",
        encoders=(str(encoder),),
        source=SourceTraining.quick(cells=40, epochs=1),
    )
    full = AblationConfig().protocol("nb101", [])
    assert (full.seeds, full.source.cells, full.source.epochs) == (5, 2000, 25)
    assert full.mode == "full" and full.unfreeze_encoder and full.settings == ("a",)
    # no cap given: the mode's default cap
    capless = dataclasses.replace(TINY, source_cells=None).protocol("nb201", [])
    assert capless.source.cells == SourceTraining.quick().cells


@pytest.mark.needs_data
def test_ablation_compares_every_method_and_resumes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CGNAS_CACHE_DIR", str(tmp_path / "cache"))
    first = run_ablation(TINY, tmp_path / "work", progress=False)
    header, rows = ablation_rows(first["nb201"])
    assert header == [
        "shots",
        "supervised GNN",
        "CL retrieval",
        "CL augment",
        "CL dropout",
        "best proxy (oracle: best on the test cells)",
    ]
    assert [r[0] for r in rows] == ["0", "5"]
    # one seed: a mean without a spread (the sample std of one value is undefined)
    assert all(cell[0].isdigit() or cell[0] == "-" for row in rows for cell in row[1:5])
    assert not any("±" in cell for row in rows for cell in row[1:5])
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [
        "augment.pt",
        "dropout.pt",
        "nb201-frozen.json",
        "retrieval.pt",
    ]

    # finished encoders and seeds are reused, not recomputed
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("pretrained again")

    monkeypatch.setattr(ablation, "pretrain_encoder", fail)
    again = run_ablation(TINY, tmp_path / "work", progress=False)
    assert again["nb201"].runs == first["nb201"].runs
    # an encoder of another pool is not reused
    with pytest.raises(AssertionError, match="pretrained again"):
        run_ablation(
            dataclasses.replace(TINY, families=("nb201", "nb101")),
            tmp_path / "work",
            progress=False,
        )


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
