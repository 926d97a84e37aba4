"""Resolve "PyPI" through the PEP 503 simple index in ``PIP_INDEX_URL``; keep the lock host-free.

Poetry's built-in PyPI client needs PyPI's per-version JSON API, which some mirrors do not serve.
A simple-index (legacy) repository only needs ``/simple/<name>/``.  Packages found through it
would normally be locked with that repository's URL; we clear the source so that ``poetry.lock``
reads like a plain PyPI lock and never names a host.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from poetry.plugins.plugin import Plugin
from poetry.repositories.legacy_repository import LegacyRepository
from poetry.repositories.repository_pool import Priority

__all__ = ["PypiIndexPlugin"]


class _HostFreeLegacyRepository(LegacyRepository):
    """A simple-index repository whose packages look like PyPI packages (no source recorded)."""

    def package(self, name: Any, version: Any, *args: Any, **kwargs: Any) -> Any:
        # Copy: the parent caches package objects, and we must not mutate the cached one.
        package = copy.copy(super().package(name, version, *args, **kwargs))
        package._source_type = None
        package._source_reference = None
        package._source_url = None
        return package


def _simple_index_url(index: str) -> str:
    # pip's index URL is already a PEP 503 root (".../simple", "+simple", ...): use it as given.
    return index.rstrip("/") + "/"


class PypiIndexPlugin(Plugin):
    """Swap Poetry's PyPI repository for the simple index named by ``PIP_INDEX_URL``."""

    def activate(self, poetry: Any, io: Any) -> None:
        index = os.environ.get("PIP_INDEX_URL")
        if not index:
            return  # nothing configured: Poetry's normal PyPI behaviour
        for name in ("pypi", "PyPI"):
            if poetry.pool.has_repository(name):
                poetry.pool.remove_repository(name)
        repository = _HostFreeLegacyRepository(
            "pypi-index", _simple_index_url(index), config=poetry.config
        )
        poetry.pool.add_repository(repository, priority=Priority.PRIMARY)
        if io.is_debug():
            io.write_line("poetry-pypi-index: resolving PyPI packages through PIP_INDEX_URL")
