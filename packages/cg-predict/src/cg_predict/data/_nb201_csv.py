"""All 15,625 NAS-Bench-201 cells at 200 epochs (``nb201/nb201_200ep_test_acc.csv``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from cg_predict.data._cache import memoized_table
from cg_predict.data._paths import benchmark_file
from cg_predict.data._records import ArchRecord, BenchmarkTable, KeyTracker, check_key
from cg_predict.data._tabular import parse_float, parse_label, read_rows
from cg_predict.errors import InvalidArgumentError, MalformedDataError

__all__ = ["NB201_COLUMNS", "load_nb201_csv", "nb201_key_from_arch_str"]

NB201_COLUMNS: Mapping[str, str] = {
    "cifar10": "cifar10_test",
    "cifar100": "cifar100_test",
    "ImageNet16-120": "imagenet16_120_test",
}
_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
# The official string lists edges by target node, (0->1), (0->2) (1->2), (0->3) (1->3) (2->3);
# NASLib's tuple orders them (0->1), (0->2), (0->3), (1->2), (1->3), (2->3).
_ARCH_STR_TO_NASLIB = (0, 1, 3, 2, 4, 5)


def nb201_key_from_arch_str(arch_str: str) -> str:
    """The NASLib 6-tuple key of an official NAS-Bench-201 string, or ``ValueError``.

    Examples:
        >>> nb201_key_from_arch_str(
        ...     "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
        ...     "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
        '(4, 3, 3, 0, 0, 0)'
    """
    nodes = arch_str.strip("|").split("|+|")
    edges = [edge.split("~") for node in nodes for edge in node.split("|")]
    expected_sources = ["0", "0", "1", "0", "1", "2"]
    if len(nodes) != 3 or [e[-1] for e in edges] != expected_sources:
        msg = f"{arch_str!r} is not a NAS-Bench-201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
        raise InvalidArgumentError(msg)
    if any(len(e) != 2 or e[0] not in _OPS for e in edges):
        msg = f"{arch_str!r} uses an op outside {', '.join(_OPS)}"
        raise InvalidArgumentError(msg)
    ids = [_OPS.index(e[0]) for e in edges]
    return str(tuple(ids[i] for i in _ARCH_STR_TO_NASLIB))


def load_nb201_csv(
    dataset: str = "cifar10", data_dir: str | os.PathLike[str] | None = None
) -> BenchmarkTable:
    """Load all 15,625 NAS-Bench-201 cells with 200-epoch test accuracy (mean over seeds).

    Every row's NASLib key is checked against its official ``arch_str``.

    Args:
        dataset: ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"``.
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).

    Returns:
        The table (family ``"nb201"``); label = ``<dataset>_test`` column; ``extra`` = all three
        test accuracies; ``info`` = ``{"arch_str"}``; no proxies.

    Raises:
        InvalidArgumentError: unknown dataset.
        BenchmarkDataError: the file is missing.
        MalformedDataError: a missing column, bad row, key/arch_str mismatch or duplicate key.
        InvalidLabelError: a label is NaN or outside [0, 100].
    """
    if dataset not in NB201_COLUMNS:
        msg = f"NAS-Bench-201 has no dataset {dataset!r}; valid: {', '.join(NB201_COLUMNS)}"
        raise InvalidArgumentError(msg)
    path = benchmark_file("nb201-200ep", data_dir)
    return memoized_table(path, ("nb201-200ep", dataset), partial(_parse, path, dataset))


def _parse(path: Path, dataset: str) -> BenchmarkTable:
    label_name = NB201_COLUMNS[dataset]
    seen = KeyTracker(str(path))
    records = []
    for where, row in read_rows(path, ("key", "arch_str", *NB201_COLUMNS.values())):
        key = row["key"]
        check_key("nb201", key, path=str(path), where=where)
        try:
            from_str = nb201_key_from_arch_str(row["arch_str"])
        except ValueError as e:
            raise MalformedDataError(f"{path}: {where}: {e}", path) from None
        if from_str != key:
            msg = f"{path}: {where}: key {key!r} but arch_str {row['arch_str']!r} is {from_str}"
            raise MalformedDataError(msg, path)
        seen.add(key, where)
        label = parse_label(row, label_name, key=key, path=path, where=where)
        extra = {c: parse_float(row, c, path=path, where=where) for c in NB201_COLUMNS.values()}
        records.append(
            ArchRecord(
                "nb201",
                key,
                dataset,
                label,
                label_name,
                extra=extra,
                info={"arch_str": row["arch_str"]},
            )
        )
    return BenchmarkTable("nb201-200ep", "nb201", dataset, label_name, str(path), tuple(records))
