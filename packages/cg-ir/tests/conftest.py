"""Shared set-up of cg-ir's tests: the hypothesis profile.

``CGNAS_HYPOTHESIS_PROFILE`` picks the profile (``fast`` when unset; CI sets ``ci``, which is
derandomized so a CI run is reproducible). The benchmark-data gate of the ``needs_data`` tests
and their ``data_dir`` and ``benchmark_file`` fixtures are in the repository's root
``conftest.py``.
"""

from __future__ import annotations

import pytest

from cg_ir.testing.profiles import load_profile


def pytest_configure(config: pytest.Config) -> None:
    """Make the chosen hypothesis profile the default, before any test module is imported."""
    load_profile()
