"""Computation graphs as packed tensors: fast batching and an on-disk cache per family.

A :class:`GraphSet` holds many graphs in flat arrays (node features, op ids and per-graph local
edges, with CSR-style offsets), so a batch of any graphs is built by a few vectorised gathers
instead of one ``Data`` object per graph. ``family_graphs`` builds the set of a family's
architectures with the family's structural fast path (``cg_ir.families.get(f).to_cg``) and
caches it under ``$CGNAS_CACHE_DIR`` (default ``~/.cache/cgnas``). Every cached graph set (also
the evaluation cells' and cg-contrast's pools) goes through ``cached_graph_set``: a file is
named by its configuration and records ``cg_ir.provenance.cache_key`` of that configuration and
of the code that built it (cg-ir's sources and this module by default), the cg-ir, feature-schema
and vocabulary versions included; a file built by other code or another version is rebuilt and
replaced, never reused. Writes are atomic.

Every packed graph also gets a row of graph-level cost features (``GRAPH_FEATURES``,
``GraphSet.graph_x``), which a head may read beside the GNN embedding
(``HeadConfig.graph_features``): each feature twice, with the fixed scaling and standardised
within the set the graph was packed in (``GRAPH_FEATURE_SCALINGS``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch_geometric.data import Batch
from tqdm.auto import tqdm

import cg_ir
from cg_ir import ComputationGraph, Node, atomic_output
from cg_ir.features import FEATURE_COLUMNS, FEATURE_SCHEMA_VERSION, node_features, op_ids
from cg_ir.provenance import cache_key
from cg_predict.errors import InvalidArgumentError

__all__ = [
    "CACHE_DIR_ENV",
    "GRAPH_CODE",
    "GRAPH_FEATURES",
    "GRAPH_FEATURE_SCALINGS",
    "GraphSet",
    "cache_dir",
    "cached_graph_set",
    "family_graphs",
    "graph_feature_column",
    "graph_features",
    "operator_depth",
    "set_standardised",
]

CACHE_DIR_ENV = "CGNAS_CACHE_DIR"
_CACHE_FORMAT = 4  # bump when the layout of the cache files changes (3: graph_x, 4: set)
# the code a packed graph set depends on: cg-ir (graphs, features) and this module (packing)
GRAPH_CODE: tuple[str, ...] = ("cg_ir", "cg_predict.graphs")
_EXTRA = "extra_"  # prefix of a cache file's extra arrays (costs, spectra, ...)

IntArray = npt.NDArray[np.int64]

GRAPH_FEATURES: tuple[str, ...] = ("log_flops", "log_params", "depth", "log_nodes")
"""The graph-level cost features of every packed graph (``GraphSet.graph_x``), in column order.

The scaling is fixed, the same for every family (no statistics of any family's graphs or
labels), and puts the NAS-Bench and ImageNet families within about [-2, 3]:

* ``log_flops``: ``log10(1 + FLOPs) - 8`` (FLOPs at batch size 1, ``ComputationGraph.flops``);
* ``log_params``: ``log10(1 + params) - 6``;
* ``depth``: operator nodes on the longest input-to-output path (``operator_depth``) / 100;
* ``log_nodes``: ``log10(number of nodes) - 2``.

Logarithms are shifted rather than divided (``log10(x) / 10`` would also be O(1)): within a
family the costs span about one decade, and a shift keeps that spread at about 1, where an
MLP trained for a few hundred Adam steps can use it; divided by 10 it would be about 0.1.
"""

GRAPH_FEATURE_SCALINGS: tuple[str, ...] = ("fixed", "set")
"""The two scalings of every graph feature, the two halves of ``GraphSet.graph_x``'s columns.

* ``"fixed"``: the scaling of ``GRAPH_FEATURES``, the same for every graph (absolute cost);
* ``"set"``: those values standardised within the set the graph was packed in
  (``set_standardised``): the graph's cost relative to the other graphs of its set. A set
  packed from one family's graphs (``GraphSet.from_graphs``) thus holds costs relative to
  that family, whose absolute range (32px NAS-Bench cells, 224px ImageNet networks, ...) a
  model trained on other families has never seen. The statistics use no labels.
