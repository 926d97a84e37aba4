"""Unlabeled pools: random architectures of several families, as packed graphs with spectra.

A pool is drawn by each family's own sampler (``cg_ir.families.get(f).sample_distinct``, a
seeded ``numpy.random.Generator`` per family), converted with the family's structural fast path
(``to_cg``) and packed into a ``cg_predict.graphs.GraphSet`` with canonical hashes. Its spectra
(:mod:`cg_contrast.spectral`) are computed once and stored in the same cache file, which is
keyed by (families, per-family sizes, seed, cg-ir version, feature-schema version, vocabulary
version) under ``cg_predict.graphs.cache_dir()`` and written atomically. No labels are read:
the pool may include the target family's architectures, never their accuracies.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

import cg_ir
from cg_contrast.errors import InvalidArgumentError
from cg_contrast.spectral import K_EIGENVALUES, spectral_features
from cg_ir import atomic_output
from cg_ir.features import FEATURE_SCHEMA_VERSION
from cg_predict.graphs import GraphSet, cache_dir

__all__ = ["DEFAULT_FAMILIES", "Pool", "family_sizes", "unlabeled_pool"]

DEFAULT_FAMILIES = ("nb101", "nb201", "nb301", "ofa-mbv3", "resnet")
_POOL_FORMAT = 1  # bump when the cache layout changes


@dataclass
class Pool:
    """An unlabeled pool.

    Attributes:
        graphs: the packed graphs (with canonical hashes).
        families: ``[len(graphs)]`` family name of every graph.
        spectra: ``[len(graphs), k]`` normalized-Laplacian spectra.
        keys: every graph's architecture key in its family's encoding.
    """

    graphs: GraphSet
    families: npt.NDArray[np.str_]
    spectra: npt.NDArray[np.float32]
    keys: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.graphs)

    def family_ids(self) -> tuple[npt.NDArray[np.int64], list[str]]:
        """Integer class of every graph and the sorted family names they index."""
        names, ids = np.unique(self.families, return_inverse=True)
        return ids.astype(np.int64).reshape(-1), [str(n) for n in names]


def family_sizes(families: Sequence[str], total: int) -> dict[str, int]:
    """Split ``total`` over ``families`` as evenly as each family's size allows.

    Examples:
        >>> family_sizes(["nb201", "nb301"], 10)
        {'nb201': 5, 'nb301': 5}
    """
    if total < len(families) or not families:
        raise InvalidArgumentError(
            f"pool size {total} must be at least the number of families ({len(families)})"
        )
    caps = {f: cg_ir.families.get(f).size for f in families}
    sizes = dict.fromkeys(families, 0)
    left, open_ = total, list(families)
    while left > 0 and open_:
        share = max(left // len(open_), 1)
        for f in list(open_):
            cap = caps[f]
            add = min(share, left) if cap is None else min(share, left, cap - sizes[f])
            sizes[f] += add
            left -= add
            if cap is not None and sizes[f] >= cap:
                open_.remove(f)
            if left == 0:
                break
    return sizes


def _cache_key(sizes: dict[str, int], seed: int, k: int) -> dict[str, Any]:
    return {
        "format": _POOL_FORMAT,
        "sizes": sizes,
        "seed": seed,
        "k": k,
        "cg_ir_version": cg_ir.__version__,
        "feature_schema_version": FEATURE_SCHEMA_VERSION,
        "vocab_version": cg_ir.VOCAB_VERSION,
    }


def _build(
    sizes: dict[str, int], seed: int, progress: bool
) -> tuple[GraphSet, list[str], list[str]]:
    sets, fams, keys = [], [], []
    for i, (name, count) in enumerate(sizes.items()):
        fam = cg_ir.families.get(name)
        # one generator per family, derived from (seed, position), so a family's draw does not
        # depend on how many graphs the others drew
        rng = np.random.default_rng([seed, i])
        specs = fam.sample_distinct(rng, count)
        graphs = (fam.to_cg(s) for s in specs)
        bar = tqdm(graphs, total=count, disable=not progress, desc=f"pool {name}", unit="cg")
        sets.append(GraphSet.from_graphs(bar, hashes=True))
        fams += [name] * count
        keys += [fam.key(s) for s in specs]
    return GraphSet.concat(sets), fams, keys


def unlabeled_pool(
    families: Sequence[str] = DEFAULT_FAMILIES,
    size: int | dict[str, int] = 5000,
    seed: int = 0,
    *,
    k: int = K_EIGENVALUES,
    directory: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    workers: int = 2,
    progress: bool = True,
) -> Pool:
    """A pool of ``size`` unlabeled graphs (total, split evenly) or ``{family: count}``.

    Examples:
        >>> pool = unlabeled_pool(["nb201"], 3, seed=0, use_cache=False, progress=False,
        ...                       workers=1)
        >>> len(pool), pool.spectra.shape
        (3, (3, 11))
    """
    unknown = sorted(set(families) - set(cg_ir.families.names()))
    if unknown:
        raise InvalidArgumentError(
            f"unknown families {unknown}; valid: {sorted(cg_ir.families.names())}"
        )
    sizes = dict(size) if isinstance(size, dict) else family_sizes(list(families), size)
    expected = _cache_key(sizes, seed, k)
    digest = hashlib.sha256(json.dumps(expected, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir(directory) / f"pool-{digest}.npz"
    if use_cache and path.exists():
        try:
            graphs, meta = GraphSet.load(path)
            if meta.get("key") == expected:
                with np.load(path, allow_pickle=False) as data:
                    return Pool(
                        graphs, data["pool_families"], data["pool_spectra"], data["pool_keys"]
                    )
        except (OSError, ValueError, KeyError):
            pass  # unreadable or stale: rebuilt below
    graphs, fams, keys = _build(sizes, seed, progress)
    spectra = spectral_features(graphs, k, workers=workers, progress=progress)
    pool = Pool(graphs, np.asarray(fams, dtype=str), spectra, np.asarray(keys, dtype=str))
    if use_cache:
        _save(path, pool, expected)
    return pool


def _save(path: os.PathLike[str] | str, pool: Pool, key: dict[str, Any]) -> None:
    g = pool.graphs
    with atomic_output(path) as f:
        np.savez(
            f,
            x=g.x,
            op=g.op,
            edge_index=g.edge_index,
            node_ptr=g.node_ptr,
            edge_ptr=g.edge_ptr,
            hashes=g.hashes if g.hashes is not None else np.zeros(0, str),
            has_hashes=np.array(g.hashes is not None),
            meta=np.array(json.dumps({"key": key}, sort_keys=True)),
            pool_families=pool.families,
            pool_spectra=pool.spectra,
            pool_keys=pool.keys,
        )
