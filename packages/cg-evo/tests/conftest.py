"""Shared set-up of cg-evo's tests: the data gate, one torch thread, and shared NB-201 objects.

Tests marked ``needs_data`` read the benchmark folder named by ``CGNAS_DATA_DIR`` (CI sets it,
so they run there); where it is unset they are skipped with that reason, and where it is set
a missing file fails. The NB-201 oracle, its whole-space ``SearchSpace`` and the quick
leave-one-family-out source model are built once per session (the source model comes from
cg-predict's disk cache under ``~/.cache/cgnas`` when a previous run trained it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from cg_ir.testing.profiles import load_profile

load_profile()

_HERE = Path(__file__).resolve().parent
DATA_ENV = "CGNAS_DATA_DIR"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(DATA_ENV):
        return
    skip = pytest.mark.skip(reason=f"{DATA_ENV} is not set: needs the benchmark data (CI sets it)")
    for item in items:
        if "needs_data" in item.keywords and _HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """A busy 2-core runner: torch's default thread pool oversubscribes it (and numbers that
    depend on the thread count must match across backends)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder (``$CGNAS_DATA_DIR``)."""
    value = os.environ.get(DATA_ENV)
    if not value:  # only reached by a test that forgot its needs_data mark
        pytest.fail(f"{DATA_ENV} is not set; mark the test needs_data")
    return Path(value)


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
    """The quick source model of a search on NB-201 (trained on NB-101 and NB-301 only)."""
    from cg_evo.surrogate import source_predictor

    model, _ = source_predictor("nb201", quick=True, data_dir=data_dir, progress=False)
    return model
