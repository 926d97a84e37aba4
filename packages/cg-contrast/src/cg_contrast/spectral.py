"""Spectral signatures: the k smallest eigenvalues of a graph's normalized Laplacian.

The paper's spectral distance (its Eq. 4.4) between two computation graphs is the Euclidean
distance between the ``k = 11`` smallest eigenvalues of the normalized Laplacian
``I - D^-1/2 A D^-1/2`` of their undirected versions (multi-edges collapsed; an isolated node
keeps ``L_ii = 1``, the formula with ``D^-1/2 = 0`` there, so its row is that of ``I``). A graph
with fewer than ``k`` nodes is padded with 1.0, the spectrum's centre (documented choice: it
keeps small graphs at a finite, moderate distance from large ones).

Solvers: a dense symmetric solver (LAPACK ``syevd`` through ``numpy.linalg.eigvalsh``) up to
``dense_max_nodes`` nodes, else scipy's sparse Lanczos solver ``eigsh`` on ``2I - L`` (its
largest eigenvalues are ``2 -`` the smallest of ``L``, which Lanczos finds without a
factorisation). Measured on CG sizes (36-450 nodes) the dense solver is faster, hence the
default threshold of 1000 nodes. BLAS threads are pinned to one per worker: multi-threaded
LAPACK on these small matrices was up to 50x slower on 2 cores.

Isomorphic twins share a spectrum, so each canonical hash is solved once.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from cg_contrast._spectrum import K_EIGENVALUES, laplacian_spectrum, solve_chunk
from cg_predict.graphs import GraphSet

FloatArray = npt.NDArray[np.float64]

__all__ = ["K_EIGENVALUES", "laplacian_spectrum", "spectral_distance", "spectral_features"]


def spectral_features(
    graphs: GraphSet,
    k: int = K_EIGENVALUES,
    *,
    workers: int = 2,
    dense_max_nodes: int = 1000,
    progress: bool = True,
) -> npt.NDArray[np.float32]:
    """``[len(graphs), k]`` spectra of every graph of a :class:`GraphSet`.

    Graphs with the same canonical hash (when the set has hashes) are solved once.
    ``workers > 1`` solves chunks in that many processes.
    """
    n = len(graphs)
    if graphs.hashes is not None:
        _, first, inverse = np.unique(graphs.hashes, return_index=True, return_inverse=True)
    else:
        first, inverse = np.arange(n), np.arange(n)
    todo = [
        (
            graphs.edge_index[:, graphs.edge_ptr[i] : graphs.edge_ptr[i + 1]],
            int(graphs.node_ptr[i + 1] - graphs.node_ptr[i]),
        )
        for i in first
    ]
    chunk = 256
    jobs = [(todo[s : s + chunk], k, dense_max_nodes) for s in range(0, len(todo), chunk)]
    bar = tqdm(total=len(todo), disable=not progress, desc="spectra", unit="cg")
    parts: list[FloatArray] = []
    if workers > 1 and len(jobs) > 1:
        # fork: the workers only run numpy/scipy; "spawn" re-imports torch in every worker
        # (measured 8x slower than one process for a 600-graph pool on 2 busy cores)
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ctx.Pool(workers) as pool:
            for part in pool.imap(solve_chunk, jobs):
                parts.append(part)
                bar.update(len(part))
    else:
        for job in jobs:
            parts.append(solve_chunk(job))
            bar.update(len(parts[-1]))
    bar.close()
    unique = np.concatenate(parts) if parts else np.zeros((0, k))
    return unique[np.asarray(inverse).reshape(-1)].astype(np.float32)


def spectral_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Euclidean distance between spectra (broadcasting over leading axes).

    Examples:
        >>> float(spectral_distance([0.0, 1.0], [0.0, 0.0]))
        1.0
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    out: FloatArray = np.sqrt((diff * diff).sum(axis=-1))
    return out
