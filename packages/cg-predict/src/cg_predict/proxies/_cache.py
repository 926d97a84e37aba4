"""An on-disk JSON cache of proxy scores, written atomically."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

from cg_ir import write_json
from cg_predict.errors import ProxyCacheError

__all__ = ["ProxyCache", "ProxyScore"]

_FORMAT = "cg-predict proxy cache"
_FORMAT_VERSION = 1


class ProxyScore(NamedTuple):
    """One proxy's value on one network, and what it cost.

    Attributes:
        value: the raw score (higher = better predicted; see each proxy's module). May be
            ``-inf`` (jacov, nwot) for a network whose output ignores its input.
        seconds: wall time of computing it (its own forward/backward passes and the copy of
            the module), as measured when it was computed, also when it comes from a cache.
        cached: whether it was read from a ``ProxyCache``.
    """

    value: float
    seconds: float
    cached: bool = False


def _encode(value: float) -> float | str:
    # strict JSON has no inf or NaN
    return value if math.isfinite(value) else repr(value)


def _decode(value: float | str) -> float:
    return float(value)


class ProxyCache:
    """Proxy scores on disk, keyed by architecture, weights, proxy, version and batch.

    A key is built by ``compute_proxies`` (``cg_ir.provenance.cache_key``) from the graph's
    canonical hash, a digest of the module's weights (proxies are functions of the initial
    weights too, so two initialisations of one architecture are different entries), the proxy
    name, ``PROXY_VERSION``, the batch digest, the device type and the digest of the code that
    computes scores (cg-ir and ``cg_predict.proxies``): a score of other code is never read back.
    ``flops`` and ``params`` use only the graph hash, the version and the code. Entries live
    in memory until ``save`` (``compute_proxies`` saves after each call); ``save`` merges with
    what other processes wrote meanwhile and replaces the file atomically.

    Args:
        path: the JSON file (created on first save; its directory must exist).

    Raises:
        ProxyCacheError: the file exists but is not a proxy cache of this format.

    Examples:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "proxies.json")
        >>> cache = ProxyCache(path)
        >>> cache.put("k", ProxyScore(1.5, 0.25)); cache.save()
        >>> ProxyCache(path).get("k")
        ProxyScore(value=1.5, seconds=0.25, cached=True)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._entries: dict[str, ProxyScore] = self._read()
        self._dirty: dict[str, ProxyScore] = {}

    def _read(self) -> dict[str, ProxyScore]:
        if not self.path.exists():
            return {}
        try:
            data: Any = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or data.get("version") != _FORMAT_VERSION:
                raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
            return {
                key: ProxyScore(_decode(entry["value"]), float(entry["seconds"]), True)
                for key, entry in data["entries"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ProxyCacheError(
                f"{self.path} is not a {_FORMAT} (version {_FORMAT_VERSION}) or is corrupt ({e}); "
                "delete it or pass another path to rebuild it",
                self.path,
            ) from None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: str) -> ProxyScore | None:
        """The stored score of ``key`` (with ``cached=True``), or None."""
        return self._entries.get(key)

    def put(self, key: str, score: ProxyScore) -> None:
        """Store ``score`` under ``key`` (in memory until ``save``)."""
        stored = score._replace(cached=True)
        self._entries[key] = stored
        self._dirty[key] = stored

    def save(self) -> None:
        """Write new entries, merged with the file's current content, atomically."""
        if not self._dirty:
            return
        merged = {**self._read(), **self._entries}
        payload = {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "entries": {
                key: {"value": _encode(s.value), "seconds": s.seconds}
                for key, s in sorted(merged.items())
            },
        }
        write_json(self.path, payload)
        self._entries = merged
        self._dirty = {}
