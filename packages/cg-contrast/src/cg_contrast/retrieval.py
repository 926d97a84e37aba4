"""Positives by retrieval: for each anchor, a very similar graph of the same family.

Similarity is the spectral distance (:mod:`cg_contrast.spectral`). Per family, a KD-tree
(``sklearn.neighbors.NearestNeighbors``) answers the ``neighbors`` nearest graphs of every
graph once, in ``O(n log n)``; at training time a positive is drawn uniformly among an anchor's
precomputed neighbours. Isomorphic twins (same canonical hash: the same graph, renumbered) are
never returned: a twin would make the contrastive task trivial. An anchor whose family has no
non-twin graph gets ``-1`` (no positive).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.neighbors import NearestNeighbors

from cg_contrast.errors import InvalidArgumentError

__all__ = ["SpectralIndex"]

IntArray = npt.NDArray[np.int64]


class SpectralIndex:
    """Nearest non-twin neighbours of every graph within its family, by spectral distance.

    Args:
        spectra: ``[n, k]`` spectra.
        families: ``[n]`` family label of every graph.
        hashes: ``[n]`` canonical hashes (twins share one).
        neighbors: candidates kept per graph.

    Examples:
        >>> import numpy as np
        >>> idx = SpectralIndex(np.array([[0.0], [0.1], [0.1], [5.0]]), ["a", "a", "a", "a"],
        ...                     ["h0", "h1", "h1", "h3"], neighbors=1)
        >>> idx.neighbors[1].tolist()  # 2 is 1's twin (same hash): skipped although nearer
        [0]
    """

    def __init__(
        self,
        spectra: npt.ArrayLike,
        families: npt.ArrayLike,
        hashes: npt.ArrayLike,
        neighbors: int = 8,
    ) -> None:
        x = np.asarray(spectra, dtype=np.float64)
        fam = np.asarray(families)
        hsh = np.asarray(hashes)
        if x.ndim != 2 or len(fam) != len(x) or len(hsh) != len(x):
            raise InvalidArgumentError(
                f"spectra {x.shape}, families {fam.shape} and hashes {hsh.shape} must describe "
                "the same graphs ([n, k], [n], [n])"
            )
        if neighbors < 1:
            raise InvalidArgumentError(f"neighbors={neighbors} must be at least 1")
        self.neighbors: IntArray = np.full((len(x), neighbors), -1, dtype=np.int64)
        self.distances = np.full((len(x), neighbors), np.inf)
        for name in np.unique(fam):
            members = np.flatnonzero(fam == name)
            self._fill(x, hsh, members, neighbors)

    def _fill(
        self, x: npt.NDArray[np.float64], hsh: npt.NDArray[np.str_], members: IntArray, m: int
    ) -> None:
        # Twins of a graph are at distance 0 from it; asking for (m + largest twin class)
        # neighbours guarantees m non-twins whenever they exist.
        _, counts = np.unique(hsh[members], return_counts=True)
        want = min(len(members), m + int(counts.max()))
        tree = NearestNeighbors(n_neighbors=want, algorithm="kd_tree").fit(x[members])
        dist, local = tree.kneighbors(x[members])
        cand = members[local]
        ok = hsh[cand] != hsh[members][:, None]  # drops the anchor itself and its twins
        for row in range(len(members)):
            keep = np.flatnonzero(ok[row])[:m]
            self.neighbors[members[row], : len(keep)] = cand[row, keep]
            self.distances[members[row], : len(keep)] = dist[row, keep]

    def sample(self, anchors: npt.ArrayLike, rng: np.random.Generator) -> IntArray:
        """One positive per anchor, uniform among its neighbours (``-1`` where none)."""
        idx = np.asarray(anchors, dtype=np.int64).reshape(-1)
        cand = self.neighbors[idx]
        valid = (cand >= 0).sum(axis=1)
        pick = np.floor(rng.random(len(idx)) * np.maximum(valid, 1)).astype(np.int64)
        out = cand[np.arange(len(idx)), pick]
        out[valid == 0] = -1
        return out
