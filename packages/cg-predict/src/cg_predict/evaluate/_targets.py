"""Which benchmark tables give each target and source family, as graphs, labels and proxies.

Test settings of a target (``SETTINGS``):

* ``"a"``: the NAS-Bench-Suite-Zero cells of the target (NB-101 500, NB-201 724/725/724 per
  dataset, NB-301 725), with every proxy's precomputed real-data score on exactly these cells.
  OFA-MobileNetV3 has no such table, so it has no setting (a).
* ``"b"``: large test sets, against FLOPs and params of the cg-ir graphs: NB-101 a seeded
  sample of 5,000 of the 30,001 CSV cells; NB-201 the 4,096 cells without a ``none`` edge
  (the paper's set; 200-epoch test accuracy of the chosen dataset); NB-301 all 725; OFA all
  2,223 subnets (2,162 distinct networks; twins stay together through the split);
  Channel-Bench-Macro (``cbm-mobilenet``, ``cbm-resnet``) all 16,384 width configurations of
  the space (CIFAR-10 test accuracy, mean of 3 runs; every cell its own isomorphism class).
* ``"b-all"``: NB-201 only, all 15,625 cells.

Labels a source family contributes (one dataset per family, so a family is one
standardisation group): NB-101 the 30,001-cell CSV (108-epoch CIFAR-10 validation accuracy);
NB-201 the 4,096 cells without ``none``, CIFAR-10 200-epoch test accuracy; NB-301 the 725
NAS-Bench-Suite-Zero cells (CIFAR-10); OFA-MobileNetV3 the 2,223 subnets (ImageNet top-1);
Channel-Bench-Macro the 16,384 configurations of the space.

``source_cells`` and ``target_cells`` can sample at most ``limit`` cells with ``sample_seed``,
independent of the run seeds (``ProtocolConfig`` and ``SourceTraining`` say how many and the
seed).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

import cg_ir
from cg_ir import ComputationGraph
from cg_predict.data import BenchmarkTable, load_benchmark
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import GRAPH_CODE, GraphSet, cache_dir, cached_graph_set

__all__ = [
    "DATASETS",
    "FAMILIES",
    "SETTINGS",
    "CellSet",
    "settings_of",
    "source_cells",
    "target_cells",
]

FAMILIES: tuple[str, ...] = ("nb101", "nb201", "nb301", "ofa-mbv3", "cbm-mobilenet", "cbm-resnet")
# the datasets of each target; the first is the default
DATASETS: dict[str, tuple[str, ...]] = {
    "nb101": ("cifar10",),
    "nb201": ("cifar10", "cifar100", "ImageNet16-120"),
    "nb301": ("cifar10",),
    "ofa-mbv3": ("imagenet",),
    "cbm-mobilenet": ("cifar10",),
    "cbm-resnet": ("cifar10",),
}
SETTINGS: tuple[str, ...] = ("a", "b", "b-all")
# the code the cells' cached graphs and costs depend on: the graphs' and this module (``build``)
CELLS_CODE: tuple[str, ...] = (*GRAPH_CODE, __name__)
# families whose every labelled cell is in one benchmark table of another name (the others'
# table is named after the family: ofa-mbv3, cbm-mobilenet, cbm-resnet)
_WHOLE_TABLE = {"nb301": "zc-nb301"}
NB101_TEST_CELLS = 5000

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CellSet:
    """Labelled cells of one family and dataset, with their graphs and ranking baselines.

    Attributes:
        family: the cg-ir family name.
        dataset: the dataset of the labels.
        name: where the cells come from (e.g. ``"zc-nb201"``, ``"nb201-200ep (no none)"``).
        keys: architecture keys (the benchmark file's encoding).
        labels: accuracies (%).
        graphs: the packed graphs, with canonical hashes (isomorphism classes).
        proxies: ``{name: scores}`` usable as predictors (higher = better): the benchmark's
            precomputed scores (setting a) or ``flops``/``params`` of the cg-ir graphs.
    """

    family: str
    dataset: str
    name: str
    keys: tuple[str, ...]
    labels: FloatArray
    graphs: GraphSet
    proxies: dict[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def subset(self, indices: npt.ArrayLike) -> CellSet:
        """The cells at ``indices``, in that order."""
        idx = np.asarray(indices, dtype=np.int64)
        return CellSet(
            self.family,
            self.dataset,
            self.name,
            tuple(self.keys[i] for i in idx),
            self.labels[idx],
            self.graphs.subset(idx),
            {k: v[idx] for k, v in self.proxies.items()},
        )


def settings_of(target: str) -> tuple[str, ...]:
    """The test settings a target has (see the module docstring).

    Examples:
        >>> settings_of("cbm-resnet"), settings_of("nb301")
        (('b',), ('a', 'b'))
    """
    if target not in ("nb101", "nb201", "nb301"):  # no NAS-Bench-Suite-Zero table
        return ("b",)
    if target == "nb201":
        return SETTINGS
    return ("a", "b")


def _check(family: str, dataset: str | None = None) -> None:
    if family not in FAMILIES:
        raise InvalidArgumentError(f"unknown family {family!r}; valid: {', '.join(FAMILIES)}")
    if dataset is not None and dataset not in DATASETS[family]:
        valid = ", ".join(DATASETS[family])
        raise InvalidArgumentError(f"{family} has no dataset {dataset!r}; valid: {valid}")


def _sample(n: int, limit: int | None, seed: int) -> npt.NDArray[np.int64]:
    """Sorted indices of a seeded sample of ``limit`` of ``n`` cells (all when ``limit`` allows)."""
    if limit is None or limit >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=limit, replace=False)).astype(np.int64)


def graphs_with_costs(
    family: str, keys: tuple[str, ...], *, progress: bool = True
) -> tuple[GraphSet, FloatArray, FloatArray]:
    """Packed graphs (with hashes), FLOPs and params of ``keys``, cached on disk.

    One pass builds each graph once for both; the cache (``cache_dir()/evaluate``,
    ``cached_graph_set``) is keyed by the family, the key list and the code that builds them
    (``CELLS_CODE``: cg-ir, ``cg_predict.graphs`` and this module, whose ``build`` computes
    the costs): graphs and costs built by other code are rebuilt.
    """

    def build() -> tuple[GraphSet, dict[str, npt.NDArray[Any]]]:
        fam = cg_ir.families.get(family)
        flops: list[float] = []
        params: list[float] = []

        def graphs() -> Iterator[ComputationGraph]:
            for key in keys:
                g = fam.to_cg(fam.parse(key))
                flops.append(float(g.flops))
                params.append(float(g.params))
                yield g

        bar = tqdm(
            graphs(), total=len(keys), disable=not progress, desc=f"{family} graphs", unit="cg"
        )
        gs = GraphSet.from_graphs(bar, hashes=True)
        return gs, {"flops": np.asarray(flops), "params": np.asarray(params)}

    sha = hashlib.sha256("\n".join(keys).encode()).hexdigest()
    gs, costs = cached_graph_set(
        f"cells-{family}",
        {"family": family, "keys_sha256": sha, "num_graphs": len(keys)},
        build,
        code=CELLS_CODE,
        directory=cache_dir() / "evaluate",
    )
    return gs, np.asarray(costs["flops"], float), np.asarray(costs["params"], float)


def _cells(
    table: BenchmarkTable,
    name: str,
    indices: npt.NDArray[np.int64],
    *,
    table_proxies: bool,
    progress: bool,
) -> CellSet:
    keys = tuple(table.keys[i] for i in indices)
    gs, flops, params = graphs_with_costs(table.family, keys, progress=progress)
    if table_proxies:
        proxies = {p: table.proxy(p)[indices] for p in table.proxy_names}
    else:
        proxies = {"flops": flops, "params": params}
    return CellSet(table.family, table.dataset, name, keys, table.labels()[indices], gs, proxies)


def _no_none(table: BenchmarkTable) -> npt.NDArray[np.int64]:
    """Indices of the NB-201 cells without a ``none`` edge (op id 1): the paper's 4,096."""
    return np.array(
        [i for i, k in enumerate(table.keys) if "1" not in k.strip("()").split(", ")],
        dtype=np.int64,
    )


def target_cells(
    target: str,
    dataset: str,
    setting: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    sample_seed: int,
    progress: bool = True,
) -> CellSet:
    """The labelled cells a target is tested on in ``setting`` (see the module docstring).

    ``limit`` caps a large test set (settings b and b-all) to a sample drawn with
    ``sample_seed``; setting a is always whole.

    Raises:
        InvalidArgumentError: unknown target, dataset or setting, or a setting the target
            does not have.
    """
    _check(target, dataset)
    if setting not in settings_of(target):
        raise InvalidArgumentError(
            f"{target} has no test setting {setting!r}; valid: {', '.join(settings_of(target))}"
        )
    if setting == "a":
        table = load_benchmark(f"zc-{target}", data_dir, dataset=dataset)
        return _cells(
            table,
            table.name,
            _sample(len(table), None, sample_seed),
            table_proxies=True,
            progress=progress,
        )
    if target == "nb101":
        table = load_benchmark("nb101-30k", data_dir)
        size = NB101_TEST_CELLS if limit is None else min(limit, NB101_TEST_CELLS)
        return _cells(
            table,
            table.name,
            _sample(len(table), size, sample_seed),
            table_proxies=False,
            progress=progress,
        )
    if target == "nb201":
        table = load_benchmark("nb201-200ep", data_dir, dataset=dataset)
        base = _no_none(table) if setting == "b" else np.arange(len(table), dtype=np.int64)
        name = "nb201-200ep (no none)" if setting == "b" else "nb201-200ep (all)"
        return _cells(
            table,
            name,
            base[_sample(len(base), limit, sample_seed)],
            table_proxies=False,
            progress=progress,
        )
    table = load_benchmark(_WHOLE_TABLE.get(target, target), data_dir)
    return _cells(
        table,
        table.name,
        _sample(len(table), limit, sample_seed),
        table_proxies=False,
        progress=progress,
    )


def source_cells(
    family: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    limit: int | None = None,
    sample_seed: int,
    progress: bool = True,
) -> CellSet:
    """The labelled cells a source family contributes (one dataset; module docstring).

    Args:
        family: the source family.
        data_dir: the data directory (default ``$CGNAS_DATA_DIR``).
        limit: at most this many cells (a seeded sample; ``SourceTraining.cells``).
        sample_seed: seeds that sample (``SourceTraining.sample_seed``).
        progress: show a progress bar while building graphs.
    """
    _check(family)
    if family == "nb101":
        table = load_benchmark("nb101-30k", data_dir)
        base = np.arange(len(table), dtype=np.int64)
        name = table.name
    elif family == "nb201":
        table = load_benchmark("nb201-200ep", data_dir, dataset="cifar10")
        base = _no_none(table)
        name = "nb201-200ep (no none)"
    else:
        table = load_benchmark(_WHOLE_TABLE.get(family, family), data_dir)
        base = np.arange(len(table), dtype=np.int64)
        name = table.name
    return _cells(
        table,
        name,
        base[_sample(len(base), limit, sample_seed)],
        table_proxies=False,
        progress=progress,
    )


def cache_path_hint() -> Path:
    """Where graphs of evaluation cells are cached."""
    return cache_dir() / "evaluate"
