"""Errors of cg-evo: one root, each also a built-in exception, every message says what to do."""

from __future__ import annotations

from cg_ir.errors import CgError

__all__ = [
    "CgEvoError",
    "InvalidSearchError",
    "MissingResultError",
    "NoCandidatesError",
    "SearchStateError",
    "UnknownArchitectureError",
    "UnknownStrategyError",
]


class CgEvoError(CgError):
    """Root of every cg-evo error."""


class InvalidSearchError(CgEvoError, ValueError):
    """A search setting that cannot be used (unknown cost, bad budget, too few queries...)."""


class UnknownStrategyError(InvalidSearchError):
    """No strategy of that name; the message lists the registered ones."""


class NoCandidatesError(InvalidSearchError):
    """No architecture of the space fits the budget."""


class UnknownArchitectureError(CgEvoError, LookupError):
    """An oracle was asked for an architecture it has no label of (never a made-up value)."""


class MissingResultError(CgEvoError, FileNotFoundError):
    """A results file a search setting is read from is missing; the message says what writes it."""


class SearchStateError(CgEvoError, ValueError):
    """A search results file to resume from is unreadable or was written by other code."""
