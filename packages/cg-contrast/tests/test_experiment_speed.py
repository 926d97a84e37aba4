"""``contrast-speed``: what contrastive pretraining at scale costs, against its targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cg_contrast.experiments import speed
from cg_ir.experiments import ReproduceConfig, reproduce


def test_the_experiment_reports_every_task_against_its_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    measure = speed.measure_contrast
    monkeypatch.setattr(
        speed, "measure_contrast", lambda size, device: measure(24, device, nb201_graphs=300)
    )
    [record] = reproduce([speed.CONTRAST_SPEED], ReproduceConfig(out=tmp_path, progress=False))
    assert record.status == "ran", record.message
    report = json.loads((tmp_path / "contrast-speed" / "contrast-speed.json").read_text())
    assert report["pool"] == 24 and report["extrapolated"]
    assert report["spectra_50k_s"] == pytest.approx(report["spectra_s"] * 50_000 / 24)
    assert report["targets_s"] == {
        "spectra_50k_s": speed.SPECTRA_50K_TARGET_S,
        "epoch_50k_s": speed.EPOCH_50K_TARGET_S,
        "embed_nb201_s": speed.EMBED_NB201_TARGET_S,
    }
    assert set(record.headline) == set(report["targets_s"])
    rows = (tmp_path / "contrast-speed" / "contrast-speed.csv").read_text().splitlines()
    assert rows[0] == "task,seconds,cpu_seconds,target_s" and len(rows) == 4
    assert report["embed_nb201_cpu_s"] > 0
