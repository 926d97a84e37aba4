"""``load_benchmark``: one entry point for every benchmark, by name."""

from __future__ import annotations

import os
from collections.abc import Mapping

from cg_predict.data._analognas import load_analognas_nb201
from cg_predict.data._cbm import CBM_FAMILIES, load_channel_bench_macro
from cg_predict.data._nb101_csv import load_nb101_csv
from cg_predict.data._nb201_csv import NB201_COLUMNS, load_nb201_csv
from cg_predict.data._ofa import load_ofa_mbv3
from cg_predict.data._records import BenchmarkTable
from cg_predict.data._zc import ZC_DATASETS, load_zc_nasbench
from cg_predict.errors import InvalidArgumentError, UnknownBenchmarkError

__all__ = ["BENCHMARKS", "load_benchmark"]

# name -> (family, datasets; the first is the default).
BENCHMARKS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "zc-nb101": ("nb101", ZC_DATASETS["nb101"]),
    "zc-nb201": ("nb201", ZC_DATASETS["nb201"]),
    "zc-nb301": ("nb301", ZC_DATASETS["nb301"]),
    "nb101-30k": ("nb101", ("cifar10",)),
    "nb201-200ep": ("nb201", tuple(NB201_COLUMNS)),
    "ofa-mbv3": ("ofa-mbv3", ("imagenet",)),
    "analognas-nb201": ("nb201", ("cifar10",)),
    "cbm-mobilenet": ("cbm-mobilenet", ("cifar10",)),
    "cbm-resnet": ("cbm-resnet", ("cifar10",)),
}


def load_benchmark(
    name: str, data_dir: str | os.PathLike[str] | None = None, *, dataset: str | None = None
) -> BenchmarkTable:
    """Load benchmark ``name`` for ``dataset``.

    ============== ================================ =========================== ==============
    name           file                             datasets                    label
    ============== ================================ =========================== ==============
    zc-nb101       zc_nasbench101.json              cifar10                     val_accuracy
    zc-nb201       zc_nasbench201.json              cifar10, cifar100,          val_accuracy
                                                    ImageNet16-120
    zc-nb301       zc_nasbench301.json              cifar10                     val_accuracy
    nb101-30k      nb101_nasbenchvis_30k.csv        cifar10                     val_acc_108
    nb201-200ep    nb201_200ep_test_acc.csv         cifar10, cifar100,          <dataset>_test
                                                    ImageNet16-120
    ofa-mbv3       ofa_mbv3_w10_imagenet_top1.csv   imagenet                    top1
    analognas-nb201 the analog-nasbench package      cifar10                     baseline_accuracy
    cbm-mobilenet  Results_MobileNet.json           cifar10                     mean
    cbm-resnet     Results_ResNet.json              cifar10                     mean
    ============== ================================ =========================== ==============

    Args:
        name: a key of ``BENCHMARKS``.
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``); ``analognas-nb201`` reads
            the installed package instead and ignores it.
        dataset: one of the benchmark's datasets; default the first listed.

    Raises:
        UnknownBenchmarkError: ``name`` is not a benchmark (the message lists them).
        InvalidArgumentError: ``dataset`` is not one of the benchmark's datasets.
        BenchmarkDataError, MalformedDataError, InvalidLabelError: from the loader.

    Examples:
        >>> load_benchmark("nb201")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.UnknownBenchmarkError: unknown benchmark 'nb201'; valid names: ...
    """
    if name not in BENCHMARKS:
        msg = f"unknown benchmark {name!r}; valid names: {', '.join(BENCHMARKS)}"
        raise UnknownBenchmarkError(msg)
    family, datasets = BENCHMARKS[name]
    chosen = datasets[0] if dataset is None else dataset
    if chosen not in datasets:
        msg = f"benchmark {name!r} has no dataset {chosen!r}; valid: {', '.join(datasets)}"
        raise InvalidArgumentError(msg)
    if name.startswith("zc-"):
        return load_zc_nasbench(family, chosen, data_dir)
    if name == "nb101-30k":
        return load_nb101_csv(data_dir)
    if name == "nb201-200ep":
        return load_nb201_csv(chosen, data_dir)
    if name == "ofa-mbv3":
        return load_ofa_mbv3(data_dir)
    if name in CBM_FAMILIES:
        return load_channel_bench_macro(name, data_dir)
    return load_analognas_nb201()
