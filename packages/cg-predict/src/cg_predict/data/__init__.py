"""Benchmark data: typed, validated records from every benchmark file cg-nas uses.

Every loader parses and validates its file once per process: later calls with the same
arguments return the same immutable table while the file is unchanged (``clear_table_cache``
frees them).
"""

from cg_predict.data._analognas import analognas_data_file, load_analognas_nb201
from cg_predict.data._cache import clear_table_cache
from cg_predict.data._cbm import CBM_FAMILIES, load_channel_bench_macro
from cg_predict.data._nb101_csv import NB101_EPOCHS, load_nb101_csv
from cg_predict.data._nb201_csv import load_nb201_csv, nb201_key_from_arch_str
from cg_predict.data._ofa import load_ofa_mbv3, ofa_key
from cg_predict.data._paths import (
    DATA_DIR_ENV,
    benchmark_files,
    data_dir_configured,
    resolve_data_dir,
)
from cg_predict.data._records import DATASETS, FAMILIES, ArchRecord, BenchmarkTable
from cg_predict.data._registry import BENCHMARKS, load_benchmark
from cg_predict.data._zc import ZC_DATASETS, load_zc_nasbench

__all__ = [
    # records
    "ArchRecord",
    "BenchmarkTable",
    "FAMILIES",
    "DATASETS",
    # locating data
    "DATA_DIR_ENV",
    "resolve_data_dir",
    "benchmark_files",
    "data_dir_configured",
    "analognas_data_file",
    "clear_table_cache",
    # loaders
    "BENCHMARKS",
    "load_benchmark",
    "ZC_DATASETS",
    "load_zc_nasbench",
    "NB101_EPOCHS",
    "load_nb101_csv",
    "load_nb201_csv",
    "load_ofa_mbv3",
    "load_analognas_nb201",
    "CBM_FAMILIES",
    "load_channel_bench_macro",
    # key helpers
    "nb201_key_from_arch_str",
    "ofa_key",
]
