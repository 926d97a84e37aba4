"""Shared fixtures: a tiny pool cached in a temporary directory."""

from __future__ import annotations

import pytest

from cg_contrast.pools import Pool, unlabeled_pool


@pytest.fixture(scope="session")
def tiny_pool(tmp_path_factory: pytest.TempPathFactory) -> Pool:
    directory = tmp_path_factory.mktemp("cache")
    return unlabeled_pool(
        ["nb201", "nb101"], 48, seed=0, directory=directory, workers=1, progress=False
    )
