"""Code identity and file checksums, so that results and caches are tied to what made them.

A cache keyed by configuration alone would hand back results computed by older code after a
change that keeps the configuration; ``code_digest`` names the code itself (the bytes of every
Python source of the packages that produce a result), and ``file_sha256`` the data it read.

Examples:
    >>> from cg_ir.provenance import code_digest
    >>> len(code_digest("cg_ir")), code_digest("cg_ir") == code_digest("cg_ir")
    (64, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import cache
from pathlib import Path

__all__ = ["code_digest", "file_sha256"]


@cache
def _package_digest(package: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    root = Path(next(iter(spec.submodule_search_locations)))
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def code_digest(*packages: str) -> str:
    """SHA-256 over the Python sources of ``packages`` (names and bytes, in a fixed order).

    Computed once per process and package (sources do not change under a running program).
    """
    digest = hashlib.sha256()
    for package in sorted(set(packages)):
        digest.update(f"{package}:{_package_digest(package)}\n".encode())
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
