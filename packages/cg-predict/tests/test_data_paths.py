"""Data directory resolution and the missing-file error message."""

from __future__ import annotations

from pathlib import Path

import pytest

from cg_predict.data import DATA_DIR_ENV, load_benchmark, load_zc_nasbench, resolve_data_dir
from cg_predict.errors import BenchmarkDataError, CgPredictError


def test_explicit_dir_wins_over_environment(
    test_assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(DATA_DIR_ENV, str(test_assets))
    assert resolve_data_dir(tmp_path) == tmp_path.resolve()


def test_environment_is_used_without_explicit_dir(
    test_assets: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(DATA_DIR_ENV, str(test_assets))
    assert resolve_data_dir(None) == test_assets.resolve()


def test_no_dir_configured_says_how_to_set_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(BenchmarkDataError) as info:
        resolve_data_dir(None)
    message = str(info.value)
    assert "--data-dir" in message and DATA_DIR_ENV in message
    assert info.value.path is None


def test_nonexistent_dir_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(DATA_DIR_ENV, str(missing))
    with pytest.raises(BenchmarkDataError, match="nowhere") as info:
        resolve_data_dir(None)
    assert f"${DATA_DIR_ENV}" in str(info.value)


def test_missing_zc_file_message_names_path_setting_and_naslib(tmp_path: Path):
    with pytest.raises(BenchmarkDataError) as info:
        load_zc_nasbench("nb201", "cifar10", tmp_path)
    message = str(info.value)
    expected = tmp_path.resolve() / "nas-bench-suite-zero" / "zc_nasbench201.json"
    assert str(expected) in message
    assert "--data-dir" in message and DATA_DIR_ENV in message
    assert "naslib/data/zc_nasbench201.json" in message
    assert info.value.path == str(expected)


def test_missing_error_is_a_file_not_found_error(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_benchmark("ofa-mbv3", tmp_path)
    with pytest.raises(CgPredictError, match="DyNAS-T"):
        load_benchmark("ofa-mbv3", tmp_path)


@pytest.mark.parametrize(
    ("name", "provenance"),
    [("nb101-30k", "nasbench-vis"), ("nb201-200ep", "NATS-Bench"), ("zc-nb101", "NASLib")],
)
def test_missing_file_names_its_provenance(tmp_path: Path, name: str, provenance: str):
    with pytest.raises(BenchmarkDataError, match=provenance):
        load_benchmark(name, tmp_path)
