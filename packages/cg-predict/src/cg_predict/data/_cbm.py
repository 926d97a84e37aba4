"""Channel-Bench-Macro width spaces (``channel-bench-macro/Results_{MobileNet,ResNet}.json``).

Each file maps a 7-digit width configuration (digits 1-4, the key of cg-ir's ``cbm-mobilenet``
and ``cbm-resnet`` families) to ``{"acc": [a1, a2, a3], "mean": m, "std": s, "params": p,
"flops": f}``: CIFAR-10 test top-1 (%) of three training runs, their mean and std, the
parameter count and the multiply-accumulates of the convs and the classifier.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from cg_predict.data._cache import memoized_table
from cg_predict.data._paths import benchmark_file
from cg_predict.data._records import ArchRecord, BenchmarkTable, check_label
from cg_predict.data._zc import _read_json
from cg_predict.errors import InvalidArgumentError, MalformedDataError

__all__ = ["CBM_FAMILIES", "load_channel_bench_macro"]

CBM_FAMILIES: Mapping[str, str] = {
    "cbm-mobilenet": "Results_MobileNet.json",
    "cbm-resnet": "Results_ResNet.json",
}
"""Benchmark (and cg-ir family) name -> file name under ``channel-bench-macro/``."""

_LABEL = "mean"
_RUNS = 3
_KEY = re.compile(r"[1-4]{7}")
_COSTS = ("flops", "params")


def load_channel_bench_macro(
    family: str, data_dir: str | os.PathLike[str] | None = None
) -> BenchmarkTable:
    """Load one Channel-Bench-Macro space: all 16,384 width configurations on CIFAR-10.

    Args:
        family: ``"cbm-mobilenet"`` or ``"cbm-resnet"`` (also the benchmark's name).
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).

    Returns:
        The table in file order (family and name ``family``, dataset ``"cifar10"``, label
        ``mean``: test top-1 in %, the mean of three runs); keys are the file's 7-digit
        strings; ``proxies`` = ``{"flops", "params"}``; ``extra`` = those, ``std`` and the
        runs ``acc_1``-``acc_3``.

    Raises:
        InvalidArgumentError: ``family`` is not a Channel-Bench-Macro space.
        BenchmarkDataError: the file is missing (the message says where to get it).
        MalformedDataError: invalid or truncated JSON, a bad key, a missing or non-numeric
            field (NaN or infinite costs included), a duplicate key.
        InvalidLabelError: the mean or a run's accuracy is NaN or outside [0, 100].

    Examples:
        >>> load_channel_bench_macro("cbm-vgg")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        cg_predict.errors.InvalidArgumentError: unknown Channel-Bench-Macro space 'cbm-vgg'; ...
    """
    if family not in CBM_FAMILIES:
        msg = f"unknown Channel-Bench-Macro space {family!r}; valid: {', '.join(CBM_FAMILIES)}"
        raise InvalidArgumentError(msg)
    path = benchmark_file(family, data_dir)
    return memoized_table(path, family, partial(_parse, path, family))


def _parse(path: Path, family: str) -> BenchmarkTable:
    top = _read_json(path)
    if not isinstance(top, dict) or not top:
        kind = "an empty object" if isinstance(top, dict) else type(top).__name__
        msg = f"{path}: top level is {kind}; expected an object of 7-digit width keys"
        raise MalformedDataError(msg, path)
    records = tuple(_record(family, key, fields, str(path)) for key, fields in top.items())
    return BenchmarkTable(family, family, "cifar10", _LABEL, str(path), records)


def _record(family: str, key: str, fields: Any, path: str) -> ArchRecord:
    if _KEY.fullmatch(key) is None:
        msg = f"{path}: architecture key {key!r} is not 7 digits 1-4 (one width per layer)"
        raise MalformedDataError(msg, path)
    if not isinstance(fields, dict):
        msg = f"{path}: architecture {key!r} holds {type(fields).__name__}, not an object"
        raise MalformedDataError(msg, path)
    missing = [f for f in ("acc", _LABEL, "std", *_COSTS) if f not in fields]
    if missing:
        msg = f"{path}: architecture {key!r} lacks field(s) {', '.join(missing)}"
        raise MalformedDataError(msg, path)
    label = check_label(fields[_LABEL], key=key, field_name=_LABEL, path=path)
    runs = fields["acc"]
    if not isinstance(runs, list) or len(runs) != _RUNS:
        msg = f"{path}: architecture {key!r}, 'acc' is {runs!r}; expected a list of {_RUNS} runs"
        raise MalformedDataError(msg, path)
    extra = {
        f"acc_{i}": check_label(run, key=key, field_name=f"acc[{i - 1}]", path=path)
        for i, run in enumerate(runs, start=1)
    }
    costs = {name: _number(fields[name], key, name, path) for name in _COSTS}
    extra.update(costs, std=_number(fields["std"], key, "std", path))
    return ArchRecord(family, key, "cifar10", label, _LABEL, proxies=costs, extra=extra)


def _number(value: object, key: str, name: str, path: str) -> float:
    """A finite, non-negative number, or ``MalformedDataError`` naming the key and field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        msg = f"{path}: architecture {key!r}, {name!r} is {value!r}; expected a finite number"
        raise MalformedDataError(msg, path)
    if value < 0:
        msg = f"{path}: architecture {key!r}, {name!r} is {value!r}; it cannot be negative"
        raise MalformedDataError(msg, path)
    return float(value)
