"""Unlabeled pools: random architectures of several families, as packed graphs with spectra.

A pool is drawn by each family's own sampler (``cg_ir.families.get(f).sample_distinct``, a
seeded ``numpy.random.Generator`` per family), converted with the family's structural fast path
(``to_cg``) and packed into a ``cg_predict.graphs.GraphSet`` with canonical hashes. Its spectra
(:mod:`cg_contrast.spectral`) are computed once and stored in the same cache file
(``cg_predict.graphs.cached_graph_set`` under ``cg_predict.graphs.cache_dir()``, written
atomically), keyed by the families, per-family sizes, seed and number of eigenvalues and by the
code that builds a pool (cg-ir, ``cg_predict.graphs`` and this module with the spectra's): a
pool built by other code is rebuilt. No labels are read: the pool may include the target
family's architectures, never their accuracies.
"""

from __future__ import annotations

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
from cg_ir.provenance import cache_key
from cg_predict.graphs import GRAPH_CODE, GraphSet, cached_graph_set

__all__ = ["DEFAULT_FAMILIES", "POOL_CODE", "Pool", "family_sizes", "unlabeled_pool"]

DEFAULT_FAMILIES = ("nb101", "nb201", "nb301", "ofa-mbv3", "resnet")
_POOL_FORMAT = 2  # bump when the cache layout changes
# the code a cached pool depends on: graph building and packing, sampling here, the spectra
POOL_CODE = (*GRAPH_CODE, "cg_contrast.pools", "cg_contrast.spectral", "cg_contrast._spectrum")


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

    def digest(self) -> str:
        """The pool's content: every graph's family and key, in order, and the spectra's ``k``.

        The graphs and spectra follow from these and the code that built them (``POOL_CODE``,
        which a pretraining state checks apart), so two pools of one code share a digest if and
        only if they hold the same graphs in the same order.
        """
        content = {
            "families": self.families.tolist(),
            "keys": self.keys.tolist(),
            "k": self.spectra.shape[1],
        }
        return cache_key(content)


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

    def build() -> tuple[GraphSet, dict[str, npt.NDArray[Any]]]:
        graphs, fams, keys = _build(sizes, seed, progress)
        spectra = spectral_features(graphs, k, workers=workers, progress=progress)
        arrays = {"families": np.asarray(fams, dtype=str), "spectra": spectra}
        return graphs, {**arrays, "keys": np.asarray(keys, dtype=str)}

    identity = {"pool_format": _POOL_FORMAT, "sizes": sizes, "seed": seed, "k": k}
    graphs, arrays = cached_graph_set(
        "pool", identity, build, code=POOL_CODE, directory=directory, use_cache=use_cache
    )
    return Pool(graphs, arrays["families"], arrays["spectra"], arrays["keys"])
