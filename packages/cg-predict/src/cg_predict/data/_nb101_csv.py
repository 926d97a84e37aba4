"""The 30,001-cell NAS-Bench-101 CSV (``nb101/nb101_nasbenchvis_30k.csv``)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from cg_predict.data._cache import memoized_table
from cg_predict.data._paths import benchmark_file
from cg_predict.data._records import ArchRecord, BenchmarkTable, KeyTracker, nb101_matrix_ops_key
from cg_predict.data._tabular import parse_float, parse_label, read_rows
from cg_predict.errors import InvalidArgumentError

__all__ = ["NB101_EPOCHS", "load_nb101_csv"]

NB101_EPOCHS: tuple[int, ...] = (4, 12, 36, 108)
_NUMERIC = ("val_acc_108", "val_acc_36", "val_acc_12", "val_acc_4", "params", "train_seconds_108")
_COLUMNS = ("hash", "matrix", "ops", *_NUMERIC)


def load_nb101_csv(
    data_dir: str | os.PathLike[str] | None = None, *, epochs: int = 108
) -> BenchmarkTable:
    """Load the 30,001 NAS-Bench-101 cells with CIFAR-10 validation accuracy (one training run).

    Keys are ``"<matrix>|<ops>"`` exactly as in the CSV row: the pruned cell's n x n adjacency
    as a row-major 0/1 string, then its op names (``input|...|output``) joined by ``|``. They are
    NOT the 56-tuples of ``zc_nasbench101.json``: match the two by module hash
    (``info["hash"]``) or by isomorphism.

    Args:
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).
        epochs: which label to use, ``val_acc_<epochs>``: 4, 12, 36 or 108.

    Returns:
        The table (family ``"nb101"``, dataset ``"cifar10"``); ``proxies`` = ``{"params"}``,
        ``extra`` = every numeric column, ``info`` = ``{"hash"}``.

    Raises:
        InvalidArgumentError: ``epochs`` is not one of 4, 12, 36, 108.
        BenchmarkDataError: the file is missing.
        MalformedDataError: a missing column, a bad row or cell, or a duplicate cell.
        InvalidLabelError: a label is NaN or outside [0, 100].
    """
    if epochs not in NB101_EPOCHS:
        msg = f"NAS-Bench-101 has no label for epochs={epochs!r}; valid: 4, 12, 36, 108"
        raise InvalidArgumentError(msg)
    label_name = f"val_acc_{epochs}"
    path = benchmark_file("nb101-30k", data_dir)
    return memoized_table(path, ("nb101-30k", epochs), partial(_parse, path, label_name))


def _parse(path: Path, label_name: str) -> BenchmarkTable:
    seen = KeyTracker(str(path))
    records = []
    for where, row in read_rows(path, _COLUMNS):
        key = nb101_matrix_ops_key(row["matrix"], row["ops"], path=str(path), where=where)
        seen.add(key, where)
        label = parse_label(row, label_name, key=key, path=path, where=where)
        extra = {c: parse_float(row, c, path=path, where=where) for c in _NUMERIC}
        records.append(
            ArchRecord(
                "nb101",
                key,
                "cifar10",
                label,
                label_name,
                proxies={"params": extra["params"]},
                extra=extra,
                info={"hash": row["hash"]},
            )
        )
    return BenchmarkTable("nb101-30k", "nb101", "cifar10", label_name, str(path), tuple(records))
