"""Oracles: the real (benchmark-table) label of an architecture, as a search pays for it.

An oracle is a labelled pool: the architectures of one benchmark table, their labels and the
table's cost columns. ``ORACLES`` says which table each family and dataset reads:

============ ================================= ================================================
family       datasets                          table (labels)
============ ================================= ================================================
nb201        cifar10, cifar100, ImageNet16-120 ``nb201-200ep``: all 15,625 cells, 200-epoch test
                                               accuracy; CIFAR-10 falls back to AnalogNAS-Bench
                                               (``analognas-nb201``) where the file is absent
nb101        cifar10                           ``nb101-30k``: 30,001 cells, 108-epoch
                                               validation accuracy (one training run)
nb301        cifar10                           ``zc-nb301``: the 725 NAS-Bench-Suite-Zero cells
ofa-mbv3     imagenet                          ``ofa-mbv3``: 2,223 subnets, ImageNet top-1; its
                                               ``macs`` column is a budgetable cost
============ ================================= ================================================

Asking for an architecture outside the pool raises ``UnknownArchitectureError``: an oracle
never makes a value up.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cg_evo.errors import InvalidSearchError, UnknownArchitectureError
from cg_predict.data import BenchmarkTable, load_benchmark
from cg_predict.errors import BenchmarkDataError

__all__ = ["ORACLES", "Oracle", "load_oracle"]

FloatArray = npt.NDArray[np.float64]

# family -> {dataset: benchmark name}; the first dataset is the default
ORACLES: dict[str, dict[str, str]] = {
    "nb201": {
        "cifar10": "nb201-200ep",
        "cifar100": "nb201-200ep",
        "ImageNet16-120": "nb201-200ep",
    },
    "nb101": {"cifar10": "nb101-30k"},
    "nb301": {"cifar10": "zc-nb301"},
    "ofa-mbv3": {"imagenet": "ofa-mbv3"},
}
# benchmark table cost columns that become budgetable costs
_TABLE_COSTS = ("macs", "latency")


@dataclass(frozen=True)
class Oracle:
    """A labelled pool of one family: keys, labels and table costs, in table order.

    Attributes:
        family: the cg-ir family of every key.
        dataset: the dataset of the labels.
        benchmark: the benchmark table's name (``cg_predict.data.BENCHMARKS``).
        label_name: the table column of the labels.
        keys: architecture keys in the table's encoding.
        labels: the labels (accuracy, %).
        costs: cost columns of the table (e.g. OFA's ``macs``), one array each.
        source: the file the table was read from (for checksums).
        whole_space: whether the pool is every architecture of the family (NB-201).
    """

    family: str
    dataset: str
    benchmark: str
    label_name: str
    keys: tuple[str, ...]
    labels: FloatArray
    costs: dict[str, FloatArray] = field(default_factory=dict)
    source: str = ""
    whole_space: bool = False

    def __len__(self) -> int:
        return len(self.keys)

    def label(self, key: str) -> float:
        """The label of ``key`` (in the table's encoding).

        Raises:
            UnknownArchitectureError: the table has no such architecture.
        """
        index = self._index().get(key)
        if index is None:
            raise UnknownArchitectureError(
                f"the {self.benchmark} oracle ({self.dataset}) has no architecture {key!r}; it "
                f"knows only its {len(self)} table entries (search inside the pool, or use "
                "--objective predicted outside it)"
            )
        return float(self.labels[index])

    def _index(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_by_key")
        if cached is None:
            cached = {k: i for i, k in enumerate(self.keys)}
            object.__setattr__(self, "_by_key", cached)
        return cached

    @cached_property
    def table_digest(self) -> str:
        """SHA-256 of the oracle's table: benchmark, dataset, label column, keys, labels, costs.

        It names the label table whatever folder it was read from, so that a search resumes
        only runs labelled by the same table (NB-201 CIFAR-10 reads AnalogNAS-Bench's labels
        where no data folder holds the NB-201 table).

        Examples:
            >>> from dataclasses import replace
            >>> oracle = Oracle("nb201", "cifar10", "t", "acc", ("a", "b"), np.array([1.0, 2.0]))
            >>> oracle.table_digest == replace(oracle, source="elsewhere").table_digest
            True
            >>> oracle.table_digest == replace(oracle, labels=np.array([2.0, 1.0])).table_digest
            False
        """
        digest = hashlib.sha256()
        for text in (self.benchmark, self.dataset, self.label_name, *self.keys):
            digest.update(text.encode() + b"\0")
        digest.update(np.ascontiguousarray(self.labels, dtype=np.float64).tobytes())
        for cost, values in sorted(self.costs.items()):
            digest.update(cost.encode() + b"\0")
            digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
        return digest.hexdigest()

    @property
    def source_path(self) -> Path | None:
        """The table's file, when it is one."""
        path = Path(self.source)
        return path if self.source and path.is_file() else None


def _from_table(table: BenchmarkTable, whole_space: bool) -> Oracle:
    costs = {c: table.proxy(c) for c in _TABLE_COSTS if c in table.proxy_names}
    return Oracle(
        table.family,
        table.dataset,
        table.name,
        table.label_name,
        table.keys,
        table.labels(),
        costs,
        table.source,
        whole_space,
    )


def load_oracle(
    family: str, dataset: str | None = None, data_dir: str | os.PathLike[str] | None = None
) -> Oracle:
    """The oracle of ``family`` on ``dataset`` (default: the family's first; see ``ORACLES``).

    Raises:
        InvalidSearchError: no oracle for the family or dataset (the message lists them).
        BenchmarkDataError: the table's file is missing (the message names it and its source).
    """
    if family not in ORACLES:
        raise InvalidSearchError(
            f"no labelled pool for family {family!r} (oracles: {', '.join(ORACLES)}); search it "
            "with --objective predicted"
        )
    datasets = ORACLES[family]
    chosen = dataset or next(iter(datasets))
    if chosen not in datasets:
        raise InvalidSearchError(
            f"the {family} oracle has no dataset {chosen!r}; valid: {', '.join(datasets)}"
        )
    benchmark = datasets[chosen]
    whole_space = family == "nb201"
    try:
        table = load_benchmark(benchmark, data_dir, dataset=chosen)
    except BenchmarkDataError:
        if family != "nb201" or chosen != "cifar10":
            raise
        # no data folder: NB-201 CIFAR-10 test accuracies ship with the analog-nasbench package
        table = load_benchmark("analognas-nb201")
    return _from_table(table, whole_space)