"""

# sources (the input, a network's own tensors) and the output marker are not operators
_NOT_OPERATORS = frozenset({"input", "parameter", "constant", "output"})


class _Featurizer:
    """``node_features``/``op_ids`` with a table of the distinct nodes seen so far.

    Graphs of one family repeat the same few hundred distinct nodes (family fast paths even
    share the ``Node`` objects), so after the first graphs every node is a dictionary hit and
    featurising costs one lookup per node. The numbers are those of ``cg_ir.features``
    exactly: rows are copied from its output.
    """

    def __init__(self) -> None:
        # by identity first (cheapest); the table keeps every node it saw alive, so an id
        # cannot be reused by another object while the featurizer exists
        self._by_id: dict[int, int] = {}
        self._by_features: dict[tuple[object, ...], int] = {}
        self._alive: list[Node] = []
        self._x: list[npt.NDArray[np.float32]] = []
        self._op: list[int] = []

    def rows(self, graph: ComputationGraph) -> list[int]:
        """The table row of every node of ``graph``."""
        by_id = self._by_id
        try:
            return [by_id[i] for i in map(id, graph.nodes)]
        except KeyError:
            pass
        x, op = node_features(graph), op_ids(graph)
        for i, node in enumerate(graph.nodes):
            if id(node) in by_id:
                continue
            key = node[:-1]  # every field but the name
            if key not in self._by_features:
                self._by_features[key] = len(self._x)
                self._x.append(x[i])
                self._op.append(int(op[i]))
            by_id[id(node)] = self._by_features[key]
            self._alive.append(node)
        return [by_id[i] for i in map(id, graph.nodes)]

    def tables(self) -> tuple[npt.NDArray[np.float32], IntArray]:
        """The distinct rows: float features and op ids."""
        width = len(FEATURE_COLUMNS)
        x = np.stack(self._x) if self._x else np.zeros((0, width), np.float32)
        return x.astype(np.float32), np.asarray(self._op, dtype=np.int64)


def operator_depth(graph: ComputationGraph) -> int:
    """The number of operator nodes on the longest path of ``graph``.

    Operator nodes are all but ``input``, ``parameter``, ``constant`` and ``output``.

    Examples:
        >>> from cg_ir import ComputationGraph, Node
        >>> s = (3, 8, 8)
        >>> g = ComputationGraph([Node("input", s, s), Node("relu", s, s), Node("tanh", s, s),
        ...                       Node("add", s, s), Node("output", s, s)],
        ...                      [(0, 1), (1, 2), (0, 3), (2, 3), (3, 4)])
        >>> operator_depth(g)  # input -> relu -> tanh -> add -> output
        3
    """
    depth: list[int] = []
    # nodes are in topological order: every predecessor's depth is known when a node is reached
    for i, node in enumerate(graph.nodes):
        below = max((depth[p] for p in graph.predecessors(i)), default=0)
        depth.append(below + (node.op not in _NOT_OPERATORS))
    return max(depth)


def graph_features(graph: ComputationGraph) -> npt.NDArray[np.float32]:
    """The ``GRAPH_FEATURES`` row of ``graph``, scaled as documented there.

    Examples:
        >>> from cg_ir import ComputationGraph, Node
        >>> s = (3, 8, 8)
        >>> g = ComputationGraph([Node("input", s, s), Node("relu", s, s), Node("output", s, s)],
        ...                      [(0, 1), (1, 2)])
        >>> [round(float(v), 4) for v in graph_features(g)]  # 192 FLOPs, 0 params, depth 1
        [-5.7144, -6.0, 0.01, -1.5229]
    """
    return np.array(
        [
            math.log10(1 + graph.flops) - 8.0,
            math.log10(1 + graph.params) - 6.0,
            operator_depth(graph) / 100.0,
            math.log10(graph.num_nodes) - 2.0,
        ],
        dtype=np.float32,
    )


def set_standardised(fixed: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """``fixed`` (``[num_graphs, len(GRAPH_FEATURES)]``) z-scored per column over its rows.

    Each column minus its mean, divided by its population standard deviation (``ddof=0``);
    a column that is constant over the rows (std 0, one graph included) is 0, as it says
    nothing about which graph is larger. No rows give no rows. Computed in float64 (identical
    float32 values then have a std of exactly 0), returned as float32.

    Examples:
        >>> fixed = np.array([[1, 5, 0, 2], [3, 5, 0, 2]], dtype=np.float32)
        >>> set_standardised(fixed).tolist()
        [[-1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    """
    values = np.asarray(fixed, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(values.shape, np.float32)
    centred = values - values.mean(axis=0)
    std = values.std(axis=0)
    spread = std > 0
    out = np.zeros_like(centred)
    out[:, spread] = centred[:, spread] / std[spread]
    return out.astype(np.float32)


def graph_feature_column(name: str, scaling: str) -> int:
    """The column of ``GraphSet.graph_x`` holding feature ``name`` with ``scaling``.

    Columns are every ``GRAPH_FEATURES`` name with the ``"fixed"`` scaling, then every name
    again with the ``"set"`` scaling (``GRAPH_FEATURE_SCALINGS``).

    Raises:
        InvalidArgumentError: an unknown feature name or scaling.

    Examples:
        >>> graph_feature_column("depth", "fixed"), graph_feature_column("depth", "set")
        (2, 6)
    """
    if name not in GRAPH_FEATURES or scaling not in GRAPH_FEATURE_SCALINGS:
        raise InvalidArgumentError(
            f"no graph feature {name!r} with scaling {scaling!r}; features: {GRAPH_FEATURES}, "
            f"scalings: {GRAPH_FEATURE_SCALINGS}"
        )
    return GRAPH_FEATURE_SCALINGS.index(scaling) * len(GRAPH_FEATURES) + GRAPH_FEATURES.index(name)


def _ranges(starts: IntArray, counts: IntArray) -> IntArray:
    """Concatenation of ``arange(s, s + c)`` for every (s, c), vectorised."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(total, dtype=np.int64) - offsets)


class GraphSet:
    """Many computation graphs packed into flat arrays.

    Attributes:
        x: ``[total_nodes, len(FEATURE_COLUMNS)]`` float32 node features.
        op: ``[total_nodes]`` op ids.
        edge_index: ``[2, total_edges]`` edges, numbered within their own graph.
        node_ptr: ``[num_graphs + 1]`` offsets of each graph's nodes.
        edge_ptr: ``[num_graphs + 1]`` offsets of each graph's edges.
        hashes: every graph's ``canonical_hash()`` (isomorphism class, for splits), or None
            when the set was packed without them.
        graph_x: ``[num_graphs, 2 * len(GRAPH_FEATURES)]`` float32 graph-level cost
            features (``graph_features``), first with the fixed scaling, then standardised
            within a set (``graph_feature_column``), or None when the set was made without
            them (from bare arrays, or a file saved before they existed); ``batch`` passes
            them on as ``graph_x``. Where the set-standardised half is computed:
            ``from_graphs`` standardises over the graphs it packs (pack one family's graphs
            to get statistics of that family); ``concat`` keeps each part's values, so a
            concatenation of per-family sets stays standardised per family; ``subset``
            keeps the parent's values, so a few labelled graphs keep the statistics of all
            the graphs they were drawn from.

    Examples:
        >>> from cg_ir import ComputationGraph, Node
        >>> g = ComputationGraph([Node("input", (3, 8, 8), (3, 8, 8)),
        ...                       Node("relu", (3, 8, 8), (3, 8, 8)),
        ...                       Node("output", (3, 8, 8), (3, 8, 8))], [(0, 1), (1, 2)])
        >>> gs = GraphSet.from_graphs([g, g])
        >>> len(gs), gs.batch([1, 0]).num_graphs, gs.batch().edge_index.tolist()
        (2, 2, [[0, 1, 3, 4], [1, 2, 4, 5]])
    """

    def __init__(
        self,
        x: npt.NDArray[np.float32],
        op: IntArray,
        edge_index: IntArray,
        node_ptr: IntArray,
        edge_ptr: IntArray,
        hashes: Sequence[str] | npt.NDArray[np.str_] | None = None,
        graph_x: npt.NDArray[np.float32] | None = None,
    ) -> None:
        self.hashes = None if hashes is None else np.asarray(hashes, dtype=str)
        self.graph_x = None if graph_x is None else np.ascontiguousarray(graph_x, np.float32)
        self.x = np.ascontiguousarray(x, dtype=np.float32)
        self.op = np.ascontiguousarray(op, dtype=np.int64)
        self.edge_index = np.ascontiguousarray(edge_index, dtype=np.int64).reshape(2, -1)
        self.node_ptr = np.ascontiguousarray(node_ptr, dtype=np.int64)
        self.edge_ptr = np.ascontiguousarray(edge_ptr, dtype=np.int64)
        n, e = int(self.node_ptr[-1]), int(self.edge_ptr[-1])
        if (
            len(self.node_ptr) != len(self.edge_ptr)
            or self.x.shape != (n, len(FEATURE_COLUMNS))
            or self.op.shape != (n,)
            or self.edge_index.shape[1] != e
            or (self.hashes is not None and self.hashes.shape != (len(self.node_ptr) - 1,))
            or (
                self.graph_x is not None
                and self.graph_x.shape != (len(self.node_ptr) - 1, 2 * len(GRAPH_FEATURES))
            )
        ):
            graph_shape = None if self.graph_x is None else self.graph_x.shape
            raise InvalidArgumentError(
                f"inconsistent GraphSet arrays: x {self.x.shape}, op {self.op.shape}, edge_index "
                f"{self.edge_index.shape}, graph_x {graph_shape}, {len(self.node_ptr) - 1} graphs "
                f"with {n} nodes and {e} edges; expected {len(FEATURE_COLUMNS)} feature columns "
                f"and 2 * {len(GRAPH_FEATURES)} graph feature columns (fixed, then set scaling)"
            )

    @classmethod
    def from_graphs(
        cls,
        graphs: Iterable[ComputationGraph],
        *,
        progress: bool = False,
        total: int | None = None,
        hashes: bool = False,
    ) -> GraphSet:
        """Pack ``graphs`` (features exactly as ``cg_ir.features`` computes them).

        Every graph's ``graph_features`` row is recorded too, beside the same row standardised
        over all of ``graphs`` (``set_standardised``); with ``hashes``, also every graph's
        ``canonical_hash()``.
        """
        digests: list[str] | None = [] if hashes else None
        featurizer = _Featurizer()
        rows: list[int] = []
        edges: list[int] = []  # flat (src, dst, src, dst, ...): one numpy conversion at the end
        node_counts: list[int] = []
        edge_counts: list[int] = []
        graph_rows: list[npt.NDArray[np.float32]] = []
        for g in tqdm(graphs, total=total, disable=not progress, desc="graphs", unit="cg"):
            rows += featurizer.rows(g)
            edges.extend(chain.from_iterable(g.edges))
            node_counts.append(g.num_nodes)
            edge_counts.append(g.num_edges)
            graph_rows.append(graph_features(g))
            if digests is not None:
                digests.append(g.canonical_hash())
        table_x, table_op = featurizer.tables()
        fixed = (
            np.stack(graph_rows) if graph_rows else np.zeros((0, len(GRAPH_FEATURES)), np.float32)
        )
        flat = np.array(rows, dtype=np.int64)
        edge_index = np.array(edges, dtype=np.int64).reshape(-1, 2).T
        zero = np.zeros(1, np.int64)
        return cls(
            table_x[flat],
            table_op[flat],
            edge_index,
            np.concatenate([zero, np.cumsum(node_counts, dtype=np.int64)]),
            np.concatenate([zero, np.cumsum(edge_counts, dtype=np.int64)]),
            digests,
            np.concatenate([fixed, set_standardised(fixed)], axis=1),
        )

    @staticmethod
    def concat(sets: Sequence[GraphSet]) -> GraphSet:
        """One set with the graphs of ``sets`` in order.

        Hashes and graph features are kept if every set has them. Set-standardised features
        are each part's own, not recomputed over the concatenation: concatenated per-family
        sets stay standardised per family.
        """
        if not sets:
            raise InvalidArgumentError("GraphSet.concat needs at least one set")

        def ptrs(name: str) -> IntArray:
            parts, base = [np.zeros(1, np.int64)], 0
            for s in sets:
                ptr = getattr(s, name)
                parts.append(ptr[1:] + base)
                base += int(ptr[-1])
            return np.concatenate(parts)

        return GraphSet(
            np.concatenate([s.x for s in sets]),
            np.concatenate([s.op for s in sets]),
            np.concatenate([s.edge_index for s in sets], axis=1),
            ptrs("node_ptr"),
            ptrs("edge_ptr"),
            None
            if any(s.hashes is None for s in sets)
            else np.concatenate([s.hashes for s in sets]),
            None
            if any(s.graph_x is None for s in sets)
            else np.concatenate([s.graph_x for s in sets]),
        )

    def __len__(self) -> int:
        return len(self.node_ptr) - 1

    def __repr__(self) -> str:
        return f"GraphSet(num_graphs={len(self)}, num_nodes={len(self.x)})"

    def graph_feature(self, name: str, scaling: str = "fixed") -> npt.NDArray[np.float32]:
        """Every graph's graph-level feature ``name`` (e.g. ``"log_flops"``) with ``scaling``.

        Raises:
            InvalidArgumentError: an unknown feature or scaling, or a set packed without graph
                features (from bare arrays, or a file saved before they existed).

        Examples:
            >>> from cg_ir import ComputationGraph, Node
            >>> g = ComputationGraph([Node("input", (3, 8, 8), (3, 8, 8)),
            ...                       Node("relu", (3, 8, 8), (3, 8, 8)),
            ...                       Node("output", (3, 8, 8), (3, 8, 8))], [(0, 1), (1, 2)])
            >>> GraphSet.from_graphs([g]).graph_feature("depth").shape
            (1,)
        """
        column = graph_feature_column(name, scaling)
        if self.graph_x is None:
            raise InvalidArgumentError(
                f"this GraphSet has no graph features ({name!r} asked): pack the graphs with "
                "GraphSet.from_graphs"
            )
        return self.graph_x[:, column]

    def _index(self, indices: Sequence[int] | npt.ArrayLike | None) -> IntArray:
        if indices is None:
            return np.arange(len(self), dtype=np.int64)
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"graph index out of range for a GraphSet of {len(self)} graphs")
        return idx % max(len(self), 1)

    def subset(self, indices: Sequence[int] | npt.ArrayLike) -> GraphSet:
        """A new set with the graphs at ``indices``, in that order.

        Set-standardised graph features are this set's values, not recomputed over the subset.
        """
        idx = self._index(indices)
        nodes = self.node_ptr[idx + 1] - self.node_ptr[idx]
        edges = self.edge_ptr[idx + 1] - self.edge_ptr[idx]
        node_sel = _ranges(self.node_ptr[idx], nodes)
        edge_sel = _ranges(self.edge_ptr[idx], edges)
        zero = np.zeros(1, np.int64)
        return GraphSet(
            self.x[node_sel],
            self.op[node_sel],
            self.edge_index[:, edge_sel],
            np.concatenate([zero, np.cumsum(nodes)]),
            np.concatenate([zero, np.cumsum(edges)]),
            None if self.hashes is None else self.hashes[idx],
            None if self.graph_x is None else self.graph_x[idx],
        )

    def batch(
        self,
        indices: Sequence[int] | npt.ArrayLike | None = None,
        device: str | torch.device = "cpu",
    ) -> Batch:
        """A PyG ``Batch`` of the graphs at ``indices`` (all by default), in that order.

        It holds ``x``, ``op``, ``edge_index``, ``batch`` and ``ptr``, and ``graph_x``
        (``[num_graphs, 2 * len(GRAPH_FEATURES)]``) when the set has graph features.
        """
        idx = self._index(indices)
        nodes = self.node_ptr[idx + 1] - self.node_ptr[idx]
        edges = self.edge_ptr[idx + 1] - self.edge_ptr[idx]
        node_sel = _ranges(self.node_ptr[idx], nodes)
        edge_sel = _ranges(self.edge_ptr[idx], edges)
        node_offset = np.cumsum(nodes) - nodes
        edge_index = self.edge_index[:, edge_sel] + np.repeat(node_offset, edges)
        ptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(nodes)])
        out = Batch(
            x=torch.from_numpy(self.x[node_sel]),
            op=torch.from_numpy(self.op[node_sel]),
            edge_index=torch.from_numpy(edge_index),
            batch=torch.from_numpy(np.repeat(np.arange(len(idx), dtype=np.int64), nodes)),
            ptr=torch.from_numpy(ptr),
        )
        if self.graph_x is not None:
            out.graph_x = torch.from_numpy(self.graph_x[idx])
        return out.to(device)

    def batches(
        self,
        batch_size: int,
        *,
        order: Sequence[int] | npt.ArrayLike | None = None,
        device: str | torch.device = "cpu",
    ) -> Iterator[tuple[IntArray, Batch]]:
        """``(indices, batch)`` pairs covering ``order`` (default: all graphs in order)."""
        if batch_size < 1:
            raise InvalidArgumentError(f"batch_size={batch_size} must be at least 1")
        idx = self._index(order)
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            yield chunk, self.batch(chunk, device)

    # -- persistence ----------------------------------------------------------------------
    def save(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any] | None = None,
        arrays: Mapping[str, npt.NDArray[Any]] | None = None,
    ) -> None:
        """Write the arrays, a JSON ``meta`` dict and extra ``arrays`` to ``.npz``, atomically.

        ``arrays`` (e.g. per-graph costs or spectra) come back from ``load_arrays``.
        """
        # prefixed, so that no extra name can clash with the set's own arrays
        extra = {f"{_EXTRA}{name}": np.asarray(value) for name, value in (arrays or {}).items()}
        contents: dict[str, Any] = {  # Any: numpy's stub types savez's **kwds as its bool flag
            "x": self.x,
            "op": self.op,
            "edge_index": self.edge_index,
            "node_ptr": self.node_ptr,
            "edge_ptr": self.edge_ptr,
            "hashes": np.zeros(0, str) if self.hashes is None else self.hashes,
            "has_hashes": np.array(self.hashes is not None),
            **({} if self.graph_x is None else {"graph_x": self.graph_x}),
            "meta": np.array(json.dumps(meta or {}, sort_keys=True)),
            **extra,
        }
        with atomic_output(path) as f:
            np.savez(f, **contents)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[GraphSet, dict[str, Any]]:
        """Read a file written by ``save``: the set and its meta dict (no pickle involved)."""
        gs, meta, _ = cls.load_arrays(path)
        return gs, meta

    @classmethod
    def load_arrays(
        cls, path: str | os.PathLike[str]
    ) -> tuple[GraphSet, dict[str, Any], dict[str, npt.NDArray[Any]]]:
        """Read a file written by ``save``: the set, its meta dict and its extra arrays.

        A file saved without graph features (or before they existed) gives ``graph_x=None``;
        one saved with the fixed scaling alone (before the set scaling existed) is refused
        (``InvalidArgumentError``; ``cached_graph_set`` then rebuilds its file).
        """
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            hashes = data["hashes"] if bool(data["has_hashes"]) else None
            gs = cls(
                data["x"],
                data["op"],
                data["edge_index"],
                data["node_ptr"],
                data["edge_ptr"],
                hashes,
                data["graph_x"] if "graph_x" in data.files else None,
            )
            extra = {
                name.removeprefix(_EXTRA): data[name]
                for name in data.files
                if name.startswith(_EXTRA)
            }
        return gs, meta, extra


