from __future__ import annotations

import numpy as np
import pytest

from cg_contrast.errors import InvalidArgumentError
from cg_contrast.pools import family_sizes, unlabeled_pool


def test_family_sizes_respect_finite_families() -> None:
    sizes = family_sizes(["nb201", "nb301"], 40000)
    assert sizes == {"nb201": 15625, "nb301": 24375}
    with pytest.raises(InvalidArgumentError, match="at least"):
        family_sizes(["nb201", "nb301"], 1)


def test_pool_is_cached_seeded_and_label_free(tiny_pool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert len(tiny_pool) == 48
    assert sorted(set(tiny_pool.families.tolist())) == ["nb101", "nb201"]
    assert tiny_pool.spectra.shape == (48, 11) and tiny_pool.graphs.hashes is not None
    again = unlabeled_pool(
        ["nb201", "nb101"], 48, seed=0, directory=tmp_path, workers=1, progress=False
    )
    np.testing.assert_array_equal(again.keys, tiny_pool.keys)
    cached = unlabeled_pool(
        ["nb201", "nb101"], 48, seed=0, directory=tmp_path, workers=1, progress=False
    )
    assert len(list(tmp_path.glob("pool-*.npz"))) == 1
    np.testing.assert_array_equal(cached.spectra, again.spectra)
    other = unlabeled_pool(
        ["nb201", "nb101"], 48, seed=1, directory=tmp_path, workers=1, progress=False
    )
    assert not np.array_equal(other.keys, tiny_pool.keys)
    assert len(list(tmp_path.glob("pool-*.npz"))) == 2


def test_unknown_family() -> None:
    with pytest.raises(InvalidArgumentError, match="unknown families"):
        unlabeled_pool(["nb999"], 4, use_cache=False)
