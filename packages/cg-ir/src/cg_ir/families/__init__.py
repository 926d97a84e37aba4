"""Registered families of architectures (search spaces), found through entry points.

Examples:
    >>> from cg_ir import families
    >>> "nb201" in families.names()
    True
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from cg_ir.errors import InvalidArgumentError, UnknownFamilyError
from cg_ir.families._base import Family

__all__ = ["ENTRY_POINT_GROUP", "Family", "get", "names", "register"]

ENTRY_POINT_GROUP = "cg_ir.families"
_registered: dict[str, Family[Any]] = {}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """Names of every family: installed through entry points or registered in this process."""
    return sorted(set(_entry_points()) | set(_registered))


def register(family: Family[Any]) -> None:
    """Make ``family`` available to ``get`` in this process (entry points do it for packages)."""
    if not family.name:
        raise InvalidArgumentError("a family needs a non-empty name")
    _registered[family.name] = family


def get(name: str) -> Family[Any]:
    """The family registered under ``name``.

    Raises:
        UnknownFamilyError: no such family; the message lists the known ones.
    """
    if name in _registered:
        return _registered[name]
    points = _entry_points()
    if name not in points:
        raise UnknownFamilyError(f"no family named {name!r}; known families: {', '.join(names())}")
    family = points[name].load()
    if not isinstance(family, Family):
        raise UnknownFamilyError(
            f"entry point {name!r} of group {ENTRY_POINT_GROUP!r} gives {family!r}, not a Family"
        )
    _registered[name] = family
    return family
