"""``graph-anatomy`` and ``conversion-speed``: what ``cgnas reproduce`` writes of the families."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cg_ir import families
from cg_ir.experiments import ReproduceConfig, reproduce
from cg_ir.experiments import graphs as graph_experiments
from cg_ir.families import Family


def _run(tmp_path: Path, experiment: object) -> tuple[object, Path]:
    [record] = reproduce([experiment], ReproduceConfig(out=tmp_path, progress=False))  # type: ignore[list-item]
    return record, tmp_path / record.name


def test_anatomy_counts_classes_and_op_shares_of_the_statistics_sample(tmp_path: Path) -> None:
    record, folder = _run(tmp_path, graph_experiments.GRAPH_ANATOMY)
    assert record.status == "ran", record.message
    table = json.loads((folder / "anatomy.json").read_text())["families"]
    assert set(table) == set(families.names())
    for row in table.values():
        assert row["graphs"] == 50 and 1 <= row["classes"] <= 50
        assert sum(row["op_share"].values()) == pytest.approx(1.0)
    # NB-201's none edges make isomorphic cells of different specs
    assert table["nb201"]["classes"] < table["nb201"]["graphs"]
    header = (folder / "op-share.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["family", "graphs", "classes"] and "conv" in header
    assert (folder / "op-share.png").read_bytes()[:4] == b"\x89PNG"


def test_conversion_speed_checks_the_fast_path_against_fx(tmp_path: Path) -> None:
    record, folder = _run(tmp_path, graph_experiments.CONVERSION_SPEED)
    assert record.status == "ran", record.message
    table = json.loads((folder / "conversion-speed.json").read_text())["families"]
    assert set(table) == set(families.names())
    for name, row in table.items():
        assert row["fx_ms_per_graph"] > 0
        if row["fast_path"]:
            assert row["identical"] == row["fx_specs"] == 3, name
            assert row["specs"] == 50 and row["speed_up"] > 1
    whole = json.loads((folder / "conversion-speed.json").read_text())["all_nb201"]
    assert whole["graphs"] == 15_625 and whole["wall_s"] > 0


def test_a_fast_path_that_differs_from_fx_fails_the_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb201 = families.get("nb201")
    other = nb201.to_cg(nb201.sample(np.random.default_rng(99)))
    monkeypatch.setattr(type(nb201), "trace_cg", lambda self, spec: other)
    monkeypatch.setattr(families, "names", lambda: ["nb201"])
    record, _ = _run(tmp_path, graph_experiments.CONVERSION_SPEED)
    assert record.status == "failed"
    assert "the fast path and the fx path differ for nb201" in record.message
    assert type(nb201).to_cg is not Family.to_cg
