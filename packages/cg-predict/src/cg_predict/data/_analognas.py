"""AnalogNAS-Bench (PyPI ``analog-nasbench``): 15,625 NB-201 cells with CIFAR-10 accuracy.

The package's own module imports the deprecated ``pkg_resources`` and unpickles its data with
``pickle.load``. We import neither: the data file is found through the import system's spec
(which does not run the package) and read with an unpickler that admits exactly the two
record classes the file refers to, mapped to local stand-ins; any other global is refused.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import math
import os
import pickle
from functools import partial
from pathlib import Path
from typing import Any

from cg_predict.data._cache import memoized_table
from cg_predict.data._records import ArchRecord, BenchmarkTable, check_label
from cg_predict.errors import BenchmarkDataError, MalformedDataError

__all__ = ["ANALOGNAS_ACCURACIES", "analognas_data_file", "load_analognas_nb201"]

_PACKAGE = "analognasbench"
_DISTRIBUTION = "analog-nasbench"
_DATA_FILE = "data.anb"
ANALOGNAS_ACCURACIES: tuple[str, ...] = (
    "baseline_accuracy",
    "ptq_accuracy",
    "qat_accuracy",
    "noisy_accuracy",
    "analog_accuracy",
)


class _Architecture:
    """Stand-in for ``analognasbench.data.Architecture``: a bag of attributes, no behaviour."""


class _DriftMeasurement:
    """Stand-in for ``analognasbench.data.DriftMeasurement`` (``value``, ``uncertainty``)."""


_ADMITTED: dict[tuple[str, str], type] = {
    ("analognasbench.data", "Architecture"): _Architecture,
    ("analognasbench.data", "DriftMeasurement"): _DriftMeasurement,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the two AnalogNAS-Bench record classes, to the local stand-ins."""

    def __init__(self, file: io.BufferedReader, path: Path) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            admitted = ", ".join(f"{m}.{n}" for m, n in _ADMITTED)
            msg = (
                f"{self._path}: the pickle refers to {module}.{name}, which is not one of the "
                f"classes an AnalogNAS-Bench data file may contain ({admitted}); "
                "refusing to load it"
            )
            raise MalformedDataError(msg, self._path) from None

    def persistent_load(self, pid: Any) -> Any:
        msg = f"{self._path}: the pickle uses persistent ids, which AnalogNAS-Bench never does"
        raise MalformedDataError(msg, self._path)


def analognas_data_file() -> Path:
    """The ``data.anb`` file inside the installed ``analog-nasbench`` package.

    Raises:
        BenchmarkDataError: the package is not installed or lacks its data file.
    """
    # find_spec on a top-level name locates the package without executing its __init__.
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / _DATA_FILE
        if candidate.is_file():
            return candidate
    where = ", ".join(locations) or "not installed"
    msg = (
        f"AnalogNAS-Bench data file {_DATA_FILE} not found (package {_PACKAGE}: {where}); "
        f"install it with `pip install {_DISTRIBUTION}` (PyPI) in this environment"
    )
    raise BenchmarkDataError(msg, Path(locations[0]) / _DATA_FILE if locations else None)


def load_analognas_nb201(path: str | os.PathLike[str] | None = None) -> BenchmarkTable:
    """Load AnalogNAS-Bench: every NB-201 cell with its digitally trained CIFAR-10 accuracy.

    Keys are NASLib 6-tuples: the package keys its records by the same op-id tuple (checked:
    Spearman 0.979 with ``zc_nasbench201.json`` CIFAR-10 ``val_accuracy`` over the 724 shared
    cells, 0.991 with the NB-201 200-epoch CSV over all 15,625).

    Args:
        path: a ``data.anb`` file; default: the one in the installed ``analog-nasbench``.

    Returns:
        The table (family ``"nb201"``, dataset ``"cifar10"``, label ``baseline_accuracy``, sorted
        by key); ``extra`` holds the other accuracies (``ptq_accuracy``, ``qat_accuracy``,
        ``noisy_accuracy``, ``analog_accuracy``). The analog drift measurements are not loaded.

    Raises:
        BenchmarkDataError: the package or file is missing.
        MalformedDataError: the file is not a pickle of the expected records, or refers to any
            class besides the two admitted ones.
        InvalidLabelError: a ``baseline_accuracy`` is NaN or outside [0, 100].
    """
    file = analognas_data_file() if path is None else Path(path)
    if not file.is_file():
        msg = f"AnalogNAS-Bench data file {file} does not exist"
        raise BenchmarkDataError(msg, file)
    source = _source(file) if path is None else str(file)
    return memoized_table(file, ("analognas-nb201", source), partial(_parse, file, source))


def _parse(file: Path, source: str) -> BenchmarkTable:
    try:
        with file.open("rb") as f:
            data = _RestrictedUnpickler(f, file).load()
    except MalformedDataError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        IndexError,
        KeyError,
        TypeError,
        ValueError,
        OverflowError,
    ) as e:  # what a truncated or corrupt pickle raises
        msg = f"{file}: not a readable AnalogNAS-Bench pickle ({type(e).__name__}: {e})"
        raise MalformedDataError(msg, file) from e
    if not isinstance(data, dict):
        msg = f"{file}: top level is {type(data).__name__}, expected a dict of architectures"
        raise MalformedDataError(msg, file)
    # Sorted by key (one-digit ids: string order is tuple order) so the order is documented.
    records = sorted((_record(arch, value, file) for arch, value in data.items()), key=_by_key)
    return BenchmarkTable(
        "analognas-nb201", "nb201", "cifar10", "baseline_accuracy", source, tuple(records)
    )


def _by_key(record: ArchRecord) -> str:
    return record.key


def _record(arch: Any, value: Any, file: Path) -> ArchRecord:
    if not (
        isinstance(arch, tuple)
        and len(arch) == 6
        and all(type(op) is int and 0 <= op <= 4 for op in arch)
    ):
        msg = f"{file}: architecture key {arch!r} is not a 6-tuple of NB-201 op ids 0-4"
        raise MalformedDataError(msg, file)
    key = str(arch)
    fields = getattr(value, "__dict__", None)
    if not isinstance(value, _Architecture) or fields is None:
        msg = f"{file}: architecture {key} holds {type(value).__name__}, not an Architecture"
        raise MalformedDataError(msg, file)
    if fields.get("architecture") != arch:
        msg = f"{file}: architecture {key} stores a different 'architecture' field"
        raise MalformedDataError(msg, file)
    label = check_label(
        fields.get("baseline_accuracy"), key=key, field_name="baseline_accuracy", path=str(file)
    )
    extra = {name: _number(fields, name, key, file) for name in ANALOGNAS_ACCURACIES[1:]}
    return ArchRecord("nb201", key, "cifar10", label, "baseline_accuracy", extra=extra)


def _number(fields: dict[str, Any], name: str, key: str, file: Path) -> float:
    value = fields.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        msg = f"{file}: architecture {key}: field {name!r} is {value!r}, not a number"
        raise MalformedDataError(msg, file)
    return float(value)


def _source(file: Path) -> str:
    """The file and the installed distribution's version, read from metadata (no import)."""
    try:
        version = importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return str(file)
    return f"{file} ({_DISTRIBUTION} {version})"
