"""Typed benchmark records, the table that holds them, and the checks every loader applies."""

from __future__ import annotations

import functools
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from cg_predict.errors import (
    InvalidArgumentError,
    InvalidLabelError,
    MalformedDataError,
    UnknownArchitectureError,
)

__all__ = ["FAMILIES", "DATASETS", "ArchRecord", "BenchmarkTable"]

FAMILIES: tuple[str, ...] = ("nb101", "nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet")
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120", "imagenet")


@dataclass(frozen=True)
class ArchRecord:
    """One labelled architecture of a benchmark.

    Attributes:
        family: ``"nb101"``, ``"nb201"``, ``"nb301"``, ``"ofa-mbv3"``, ``"cbm-mobilenet"`` or
            ``"cbm-resnet"``.
        key: the architecture in its family's string encoding (see the data README): the NASLib
            56-tuple (NB-101 JSON) or ``"<matrix 0/1 string>|<op names pipe-joined>"`` (NB-101
            CSV), the NASLib 6-tuple (NB-201), the NASLib ``[[...], [...]]`` string (NB-301),
            ``"ks=<20 ints>|e=<20 ints>|d=<5 ints>|r=<int>"`` with comma-joined ints (OFA), 7
            digits 1-4, one width per layer, e.g. ``"4432214"`` (Channel-Bench-Macro).
        dataset: ``"cifar10"``, ``"cifar100"``, ``"ImageNet16-120"`` or ``"imagenet"``.
        label: accuracy in percent, finite and within [0, 100].
        label_name: the source column or field the label came from (e.g. ``"val_accuracy"``).
        proxies: precomputed scores usable as ranking baselines without training: zero-cost
            proxies and FLOPs/params (NAS-Bench-Suite-Zero), params (NB-101 CSV), macs and
            params (OFA). Values are as published; NB-201 ``nwot`` holds one ``-inf``.
        extra: other numeric columns (other epochs or datasets, proxy compute times, ...).
        info: non-numeric columns (NB-101 module hash, NB-201 official arch string, ...).
    """

    family: str
    key: str
    dataset: str
    label: float
    label_name: str
    proxies: Mapping[str, float] = field(default_factory=dict, hash=False)
    extra: Mapping[str, float] = field(default_factory=dict, hash=False)
    info: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # Read-only views, so a record shared between tables cannot be changed through one.
        for name in ("proxies", "extra", "info"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))


