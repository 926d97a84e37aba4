"""The eigenvalue solver of :mod:`cg_contrast.spectral`, importing only numpy and scipy.

Kept apart so that worker processes (started with ``spawn``) do not import torch.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg as sla
from threadpoolctl import threadpool_limits

from cg_contrast.errors import InvalidArgumentError

__all__ = ["K_EIGENVALUES", "laplacian_spectrum", "solve_chunk"]

K_EIGENVALUES = 11
_PAD = 1.0

FloatArray = npt.NDArray[np.float64]


def laplacian_spectrum(
    edges: npt.ArrayLike, num_nodes: int, k: int = K_EIGENVALUES, dense_max_nodes: int = 1000
) -> FloatArray:
    """The ``k`` smallest normalized-Laplacian eigenvalues of an undirected graph, ascending.

    Args:
        edges: ``[2, E]`` (or ``[E, 2]``) node index pairs; direction and repeats are ignored.
        num_nodes: number of nodes.
        k: eigenvalues wanted; fewer nodes than ``k`` are padded with 1.0.
        dense_max_nodes: largest graph solved densely; larger ones use sparse ``eigsh``.

    Examples:
        >>> laplacian_spectrum([[0, 1], [1, 2]], 3, k=4).round(6).tolist()  # path of 3 nodes
        [0.0, 1.0, 2.0, 1.0]
    """
    if num_nodes < 1 or k < 1:
        raise InvalidArgumentError(f"need num_nodes >= 1 and k >= 1, got {num_nodes} and {k}")
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim == 2 and e.shape[0] != 2 and e.shape[1] == 2:
        e = e.T
    e = e.reshape(2, -1)
    a = sp.coo_matrix((np.ones(e.shape[1]), (e[0], e[1])), shape=(num_nodes, num_nodes))
    a = ((a + a.T) > 0).astype(np.float64).tocsr()
    a.setdiag(0)  # self-loops do not belong to the undirected simple graph
    a.eliminate_zeros()
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-300)), 0.0)
    norm = sp.diags(inv) @ a @ sp.diags(inv)
    # the paper's formula literally: L = I - D^-1/2 A D^-1/2 with D^-1/2 = 0 for isolated nodes
    lap_diag = np.ones(num_nodes)
    m = min(k, num_nodes)
    if num_nodes <= dense_max_nodes or m >= num_nodes - 1:
        dense = np.diag(lap_diag) - norm.toarray()
        values = np.linalg.eigvalsh(dense)[:m]
    else:
        shifted = sp.diags(2.0 - lap_diag) + norm  # 2I - L
        top = sla.eigsh(
            shifted, k=m, which="LA", return_eigenvectors=False, v0=np.ones(num_nodes), tol=1e-8
        )
        values = np.sort(2.0 - top)
    out = np.full(k, _PAD)
    out[:m] = np.clip(values, 0.0, 2.0)
    return out


def solve_chunk(args: tuple[list[tuple[npt.NDArray[np.int64], int]], int, int]) -> FloatArray:
    graphs, k, dense_max = args
    with threadpool_limits(limits=1):
        return np.stack([laplacian_spectrum(e, n, k, dense_max) for e, n in graphs])
