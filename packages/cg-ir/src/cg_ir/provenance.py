"""Code identity and file checksums, so that results and caches are tied to what made them.

A cache keyed by configuration alone would hand back results computed by older code after a
change that keeps the configuration; ``code_digest`` names the code itself (the bytes of every
Python source of the packages, or single modules, that produce a result), ``cache_key`` is the
one key every cache and resume point of cg-nas builds from a configuration and that code, and
``file_sha256`` names the data a result read.

Examples:
    >>> from cg_ir.provenance import code_digest
    >>> len(code_digest("cg_ir")), code_digest("cg_ir") == code_digest("cg_ir")
    (64, True)
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from cg_ir.errors import InvalidArgumentError

__all__ = ["cache_key", "code_digest", "file_sha256"]


_DATA_SUFFIXES = (".py", ".txt")
"""What a package's code is: its Python sources and its data files (cg-ir's vocabulary)."""

_FRONT_ENDS = ("cli", "experiments")
"""A package's front ends (module ``cli.py`` or package ``cli/``; module ``experiments.py``):
left out.

The command line only turns arguments into the configuration a result records (and prints);
a ``cgnas reproduce`` experiment only turns a mode into such configurations and tabulates what
they computed. Each result is a function of its configuration, the data and the rest of the
code, so a new option, help text or table layout must not make every cached result stale.
Front ends hold no computation whose output is a result; ``cg_ir.experiments`` digests an
experiment's own module beside its code (``Experiment.identity_code``), so a changed
experiment still reruns.
"""


def _is_front_end(relative: Path) -> bool:
    return any(name in relative.parts[:-1] or relative.name == f"{name}.py" for name in _FRONT_ENDS)


def _sources(name: str) -> list[tuple[str, Path]]:
    """``(relative name, path)`` of every source and data file of package or module ``name``."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # a missing parent package, or a bad name
        spec = None
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(p for p in root.rglob("*") if p.suffix in _DATA_SUFFIXES and p.is_file())
        kept = [path for path in files if not _is_front_end(path.relative_to(root))]
        return [(path.relative_to(root).as_posix(), path) for path in kept]
    if spec is not None and spec.origin and spec.origin.endswith(".py"):
        return [(Path(spec.origin).name, Path(spec.origin))]
    raise InvalidArgumentError(f"{name!r} is not an importable package or Python module")


@cache
def _package_digest(name: str) -> str:
    digest = hashlib.sha256()
    for relative, path in _sources(name):
        digest.update(relative.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def code_digest(*packages: str) -> str:
    """SHA-256 over the sources of ``packages`` (names and bytes, in a fixed order).

    A name may be a package (every ``.py`` file under it, and its ``.txt`` data files such as
    cg-ir's vocabulary, but not its front ends: ``_FRONT_ENDS``) or a single module
    (``"cg_predict.graphs"``), so that a cache names only the code its values depend on.
    Computed once per process and name (sources do not change under a running program): the
    first digest of all four cg-nas packages reads ~0.9 MB in ~10 ms, later ones take ~20 us.

    Raises:
        InvalidArgumentError: a name that is neither an importable package nor a Python module.

    Examples:
        >>> code_digest("cg_ir", "cg_ir.provenance") != code_digest("cg_ir")
        True
    """
    digest = hashlib.sha256()
    for package in sorted(set(packages)):
        digest.update(f"{package}:{_package_digest(package)}\n".encode())
    return digest.hexdigest()


def cache_key(identity: Mapping[str, Any], *code: str) -> str:
    """The key of a cached value: SHA-256 of its ``identity`` and of the ``code`` producing it.

    ``identity`` is everything of the configuration that changes the value (JSON-able; key
    order does not matter); ``code`` names the packages or modules that compute it
    (``code_digest``), so an edit of that code gives another key and a value computed by
    other code is never reused. Without ``code`` the key covers the configuration alone
    (e.g. a cache file's name, whose content is then checked against the full key).

    Raises:
        TypeError: ``identity`` holds a value JSON cannot represent.

    Examples:
        >>> key = cache_key({"family": "nb201", "n": 3}, "cg_ir")
        >>> key == cache_key({"n": 3, "family": "nb201"}, "cg_ir"), key == cache_key({"n": 3})
        (True, False)
    """
    payload = {"identity": identity, "code": code_digest(*code) if code else None}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
