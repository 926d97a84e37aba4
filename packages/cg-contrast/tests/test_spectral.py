from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from cg_contrast.errors import InvalidArgumentError
from cg_contrast.spectral import laplacian_spectrum, spectral_distance, spectral_features
from cg_predict.graphs import GraphSet


def test_matches_networkx_normalized_laplacian() -> None:
    g = nx.gnm_random_graph(30, 60, seed=1)
    g.remove_nodes_from([n for n in list(g) if g.degree(n) == 0])
    g = nx.convert_node_labels_to_integers(g)
    want = np.sort(np.linalg.eigvalsh(nx.normalized_laplacian_matrix(g).toarray()))[:11]
    got = laplacian_spectrum(np.array(g.edges()).T, g.number_of_nodes())
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_sparse_solver_agrees_with_dense() -> None:
    g = nx.connected_watts_strogatz_graph(200, 4, 0.2, seed=0)
    e = np.array(g.edges()).T
    dense = laplacian_spectrum(e, 200)
    sparse = laplacian_spectrum(e, 200, dense_max_nodes=10)
    np.testing.assert_allclose(sparse, dense, atol=1e-6)


def test_direction_and_repeats_are_ignored_and_small_graphs_padded() -> None:
    a = laplacian_spectrum([[0, 1, 1], [1, 2, 2]], 3, k=5)
    b = laplacian_spectrum([[1, 2], [0, 1]], 3, k=5)
    np.testing.assert_allclose(a, b)
    assert a[3:].tolist() == [1.0, 1.0]


def test_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentError, match="num_nodes"):
        laplacian_spectrum([[0], [0]], 0)


def test_features_of_a_graphset_workers_and_twins(tiny_pool) -> None:  # type: ignore[no-untyped-def]
    gs = tiny_pool.graphs.subset([0, 1, 2, 0])
    one = spectral_features(gs, workers=1, progress=False)
    assert one.shape == (4, 11)
    np.testing.assert_array_equal(one[0], one[3])  # twins (same hash) share a spectrum
    no_hash = GraphSet(gs.x, gs.op, gs.edge_index, gs.node_ptr, gs.edge_ptr)
    np.testing.assert_allclose(spectral_features(no_hash, workers=1, progress=False), one)
    np.testing.assert_allclose(tiny_pool.spectra[[0, 1, 2, 0]], one)


def test_distance() -> None:
    assert spectral_distance([[0.0, 3.0]], [[4.0, 0.0]]).tolist() == [5.0]
