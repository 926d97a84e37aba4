"""``inference-speed``: how fast the shipped predictor scores NB-201 graphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cg_ir.experiments import ReproduceConfig, reproduce
from cg_predict.experiments import speed

_SMALL = speed.InferenceBench(count=16, batch_size=8, repeats=2)


def test_measure_inference_times_scoring_packing_and_conversion() -> None:
    report = speed.measure_inference(_SMALL)
    assert report["graphs"] == 16 and report["threads"] == 1
    assert len(report["predict_seconds_runs"]) == 2
    for key in ("predict_graphs_per_s", "predict_graphs_per_cpu_s", "pack_graphs_per_s"):
        assert report[key] > 0, key
    assert report["mean_nodes"] > 10


def test_the_experiment_writes_its_report_keyed_by_the_shipped_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(speed.InferenceBench, "quick", classmethod(lambda cls: _SMALL))
    config = ReproduceConfig(out=tmp_path, progress=False)
    [record] = reproduce([speed.INFERENCE_SPEED], config)
    assert record.status == "ran", record.message
    folder = tmp_path / "inference-speed"
    assert json.loads((folder / "inference-speed.json").read_text())["graphs"] == 16
    provenance = json.loads((folder / "provenance.json").read_text())
    assert list(provenance["data_files"]) == ["default checkpoint"]
    assert set(record.headline) == {"scored / s", "scored / CPU-s"}
