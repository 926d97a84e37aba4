"""In-process memo of parsed tables: the large files take 1-3 s to parse and validate.

Tables are immutable, so sharing one between callers is safe. An entry is keyed by the file's
path, modification time and size, so an edited or replaced file is parsed again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path

from cg_predict.data._records import BenchmarkTable

__all__ = ["clear_table_cache", "memoized_table"]

_MAX_TABLES = 16  # every benchmark x dataset combination fits (13 of them)
_TABLES: OrderedDict[tuple[Hashable, ...], BenchmarkTable] = OrderedDict()


def memoized_table(
    path: Path, params: Hashable, build: Callable[[], BenchmarkTable]
) -> BenchmarkTable:
    """``build()``'s table for ``path`` and ``params``, reused while the file is unchanged."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, params)
    table = _TABLES.get(key)
    if table is None:
        table = build()
        _TABLES[key] = table
        if len(_TABLES) > _MAX_TABLES:
            _TABLES.popitem(last=False)
    else:
        _TABLES.move_to_end(key)
    return table


def clear_table_cache() -> None:
    """Forget every memoized table (frees their memory).

    Examples:
        >>> clear_table_cache()
    """
    _TABLES.clear()
