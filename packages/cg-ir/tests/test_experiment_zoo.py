"""The ``zoo-coverage`` experiment (``cg_ir.experiments.zoo``) and its worker processes.

The experiment runs on a two-model sample (ResNet-18 of torchvision and of timm): its files,
counts, resumption and the raw rows of hung workers. Needs torchvision, timm and onnx, like
``test_zoo.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cg_ir.experiments import ExperimentRecord, ReproduceConfig, reproduce, zoo
from cg_ir.experiments.zoo import ONNX_FIELDS, ZOO_COVERAGE, Lost, check_onnx, run_isolated

SAMPLE = {"torchvision": ("resnet18",), "timm": ("resnet18",)}


def _run(out: Path) -> ExperimentRecord:
    [record] = reproduce([ZOO_COVERAGE], ReproduceConfig(out=out, progress=False))
    return record


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExperimentRecord, Path]:
    """One quick run on ``SAMPLE``, and its folder."""
    out = tmp_path_factory.mktemp("results")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zoo, "QUICK_SAMPLE", SAMPLE)
        record = _run(out)
    return record, out / "zoo-coverage"


def test_the_quick_run_writes_its_files_and_counts(
    finished: tuple[ExperimentRecord, Path],
) -> None:
    record, folder = finished
    assert record.status == "ran", record.message
    counts = {"models": 1, "convert": 1, "exact": 1, "raw_exceptions": 0}
    onnx = {"models": 1, "exports": 1, "imports": 1, "same_structure": 1, "raw_exceptions": 0}
    assert record.headline == {"torchvision": counts, "timm": counts, "onnx": onnx}
    for name in ("zoo.json", "zoo.csv", "failures.md", "onnx.json", "onnx.csv", "zoo.png"):
        assert (folder / name).is_file(), name
    saved = json.loads((folder / "zoo.json").read_text())["sources"]
    assert [r["name"] for r in saved["timm"]["rows"]] == ["timm:resnet18"]
    assert saved["torchvision"]["summary"]["exact"] == 1
    [row] = json.loads((folder / "onnx.json").read_text())["sources"]["torchvision"]["rows"]
    assert list(row) == list(ONNX_FIELDS)
    assert row["onnx_nodes"] == row["fx_nodes"] == saved["torchvision"]["rows"][0]["nodes"]
    assert len((folder / "zoo.csv").read_text().splitlines()) == 3  # header and two models
    assert "0 raw exceptions" in (folder / "failures.md").read_text()


def test_a_rerun_checks_only_the_missing_rows(
    finished: tuple[ExperimentRecord, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "zoo-coverage"
    shutil.copytree(finished[1], folder)
    (folder / "provenance.json").unlink()  # as an interrupted run leaves it
    path = folder / "zoo.json"
    saved = json.loads(path.read_text())
    saved["sources"]["torchvision"]["rows"][0]["seconds"] = 123.0  # a kept row keeps this
    saved["sources"]["timm"]["rows"] = []
    path.write_text(json.dumps(saved))
    checked: list[list[str]] = []

    def recorded(task: Any, items: list[str], *args: Any, **kwargs: Any) -> Iterator[Any]:
        checked.append(list(items))
        return run_isolated(task, items, *args, **kwargs)

    monkeypatch.setattr(zoo, "QUICK_SAMPLE", SAMPLE)
    monkeypatch.setattr(zoo, "run_isolated", recorded)
    record = _run(tmp_path)
    assert record.status == "ran", record.message
    assert checked == [["timm:resnet18"], []]  # the ONNX row was kept too
    rows = json.loads(path.read_text())["sources"]
    assert rows["torchvision"]["rows"][0]["seconds"] == 123.0
    assert rows["timm"]["rows"][0]["exact"]
    # a row of other cg-ir code is checked again
    rows["timm"]["rows"][0]["code_digest"] = "other code"
    path.write_text(json.dumps({"sources": rows}))
    (folder / "provenance.json").unlink()
    checked.clear()
    assert _run(tmp_path).status == "ran"
    assert checked == [["timm:resnet18"], []]


def test_a_hung_worker_is_a_raw_timeout_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zoo, "QUICK_SAMPLE", {"torchvision": ("resnet18",), "timm": ()})
    monkeypatch.setattr(zoo, "TIMEOUT_S", 0.5)  # less than a worker takes to start
    record = _run(tmp_path)
    assert record.status == "ran", record.message
    assert record.headline["torchvision"] == {
        "models": 1,
        "convert": 0,
        "exact": 0,
        "raw_exceptions": 1,
    }
    assert record.headline["onnx"]["models"] == 0
    folder = tmp_path / "zoo-coverage"
    [row] = json.loads((folder / "zoo.json").read_text())["sources"]["torchvision"]["rows"]
    assert (row["error_type"], row["raw_exception"]) == ("Timeout", True)
    assert "Timeout: no result after #.# s [RAW]`: resnet18" in (folder / "failures.md").read_text()


def test_workers_report_exceptions_deaths_and_timeouts() -> None:
    results = dict(run_isolated(int, ["7", "x"], workers=1, timeout=60))
    assert results["7"] == 7
    assert results["x"] == Lost("ValueError", "invalid literal for int() with base 10: 'x'")
    [(_, died)] = run_isolated(os._exit, [3], workers=1, timeout=60)
    assert died == Lost("WorkerDied", "the worker process died (exit code 3)")
    start = time.monotonic()
    [(_, hung)] = run_isolated(time.sleep, [600], workers=1, timeout=2)
    assert hung == Lost("Timeout", "no result after 2 s")
    assert time.monotonic() - start < 30


def test_workers_are_recycled() -> None:
    # /proc/self names the process that reads it: a fresh worker after every item
    pids = [pid for _, pid in run_isolated(os.readlink, ["/proc/self"] * 2, 1, 60, recycle=1)]
    assert len(set(pids)) == 2


def test_an_exporter_failure_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("exporter limit")

    monkeypatch.setattr(torch.onnx, "export", refuse)
    row = check_onnx("torchvision:squeezenet1_1")
    assert (row["exports"], row["stage"], row["error_type"]) == (False, "export", "RuntimeError")
    assert not row["raw_exception"] and row["fx_nodes"] > 0
