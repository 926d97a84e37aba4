"""The one benchmark-data gate of every test suite in this repository.

Tests marked ``needs_data`` read the benchmark folder named by ``$CGNAS_DATA_DIR`` (CI sets it
to ``../shared/data``, next to the clone). This file, at the repository root, applies to every
test under it (``tests/`` and each ``packages/*/tests``), so the rule lives in one place:

* ``$CGNAS_DATA_DIR`` unset: every ``needs_data`` test is skipped, with one reason that names
  what is missing and how to get it (``pytest_collection_modifyitems`` below).
* ``$CGNAS_DATA_DIR`` set: the tests run, and a missing folder or file is a failure (never a
  skip) whose message names the full path.

A test takes the folder only from the fixtures here: ``data_dir`` (the folder, a ``Path``) or
``benchmark_file`` (``benchmark_file("nb201", "nb201_200ep_test_acc.csv")`` -> the file's
``Path``, a failure if it does not exist). Reaching either without the variable set means the
test forgot its ``needs_data`` mark, and fails saying so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import pytest

DATA_ENV = "CGNAS_DATA_DIR"
MARK = "needs_data"
MISSING_REASON = (
    f"{DATA_ENV} is not set: point it at the benchmark data folder (CI sets it to ../shared/data)"
)


class BenchmarkFile(Protocol):
    """What the ``benchmark_file`` fixture returns: ``(*parts) -> Path`` under ``data_dir``."""

    def __call__(self, *parts: str) -> Path:
        """The file ``data_dir/<parts>``; a test failure naming it if it does not exist."""
        ...


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``needs_data`` tests, with one reason, where ``$CGNAS_DATA_DIR`` is unset."""
    if os.environ.get(DATA_ENV):
        return
    skip = pytest.mark.skip(reason=MISSING_REASON)
    for item in items:
        if item.get_closest_marker(MARK) is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The benchmark data folder, ``$CGNAS_DATA_DIR`` as an absolute path."""
    value = os.environ.get(DATA_ENV, "")
    if not value:  # the gate skips needs_data tests first: only reached without the mark
        pytest.fail(f"{DATA_ENV} is not set and this test reads benchmark data: mark it {MARK}")
    root = Path(value).expanduser().resolve()
    if not root.is_dir():
        pytest.fail(f"benchmark data folder not found: {root} (from ${DATA_ENV}={value})")
    return root


@pytest.fixture(scope="session")
def benchmark_file(data_dir: Path) -> BenchmarkFile:
    """``(*parts) -> Path``: the file ``data_dir/<parts>``; a failure naming it if absent."""

    def resolve(*parts: str) -> Path:
        path = data_dir.joinpath(*parts)
        if not path.is_file():
            pytest.fail(f"benchmark file not found: {path} (under ${DATA_ENV}={data_dir})")
        return path

    return resolve
