"""Shared set-up of cg-ir's tests: the hypothesis profile and the benchmark-data gate.

``CGNAS_HYPOTHESIS_PROFILE`` picks the profile (``fast`` when unset; CI sets ``ci``, which is
derandomized so a CI run is reproducible). Tests marked ``needs_data`` read the benchmark
folder named by ``CGNAS_DATA_DIR`` (or ``../shared/data`` beside the checkout); where neither
exists they are skipped with that reason, and where the folder exists a missing file fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cg_ir.testing.profiles import load_profile

load_profile()

_DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CGNAS_DATA_DIR") or _DEFAULT_DATA.is_dir():
        return
    skip = pytest.mark.skipif(True, reason="no benchmark data: set CGNAS_DATA_DIR (CI sets it)")
    for item in items:
        if "needs_data" in item.keywords:
            item.add_marker(skip)
