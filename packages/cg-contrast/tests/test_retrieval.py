from __future__ import annotations

import numpy as np
import pytest

from cg_contrast.errors import InvalidArgumentError
from cg_contrast.retrieval import SpectralIndex


def _data(n: int = 300, seed: int = 0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    spectra = rng.random((n, 11))
    fams = rng.choice(["a", "b", "c"], n)
    hashes = np.array([f"h{i}" for i in rng.integers(0, n // 2, n)])  # many twins
    spectra[:] = spectra[np.unique(hashes, return_inverse=True)[1]]  # twins: equal spectra
    return spectra, fams, hashes


def test_neighbours_same_family_never_twins_and_nearest() -> None:
    spectra, fams, hashes = _data()
    index = SpectralIndex(spectra, fams, hashes, neighbors=3)
    for i in range(len(spectra)):
        nb = index.neighbors[i][index.neighbors[i] >= 0]
        assert (fams[nb] == fams[i]).all()
        assert (hashes[nb] != hashes[i]).all()
        # brute force: the nearest non-twin of the same family
        cand = np.flatnonzero((fams == fams[i]) & (hashes != hashes[i]))
        d = np.linalg.norm(spectra[cand] - spectra[i], axis=1)
        assert np.isclose(index.distances[i, 0], d.min())


def test_sample_draws_among_neighbours_and_flags_lonely_anchors() -> None:
    spectra = np.array([[0.0], [0.0], [1.0]])
    index = SpectralIndex(spectra, ["a", "a", "b"], ["x", "x", "y"], neighbors=2)
    out = index.sample([0, 1, 2], np.random.default_rng(0))
    assert out.tolist() == [-1, -1, -1]  # only twins, or alone in its family
    spectra, fams, hashes = _data(seed=1)
    index = SpectralIndex(spectra, fams, hashes, neighbors=4)
    pos = index.sample(np.arange(300), np.random.default_rng(0))
    assert all(p in index.neighbors[i] for i, p in enumerate(pos))


def test_shape_errors() -> None:
    with pytest.raises(InvalidArgumentError, match="same graphs"):
        SpectralIndex(np.zeros((3, 2)), ["a"], ["h"] * 3)