@dataclass(frozen=True)
class BenchmarkTable:
    """The records of one benchmark file for one dataset, in file order, with vectorised access.

    Attributes:
        name: the benchmark name (see ``BENCHMARKS``).
        family: the architecture family of every record.
        dataset: the dataset of every record.
        label_name: the source field of the labels.
        source: where the records came from (a file path).
        records: the records, keys unique.

    Examples:
        >>> r = ArchRecord("nb201", "(0, 2, 3, 2, 3, 1)", "cifar10", 91.2, "val_accuracy",
        ...                proxies={"synflow": 44.2})
        >>> t = BenchmarkTable("demo", "nb201", "cifar10", "val_accuracy", "memory", (r,))
        >>> len(t), t.labels().tolist(), t.proxy("synflow").tolist()
        (1, [91.2], [44.2])
        >>> t.get("(0, 2, 3, 2, 3, 1)").label
        91.2
    """

    name: str
    family: str
    dataset: str
    label_name: str
    source: str
    records: tuple[ArchRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[ArchRecord]:
        return iter(self.records)

    def __getitem__(self, index: int) -> ArchRecord:
        return self.records[index]

    @functools.cached_property
    def _by_key(self) -> Mapping[str, ArchRecord]:
        return MappingProxyType({r.key: r for r in self.records})

    @functools.cached_property
    def keys(self) -> tuple[str, ...]:
        """Architecture keys in record order (built once: callers index it per record)."""
        return tuple(r.key for r in self.records)

    def get(self, key: str) -> ArchRecord:
        """The record of ``key``.

        Raises:
            UnknownArchitectureError: (a ``KeyError``) the table has no such key; the message
                names the benchmark.
        """
        try:
            return self._by_key[key]
        except KeyError:
            message = f"{self.name} ({self.dataset}) has no architecture {key!r}"
            raise UnknownArchitectureError(message) from None

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def labels(self) -> npt.NDArray[np.float64]:
        """Labels in record order as a float64 array."""
        return np.fromiter((r.label for r in self.records), dtype=np.float64, count=len(self))

    @property
    def proxy_names(self) -> tuple[str, ...]:
        """Names of the proxies every record carries, sorted."""
        if not self.records:
            return ()
        common = set(self.records[0].proxies)
        for r in self.records[1:]:
            common.intersection_update(r.proxies)
        return tuple(sorted(common))

    def proxy(self, name: str) -> npt.NDArray[np.float64]:
        """One proxy's scores in record order; ``InvalidArgumentError`` listing the valid names."""
        if name not in self.proxy_names:
            msg = f"{self.name} has no proxy {name!r}; valid proxies: {', '.join(self.proxy_names)}"
            raise InvalidArgumentError(msg)
        return np.fromiter(
            (r.proxies[name] for r in self.records), dtype=np.float64, count=len(self)
        )


def check_label(value: object, *, key: str, field_name: str, path: str) -> float:
    """Return ``value`` as a float if it is a finite accuracy in [0, 100], else raise."""
    where = f"{path}: architecture {key!r}, label {field_name!r}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidLabelError(f"{where} is {value!r}, not a number")
    label = float(value)
    if math.isnan(label):
        raise InvalidLabelError(f"{where} is NaN; every label must be an accuracy in [0, 100]")
    if not 0.0 <= label <= 100.0:
        raise InvalidLabelError(f"{where} is {label!r}, outside the accuracy range [0, 100]")
    return label


_NB101_TUPLE = re.compile(r"\((?:[01], ){49}(?:[0-4], ){6}[0-4]\)")
_NB201_TUPLE = re.compile(r"\((?:[0-4], ){5}[0-4]\)")
_NB301_CELL = r"\[(?:\([0-5], [0-6]\), ){7}\([0-5], [0-6]\)\]"
_NB301_PAIR = re.compile(rf"\[{_NB301_CELL}, {_NB301_CELL}\]")
_OFA_KEY = re.compile(r"ks=(?:[357],){19}[357]\|e=(?:[346],){19}[346]\|d=(?:[234],){4}[234]\|r=\d+")
_NB101_OPS = frozenset({"conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"})

_KEY_FORMATS: Mapping[str, tuple[re.Pattern[str], str]] = {
    "nb101": (_NB101_TUPLE, "the NASLib 56-tuple string (49 matrix bits, then 7 op ids 0-4)"),
    "nb201": (_NB201_TUPLE, "the NASLib 6-tuple string '(a, b, c, d, e, f)' of op ids 0-4"),
    "nb301": (_NB301_PAIR, "the NASLib '[[(node, op) x 8], [(node, op) x 8]]' string"),
    "ofa-mbv3": (_OFA_KEY, "'ks=<20 of 3/5/7>|e=<20 of 3/4/6>|d=<5 of 2-4>|r=<int>'"),
}


def check_key(family: str, key: str, *, path: str, where: str) -> None:
    """Raise ``MalformedDataError`` unless ``key`` is in ``family``'s NASLib string encoding."""
    pattern, description = _KEY_FORMATS[family]
    if pattern.fullmatch(key) is None:
        msg = f"{path}: {where}: architecture key {key!r} is not {description}"
        raise MalformedDataError(msg, path)


@functools.cache
def _lower_triangle(n: int) -> Callable[[str], tuple[str, ...]]:
    """A getter of the on-and-below-diagonal characters of a row-major n x n matrix string.

    Only called for n >= 2, so it has >= 3 indices and itemgetter returns a tuple.
    """
    return operator.itemgetter(*(i * n + j for i in range(n) for j in range(i + 1)))


def nb101_matrix_ops_key(matrix: str, ops: str, *, path: str, where: str) -> str:
    """The NB-101 CSV key ``"<matrix>|<ops>"`` after checking the cell is well formed."""
    names = ops.split("|")
    n = len(names)
    problem = ""
    if len(matrix) != n * n or matrix.strip("01"):
        problem = f"matrix {matrix!r} is not {n}x{n} bits for {n} ops"
    elif n < 2 or names[0] != "input" or names[-1] != "output":
        problem = f"ops {ops!r} must start with 'input' and end with 'output'"
    elif not _NB101_OPS.issuperset(names[1:-1]):
        problem = f"ops {ops!r} use an op outside {sorted(_NB101_OPS)}"
    elif "1" in _lower_triangle(n)(matrix):
        problem = f"matrix {matrix!r} is not strictly upper triangular"
    if problem:
        raise MalformedDataError(f"{path}: {where}: {problem}", path)
    return f"{matrix}|{ops}"


class KeyTracker:
    """Remembers where each key was first seen so a duplicate names both places."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._seen: dict[str, str] = {}

    def add(self, key: str, where: str) -> None:
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = where
        else:
            msg = (
                f"{self._path}: duplicate architecture key {key!r} at {where} (first at {first}); "
                "each benchmark file must list an architecture once"
            )
            raise MalformedDataError(msg, self._path)
