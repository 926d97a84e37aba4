"""Pool proxy scores on disk, keyed by cell: what proxy orderings and their warm-up read.

cg-predict's live proxy cache keys a score by the digest of the network's weights, so reading
it back still builds the network (about 7 a second on this project's 2-core machine: over half
an hour per process for NB-201's 15,625 cells). ``ProxyTable`` keys the same score by what
determines those weights and the batch, so a search reads a pool's scores without building
anything, in every seed's process and every rerun.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from cg_ir.provenance import cache_key
from cg_predict.graphs import cache_dir
from cg_predict.proxies import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_INPUT,
    PROXY_VERSION,
    ProxyCache,
    ProxyScore,
)

# cg-predict's PROXY_CODE (the code a score depends on; not exported there: exporting it would
# change cg_predict.proxies and with it the key of every cached score)
from cg_predict.proxies._compute import PROXY_CODE

if TYPE_CHECKING:
    from cg_ir.executor import Executor

__all__ = ["ProxyTable", "score_cells"]

SAVE_EVERY = 1000  # cells scored between two saves of the table (what a kill loses)


class ProxyTable:
    """``proxy``'s seed-0 scores of ``family``'s cells (default batch and input, CPU).

    Entries live in memory until ``save``, which merges with what other processes wrote
    meanwhile and replaces the file atomically (``ProxyCache``).

    Args:
        family: the cg-ir family.
        proxy: a cg-predict network proxy.
    """

    def __init__(self, family: str, proxy: str) -> None:
        self.family, self.proxy = family, proxy
        path = cache_dir() / "search" / f"proxy-scores-{family}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        self._cache = ProxyCache(path)
        self._keys: dict[str, str] = {}

    def _key(self, key: str) -> str:
        """The table key of cell ``key``: what ``cell_proxies``'s score of it depends on.

        Seed-0 weights of cg-ir's module (and torch's generator: its version), the default
        batch and input on the CPU, the proxy version and cg-predict's ``PROXY_CODE``.
        Remembered: ``missing`` and then ``get`` ask for the same cells.
        """
        if key not in self._keys:
            self._keys[key] = self._digest(key)
        return self._keys[key]

    def _digest(self, key: str) -> str:
        identity = {
            "family": self.family,
            "key": key,
            "proxy": self.proxy,
            "seed": 0,
            "batch_size": DEFAULT_BATCH_SIZE,
            "input": DEFAULT_INPUT,
            "device": "cpu",
            "version": PROXY_VERSION,
            "torch": torch.__version__,
        }
        return cache_key(identity, *PROXY_CODE)

    def get(self, key: str) -> float | None:
        """The stored score of cell ``key``, or None."""
        hit = self._cache.get(self._key(key))
        return None if hit is None else hit.value

    def put(self, key: str, score: ProxyScore) -> None:
        """Store cell ``key``'s score (in memory until ``save``)."""
        self._cache.put(self._key(key), score)

    def missing(self, keys: Sequence[str]) -> list[str]:
        """The cells of ``keys`` with no stored score, in order."""
        return [k for k in keys if self.get(k) is None]

    def save(self) -> None:
        """Write new entries to disk (atomically, merged with other processes')."""
        self._cache.save()

    def fill(
        self, keys: Sequence[str], *, executor: Executor | None = None, progress: bool = False
    ) -> None:
        """Score the cells of ``keys`` the table lacks, saving every ``SAVE_EVERY`` cells.

        Computed by cg-predict's ``map_cell_proxies`` (seed-0 weights, the default batch) on
        ``executor`` (None: in this process), which also fills cg-predict's live cache and
        reads it first; an interrupted fill resumes from the last save.
        """
        from cg_predict.evaluate import live_proxy_cache
        from cg_predict.proxies.agreement import map_cell_proxies

        missing = self.missing(keys)
        if not missing:
            return
        live = live_proxy_cache(self.family)
        for start in range(0, len(missing), SAVE_EVERY):
            chunk = missing[start : start + SAVE_EVERY]
            scores = map_cell_proxies(
                self.family,
                chunk,
                [self.proxy],
                seed=0,
                batch_size=DEFAULT_BATCH_SIZE,
                cache=live,
                executor=executor,
                progress=progress,
                desc=f"{self.family} {self.proxy} {start}/{len(missing)}",
            )
            for key, score in zip(chunk, scores, strict=True):
                self.put(key, score[self.proxy])
            self.save()

    def scores(self, keys: Sequence[str]) -> dict[str, float]:
        """The stored scores of the cells of ``keys`` that have one."""
        return {key: value for key in keys if (value := self.get(key)) is not None}


def score_cells(family: str, proxy: str, keys: Sequence[str]) -> dict[str, float]:
    """``proxy`` on every cell of ``keys``: from the ``ProxyTable``, else computed live here."""
    table = ProxyTable(family, proxy)
    table.fill(keys)
    return table.scores(keys)
