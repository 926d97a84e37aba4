"""``load_benchmark``: names, datasets and dispatch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cg_predict.data import BENCHMARKS, FAMILIES, clear_table_cache, load_benchmark
from cg_predict.errors import InvalidArgumentError, UnknownBenchmarkError

FILE_BENCHMARKS = [name for name in BENCHMARKS if name != "analognas-nb201"]


def test_unknown_name_lists_every_valid_name(test_assets: Path):
    with pytest.raises(UnknownBenchmarkError) as info:
        load_benchmark("nasbench201", test_assets)
    message = str(info.value)
    assert "'nasbench201'" in message
    assert all(name in message for name in BENCHMARKS)
    assert isinstance(info.value, ValueError)


def test_dataset_not_offered_by_the_benchmark(test_assets: Path):
    with pytest.raises(
        InvalidArgumentError, match="'ofa-mbv3' has no dataset 'cifar10'; valid: imagenet"
    ):
        load_benchmark("ofa-mbv3", test_assets, dataset="cifar10")


@pytest.mark.parametrize("name", FILE_BENCHMARKS)
def test_every_file_benchmark_dispatches_with_default_dataset(test_assets: Path, name: str):
    family, datasets = BENCHMARKS[name]
    table = load_benchmark(name, test_assets)
    assert family in FAMILIES
    assert (table.name, table.family, table.dataset) == (name, family, datasets[0])
    assert len(table) == 3


@pytest.mark.parametrize("dataset", BENCHMARKS["nb201-200ep"][1])
def test_dataset_is_passed_on(test_assets: Path, dataset: str):
    assert load_benchmark("nb201-200ep", test_assets, dataset=dataset).dataset == dataset
    assert load_benchmark("zc-nb201", test_assets, dataset=dataset).dataset == dataset


def test_data_dir_from_environment(test_assets: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CGNAS_DATA_DIR", str(test_assets))
    assert len(load_benchmark("zc-nb301")) == 3


def test_tables_are_memoized_until_the_file_changes(test_assets: Path, tmp_path: Path):
    shutil.copytree(test_assets, tmp_path / "d")
    first = load_benchmark("nb201-200ep", tmp_path / "d", dataset="cifar100")
    assert load_benchmark("nb201-200ep", tmp_path / "d", dataset="cifar100") is first
    assert load_benchmark("nb201-200ep", tmp_path / "d", dataset="cifar10") is not first
    csv = tmp_path / "d" / "nb201" / "nb201_200ep_test_acc.csv"
    csv.write_text(csv.read_text().replace("72.5,", "72.75,"))
    changed = load_benchmark("nb201-200ep", tmp_path / "d", dataset="cifar100")
    assert changed.get("(2, 2, 2, 2, 2, 2)").label == 72.75
    clear_table_cache()
    assert load_benchmark("nb201-200ep", tmp_path / "d", dataset="cifar100") is not changed
