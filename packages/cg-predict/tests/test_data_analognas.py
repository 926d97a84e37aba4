"""AnalogNAS-Bench: the restricted unpickler on hand-made pickles, and the installed package."""

from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import types
from pathlib import Path

import pytest

from cg_predict.data import (
    analognas_data_file,
    load_analognas_nb201,
    load_zc_nasbench,
)
from cg_predict.errors import BenchmarkDataError, InvalidLabelError, MalformedDataError
from cg_predict.metrics import spearman

INSTALLED = importlib.util.find_spec("analognasbench") is not None
needs_package = pytest.mark.skipif(
    not INSTALLED, reason="analog-nasbench is not installed (pip install analog-nasbench)"
)


def _fake_package(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """Modules named like the real package, so pickle writes the same class references."""
    package = types.ModuleType("analognasbench")
    module = types.ModuleType("analognasbench.data")

    class Architecture:
        pass

    class DriftMeasurement:
        pass

    for cls in (Architecture, DriftMeasurement):
        cls.__module__ = "analognasbench.data"
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "analognasbench", package)
    monkeypatch.setitem(sys.modules, "analognasbench.data", module)
    return module


def _architecture(module: types.ModuleType, arch: tuple[int, ...], accuracy: float) -> object:
    record = module.Architecture()
    record.__dict__.update(
        architecture=arch,
        baseline_accuracy=accuracy,
        ptq_accuracy=accuracy - 1.0,
        qat_accuracy=accuracy - 2.0,
        noisy_accuracy=accuracy - 3.0,
        analog_accuracy=accuracy - 4.0,
    )
    drift = module.DriftMeasurement()
    drift.__dict__.update(value=accuracy - 5.0, uncertainty=0.5)
    record.__dict__["baseline_drift_60"] = drift
    return record


def _write(path: Path, data: object) -> Path:
    path.write_bytes(pickle.dumps(data, protocol=4))
    return path


def test_reads_the_package_records_through_stand_ins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    module = _fake_package(monkeypatch)
    data = {
        (2, 2, 2, 2, 2, 2): _architecture(module, (2, 2, 2, 2, 2, 2), 93.5),
        (0, 1, 0, 1, 0, 1): _architecture(module, (0, 1, 0, 1, 0, 1), 60.25),
    }
    path = _write(tmp_path / "data.anb", data)
    monkeypatch.delitem(sys.modules, "analognasbench.data")  # loading must not need it
    table = load_analognas_nb201(path)
    assert table.keys == ("(0, 1, 0, 1, 0, 1)", "(2, 2, 2, 2, 2, 2)")  # sorted by key
    assert table.labels().tolist() == [60.25, 93.5]
    assert (table.family, table.dataset, table.label_name) == (
        "nb201",
        "cifar10",
        "baseline_accuracy",
    )
    assert table[1].extra == {
        "ptq_accuracy": 92.5,
        "qat_accuracy": 91.5,
        "noisy_accuracy": 90.5,
        "analog_accuracy": 89.5,
    }
    assert table.source == str(path)


class _Sneaky:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getcwd, ())


def test_any_other_global_is_refused(tmp_path: Path):
    path = _write(tmp_path / "data.anb", {(0, 0, 0, 0, 0, 0): _Sneaky()})
    with pytest.raises(MalformedDataError, match=r"refers to posix\.getcwd.*refusing"):
        load_analognas_nb201(path)


def test_builtins_globals_are_refused_too(tmp_path: Path):
    path = _write(tmp_path / "data.anb", {(0, 0, 0, 0, 0, 0): {1, 2}, "x": range(3)})
    with pytest.raises(MalformedDataError, match="builtins.range"):
        load_analognas_nb201(path)


def test_truncated_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = _fake_package(monkeypatch)
    good = pickle.dumps({(1, 1, 1, 1, 1, 1): _architecture(module, (1, 1, 1, 1, 1, 1), 10.0)})
    path = tmp_path / "data.anb"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(MalformedDataError, match="not a readable AnalogNAS-Bench pickle"):
        load_analognas_nb201(path)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ((0, 1, 2, 3, 4), "not a 6-tuple"),
        ((0, 1, 2, 3, 4, 5), "not a 6-tuple"),
        ("(0, 1)", "6-tuple"),
    ],
)
def test_bad_architecture_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: object, message: str
):
    module = _fake_package(monkeypatch)
    path = _write(tmp_path / "data.anb", {key: _architecture(module, (0,) * 6, 50.0)})
    with pytest.raises(MalformedDataError, match=message):
        load_analognas_nb201(path)


def test_nan_baseline_accuracy_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = _fake_package(monkeypatch)
    arch = (3, 3, 3, 3, 3, 3)
    path = _write(tmp_path / "data.anb", {arch: _architecture(module, arch, float("nan"))})
    with pytest.raises(InvalidLabelError, match=r"'\(3, 3, 3, 3, 3, 3\)'.*NaN"):
        load_analognas_nb201(path)


def test_stored_architecture_must_match_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    module = _fake_package(monkeypatch)
    path = _write(tmp_path / "data.anb", {(3,) * 6: _architecture(module, (4,) * 6, 50.0)})
    with pytest.raises(MalformedDataError, match="different 'architecture'"):
        load_analognas_nb201(path)


def test_missing_file(tmp_path: Path):
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        load_analognas_nb201(tmp_path / "data.anb")


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BenchmarkDataError, match="pip install analog-nasbench"):
        analognas_data_file()


@needs_package
def test_installed_package_data_without_importing_it():
    before = set(sys.modules)
    table = load_analognas_nb201()
    assert "analognasbench" not in set(sys.modules) - before
    assert "pkg_resources" not in set(sys.modules) - before
    assert len(table) == 15_625 == len(set(table.keys))
    assert table.keys[0] == "(0, 0, 0, 0, 0, 0)" and table.keys[-1] == "(4, 4, 4, 4, 4, 4)"
    labels = table.labels()
    assert 10.0 <= labels.min() and labels.max() < 95.0
    assert analognas_data_file().name == "data.anb"
    assert "analog-nasbench" in table.source


@needs_package
@pytest.mark.needs_data
def test_keys_use_the_naslib_encoding(data_dir: Path):
    # Spearman 0.979 over the 724 cells shared with NAS-Bench-Suite-Zero (data README)
    analog = load_analognas_nb201()
    zc = load_zc_nasbench("nb201", "cifar10", data_dir)
    shared = [key for key in zc.keys if key in analog]
    assert len(shared) == 724
    rho = spearman([analog.get(k).label for k in shared], [zc.get(k).label for k in shared])
    assert round(rho, 3) == 0.979
