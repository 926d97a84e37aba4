from __future__ import annotations

import dataclasses
import os

import pytest

import cg_contrast.ablation as ablation
from cg_contrast.ablation import (
    AblationConfig,
    ablation_rows,
    best_proxy,
    run_ablation,
    summary_row,
    supervised_control,
)
from cg_contrast.errors import InvalidArgumentError

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


@pytest.mark.needs_data
@pytest.mark.skipif(
    not os.environ.get("CGNAS_DATA_DIR"), reason="CGNAS_DATA_DIR is not set (CI sets it)"
)
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
    assert again["nb201"]["runs"] == first["nb201"]["runs"]
    # an encoder of another pool is not reused
    with pytest.raises(AssertionError, match="pretrained again"):
        run_ablation(
            dataclasses.replace(TINY, families=("nb201", "nb101")),
            tmp_path / "work",
            progress=False,
        )


def _row(
    method: str, shots: int, srcc: float | None, unit: str = "class", std: float | None = 0.01
):  # type: ignore[no-untyped-def]
    return {"method": method, "shots": shots, "unit": unit, "srcc_mean": srcc, "srcc_std": std}


def test_best_proxy_and_summary_rows_read_an_evaluate_result() -> None:
    result = {
        "results": [
            _row("proxy:nwot", 0, 0.7),
            _row("proxy:flops", 0, 0.8),
            _row("proxy:flops", 0, 0.95, unit="row"),  # twins counted again: not the headline
            _row("proxy:snip", 0, None),
            _row("proxy:nwot", 10, 0.6),
            _row("gnn-fine-tune", 10, 0.5),
            _row("gnn-fine-tune", 10, 0.4, unit="row"),
        ]
    }
    assert best_proxy(result, 0) == (0.8, "flops")
    assert best_proxy(result, 20) is None
    assert summary_row(result, "gnn-fine-tune", 10)["srcc_mean"] == 0.5  # type: ignore[index]
    assert summary_row(result, "gnn-fine-tune", 10, "row")["srcc_mean"] == 0.4  # type: ignore[index]
    assert summary_row(result, "gnn-fine-tune", 0) is None
    assert supervised_control(result) == "gnn-fine-tune"


def test_unfrozen_runs_compare_cl_with_the_two_stage_control() -> None:
    result = {
        "config": {"shots": [0]},
        "results": [
            _row("gnn-fine-tune", 0, 0.5),
            _row("supervised-2stage-fine-tune", 0, 0.6, std=None),
            _row("supervised-2stage-fine-tune", 0, 0.4, unit="row"),
            _row("cl-retrieval-fine-tune", 0, 0.7),
            _row("proxy:flops", 0, 0.3),
        ],
    }
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
