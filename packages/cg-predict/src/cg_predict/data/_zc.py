"""NAS-Bench-Suite-Zero JSON files (NASLib ``naslib/data/zc_nasbench{101,201,301}.json``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeGuard

from cg_predict.data._cache import memoized_table
from cg_predict.data._paths import benchmark_file
from cg_predict.data._records import ArchRecord, BenchmarkTable, check_key, check_label
from cg_predict.errors import InvalidArgumentError, MalformedDataError

__all__ = ["ZC_DATASETS", "load_zc_nasbench"]

ZC_DATASETS: Mapping[str, tuple[str, ...]] = {
    "nb101": ("cifar10",),
    "nb201": ("cifar10", "cifar100", "ImageNet16-120"),
    "nb301": ("cifar10",),
}
# The NB-101 file wraps the datasets in a search-space level; the others do not.
_WRAPPERS = ("nasbench101", "nasbench201", "nasbench301")
_LABEL = "val_accuracy"
_INFO_FIELDS = ("idx", "arch")


def load_zc_nasbench(
    family: str, dataset: str = "cifar10", data_dir: str | os.PathLike[str] | None = None
) -> BenchmarkTable:
    """Load a NAS-Bench-Suite-Zero file: validation accuracies and zero-cost proxy scores.

    Both published layouts are read: a top level ``{"nasbench101": {"cifar10": {...}}}`` or
    ``{"cifar10": {...}, ...}``, and scores as bare numbers or ``{"score": x, "time": s}``
    (the time goes to ``extra["<proxy>_time"]``). ``idx`` and ``arch`` go to ``info``.

    Args:
        family: ``"nb101"``, ``"nb201"`` or ``"nb301"``.
        dataset: one of the family's datasets (``ZC_DATASETS``); only NB-201 has three.
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).

    Returns:
        The table in file order; label = ``val_accuracy`` (%); keys are the file's NASLib keys.

    Raises:
        InvalidArgumentError: unknown family or dataset.
        BenchmarkDataError: the file is missing.
        MalformedDataError: invalid or truncated JSON, a missing dataset, a bad score or key.
        InvalidLabelError: a label is missing, NaN or outside [0, 100].
    """
    if family not in ZC_DATASETS:
        msg = f"NAS-Bench-Suite-Zero has no family {family!r}; valid: {', '.join(ZC_DATASETS)}"
        raise InvalidArgumentError(msg)
    if dataset not in ZC_DATASETS[family]:
        valid = ", ".join(ZC_DATASETS[family])
        msg = f"NAS-Bench-Suite-Zero {family} has no dataset {dataset!r}; valid: {valid}"
        raise InvalidArgumentError(msg)
    name = f"zc-{family}"
    path = benchmark_file(name, data_dir)
    return memoized_table(path, (name, dataset), partial(_parse, path, name, family, dataset))


def _parse(path: Path, name: str, family: str, dataset: str) -> BenchmarkTable:
    archs = _dataset_section(_read_json(path), dataset, str(path))
    records = tuple(
        _record(family, dataset, key, fields, str(path)) for key, fields in archs.items()
    )
    return BenchmarkTable(name, family, dataset, _LABEL, str(path), records)


def _read_json(path: Path) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # json.load would silently keep the last of two equal keys and hide a broken file.
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                msg = f"{path}: duplicate JSON key {key!r}; each architecture must appear once"
                raise MalformedDataError(msg, path)
            obj[key] = value
        return obj

    try:
        with path.open("rb") as f:
            return json.load(f, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as e:
        msg = (
            f"{path}: invalid JSON at line {e.lineno} column {e.colno} (char {e.pos}): {e.msg}; "
            "the file is truncated or corrupt, fetch it again"
        )
        raise MalformedDataError(msg, path) from e
    except UnicodeDecodeError as e:
        raise MalformedDataError(f"{path}: not UTF-8 text ({e})", path) from e


def _dataset_section(top: Any, dataset: str, path: str) -> Mapping[str, Any]:
    if not isinstance(top, dict):
        raise MalformedDataError(f"{path}: top level is {type(top).__name__}, not an object", path)
    wrapped = [w for w in _WRAPPERS if w in top]
    if wrapped:
        if len(top) != 1:
            msg = f"{path}: top-level key {wrapped[0]!r} must be the only one, found {list(top)}"
            raise MalformedDataError(msg, path)
        top = top[wrapped[0]]
        if not isinstance(top, dict):
            raise MalformedDataError(f"{path}: {wrapped[0]!r} does not hold an object", path)
    if dataset not in top:
        msg = f"{path}: no dataset {dataset!r} in the file; it has {', '.join(map(str, top))}"
        raise MalformedDataError(msg, path)
    section = top[dataset]
    if not isinstance(section, dict) or not section:
        raise MalformedDataError(f"{path}: dataset {dataset!r} holds no architectures", path)
    return section


def _record(family: str, dataset: str, key: str, fields: Any, path: str) -> ArchRecord:
    where = f"dataset {dataset!r}"
    check_key(family, key, path=path, where=where)
    if not isinstance(fields, dict):
        msg = f"{path}: {where}: architecture {key!r} holds {type(fields).__name__}, not an object"
        raise MalformedDataError(msg, path)
    if _LABEL not in fields:
        msg = f"{path}: {where}: architecture {key!r} has no {_LABEL!r} field"
        raise MalformedDataError(msg, path)
    label = check_label(fields[_LABEL], key=key, field_name=_LABEL, path=path)
    proxies: dict[str, float] = {}
    extra: dict[str, float] = {}
    info: dict[str, str] = {}
    for name, value in fields.items():
        if name == _LABEL:
            continue
        if name in _INFO_FIELDS:
            info[name] = str(value)
            continue
        score, seconds = _score(value)
        if score is None or math.isnan(score):
            msg = (
                f"{path}: {where}: architecture {key!r}, proxy {name!r} is {value!r}; expected "
                'a number or {"score": number, "time": seconds}'
            )
            raise MalformedDataError(msg, path)
        proxies[name] = score
        if seconds is not None:
            extra[f"{name}_time"] = seconds
    if "arch" in info and info["arch"] != key:
        msg = f"{path}: {where}: architecture {key!r} has a different 'arch' {info['arch']!r}"
        raise MalformedDataError(msg, path)
    return ArchRecord(family, key, dataset, label, _LABEL, proxies, extra, info)


def _score(value: Any) -> tuple[float | None, float | None]:
    """(score, time) of a bare-number or ``{"score": x, "time": t}`` entry; None when invalid."""
    if isinstance(value, dict):
        score, seconds = value.get("score"), value.get("time")
        if not _is_number(score) or (seconds is not None and not _is_number(seconds)):
            return None, None
        return float(score), None if seconds is None else float(seconds)
    if _is_number(value):
        return float(value), None
    return None, None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
