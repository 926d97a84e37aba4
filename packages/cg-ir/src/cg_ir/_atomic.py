"""Atomic file output: write a temporary file next to the target, then rename it over."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["atomic_output", "write_json"]


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Open a binary temporary file that becomes ``path`` only if the block succeeds.

    Readers never see a half-written file, and a failure leaves neither a partial target nor
    the temporary file behind. The file gets the usual permissions (``0o666`` less the umask).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` to ``path`` as strict JSON (no NaN), indented, UTF-8, atomically.

    The one JSON writer of cg-nas (results, caches, reports): a reader never sees half a file.

    Raises:
        ValueError: ``payload`` holds NaN or infinity (strict JSON has neither); nothing is
            written.

    Examples:
        >>> import json, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "r.json")
        >>> write_json(path, {"srcc": 0.5})
        >>> json.load(open(path))
        {'srcc': 0.5}
    """
    text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
    with atomic_output(path) as handle:
        handle.write(text.encode("utf-8"))
