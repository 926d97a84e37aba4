"""Integration tests against the real benchmark files (the ``data_dir`` fixture).

Counts and proxy correlations are those stated in the data README.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cg_predict.data import BenchmarkTable, clear_table_cache, load_benchmark
from cg_predict.metrics import spearman

pytestmark = pytest.mark.needs_data


def _load(data_dir: Path, name: str, dataset: str | None = None) -> BenchmarkTable:
    return load_benchmark(name, data_dir, dataset=dataset)  # parsed once per process


@pytest.mark.parametrize(
    ("name", "dataset", "count"),
    [
        ("zc-nb101", None, 500),
        ("zc-nb201", "cifar10", 724),
        ("zc-nb201", "cifar100", 725),
        ("zc-nb201", "ImageNet16-120", 724),
        ("zc-nb301", None, 725),
        ("nb101-30k", None, 30_001),
        ("nb201-200ep", "cifar10", 15_625),
        ("ofa-mbv3", None, 2_223),
    ],
)
def test_counts(data_dir: Path, name: str, dataset: str | None, count: int):
    table = _load(data_dir, name, dataset)
    assert len(table) == count == len(set(table.keys))


@pytest.mark.parametrize(
    ("name", "dataset", "proxy", "rho"),
    [
        ("zc-nb201", "cifar10", "nwot", 0.787),  # includes the one -inf nwot score
        ("zc-nb101", None, "flops", 0.720),
        ("zc-nb101", None, "jacov", -0.499),  # the sign is kept
        ("zc-nb201", "cifar100", "synflow", 0.762),
        ("zc-nb301", None, "params", 0.523),
    ],
)
def test_proxy_spearman_matches_the_data_readme(
    data_dir: Path, name: str, dataset: str | None, proxy: str, rho: float
):
    table = _load(data_dir, name, dataset)
    assert round(spearman(table.labels(), table.proxy(proxy)), 3) == rho


def test_nb201_csv_agrees_with_suite_zero_over_shared_cells(data_dir: Path):
    # data README: Spearman 0.978 (CIFAR-10) between test and validation accuracy
    csv, zc = _load(data_dir, "nb201-200ep", "cifar10"), _load(data_dir, "zc-nb201", "cifar10")
    shared = [key for key in zc.keys if key in csv]
    assert len(shared) == 724
    rho = spearman([csv.get(k).label for k in shared], [zc.get(k).label for k in shared])
    assert round(rho, 3) == 0.978


def test_nb201_all_three_datasets_share_the_keys(data_dir: Path):
    datasets = ("cifar10", "cifar100", "ImageNet16-120")
    tables = [_load(data_dir, "nb201-200ep", d) for d in datasets]
    assert tables[0].keys == tables[1].keys == tables[2].keys
    assert tables[1].labels().max() == pytest.approx(73.51333326009114)


def test_nb101_csv_shares_hashes_with_labels_in_range(data_dir: Path):
    table = _load(data_dir, "nb101-30k")
    labels = table.labels()
    assert 9.0 < labels.min() and labels.max() < 95.0
    assert len({r.info["hash"] for r in table}) == 30_001


def test_ofa_top1_range(data_dir: Path):
    labels = _load(data_dir, "ofa-mbv3").labels()
    assert round(labels.min(), 1) == 71.0 and round(labels.max(), 1) == 77.5  # README: 71.0-77.5


def test_large_files_load_in_a_few_seconds(data_dir: Path):
    clear_table_cache()
    start = time.perf_counter()
    load_benchmark("nb101-30k", data_dir)
    assert time.perf_counter() - start < 15.0  # measured ~1.3 s on a 2-core CI machine
