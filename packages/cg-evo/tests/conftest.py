"""Shared set-up of cg-evo's tests: one torch thread, and shared NB-201 objects.

The NB-201 oracle, its whole-space ``SearchSpace`` and the quick leave-one-family-out source
model are built once per session (the source model comes from cg-predict's disk cache under
``~/.cache/cgnas`` when a previous run trained it). They read the benchmark folder through the
``data_dir`` fixture of the repository's root ``conftest.py``, whose gate skips the
``needs_data`` tests where ``$CGNAS_DATA_DIR`` is unset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from cg_ir.testing.profiles import load_profile


def pytest_configure(config: pytest.Config) -> None:
    """Make the chosen hypothesis profile the default, before any test module is imported."""
    load_profile()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """A busy 2-core runner: torch's default thread pool oversubscribes it (and numbers that
    depend on the thread count must match across backends)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def nb201_oracle(data_dir: Path) -> Any:
    from cg_evo.oracle import load_oracle

    return load_oracle("nb201", "cifar10", data_dir)


@pytest.fixture(scope="session")
def nb201_space(nb201_oracle: Any) -> Any:
    """Every NB-201 cell, no cost budget (graphs from the disk cache)."""
    from cg_evo.space import SearchSpace

    return SearchSpace.from_oracle(nb201_oracle)


@pytest.fixture(scope="session")
def nb201_source(data_dir: Path) -> Any:
    """The quick source model 0 of a search on NB-201 (trained on every other labelled family)."""
    from cg_evo.surrogate import source_predictor

    model, _ = source_predictor("nb201", quick=True, data_dir=data_dir, progress=False)
    return model