def cache_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory of packed graph sets.

    ``directory`` if given, else ``$CGNAS_CACHE_DIR``, else ``$XDG_CACHE_HOME/cgnas``
    (``~/.cache/cgnas``).
    """
    if directory is not None:
        return Path(directory)
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cgnas"


def cached_graph_set(
    name: str,
    identity: Mapping[str, Any],
    build: Callable[[], tuple[GraphSet, dict[str, npt.NDArray[Any]]]],
    *,
    code: Sequence[str] = GRAPH_CODE,
    directory: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> tuple[GraphSet, dict[str, npt.NDArray[Any]]]:
    """``build()``'s graph set and extra arrays, cached on disk under its configuration and code.

    The one cache of packed graph sets: the file ``<name>-<digest>.npz`` in ``cache_dir`` is
    named by ``identity`` (and the cache format) and records ``cg_ir.provenance.cache_key`` of
    that, the cg-ir, feature-schema and vocabulary versions and ``code`` (the packages or
    modules ``build`` runs). A file whose key differs (built by other code or versions), or
    that cannot be read, is rebuilt and replaced; a file of this code is returned without
    calling ``build``.

    Args:
        name: the file's prefix (``"graphs-nb201"``, ``"pool"``, ...).
        identity: JSON-able configuration of the value (family, key digest, seed, ...).
        build: computes the set and any extra per-set arrays (costs, spectra, ...).
        code: what ``build`` depends on (``cg_ir.provenance.code_digest`` names); default
            ``GRAPH_CODE``, cg-ir and this module.
        directory: cache directory (see ``cache_dir``).
        use_cache: read and write the cache; False always builds and writes nothing.

    Examples:
        >>> import tempfile
        >>> from cg_ir import families
        >>> nb201 = families.get("nb201")
        >>> def build():
        ...     return GraphSet.from_graphs([nb201.to_cg(nb201.parse("(0, 1, 2, 3, 4, 0)"))]), {}
        >>> folder = tempfile.mkdtemp()
        >>> first, _ = cached_graph_set("demo", {"n": 1}, build, directory=folder)
        >>> again, _ = cached_graph_set("demo", {"n": 1}, lambda: 1 / 0, directory=folder)
        >>> len(again), bool((again.x == first.x).all())
        (1, True)
    """
    named = {**identity, "format": _CACHE_FORMAT}
    # versions and code are checked, not named: a new version or edit replaces the file
    full = {
        **named,
        "cg_ir_version": cg_ir.__version__,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "vocab_version": cg_ir.VOCAB_VERSION,
    }
    path = cache_dir(directory) / f"{name}-{cache_key(named)[:20]}.npz"
    key = cache_key(full, *code)
    if use_cache and path.exists():
        try:
            gs, meta, arrays = GraphSet.load_arrays(path)
            if meta.get("key") == key:
                return gs, arrays
        except (OSError, ValueError, KeyError):
            pass  # unreadable: rebuilt below
    gs, arrays = build()
    if use_cache:
        gs.save(path, {"key": key, "identity": full}, arrays)
    return gs, arrays


def family_graphs(
    family: str,
    keys: Sequence[str],
    *,
    directory: str | os.PathLike[str] | None = None,
    progress: bool = True,
    use_cache: bool = True,
) -> GraphSet:
    """The graphs of ``family``'s architectures ``keys``, in order, with hashes, cached on disk.

    Args:
        family: a ``cg_ir.families`` name (``"nb201"``, ...).
        keys: architecture keys in the family's encoding (``family.parse`` reads them).
        directory: cache directory (see ``cache_dir``).
        progress: show a tqdm bar while building.
        use_cache: read and write the cache; False always builds and writes nothing.

    The cache is ``cached_graph_set``'s: a file built by other cg-ir code (or this module's)
    is rebuilt.

    Raises:
        UnknownFamilyError: no such family. InvalidSpecError: a key does not parse.
    """
    keys = list(keys)
    sha = hashlib.sha256("\n".join(keys).encode()).hexdigest()

    def build() -> tuple[GraphSet, dict[str, npt.NDArray[Any]]]:
        fam = cg_ir.families.get(family)
        graphs = (fam.to_cg(fam.parse(k)) for k in keys)
        return GraphSet.from_graphs(graphs, progress=progress, total=len(keys), hashes=True), {}

    identity = {"family": family, "keys_sha256": sha, "num_graphs": len(keys)}
    gs, _ = cached_graph_set(
        f"graphs-{family}", identity, build, directory=directory, use_cache=use_cache
    )
    return gs
