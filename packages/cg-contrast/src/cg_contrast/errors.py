"""Errors of cg-contrast: each subclasses :class:`CgContrastError` and a built-in exception."""

from __future__ import annotations

__all__ = ["CgContrastError", "InvalidArgumentError", "PretrainCheckpointError"]


class CgContrastError(Exception):
    """Base class of every error cg-contrast raises."""


class InvalidArgumentError(CgContrastError, ValueError):
    """An argument value that cannot be used; the message names the valid options."""


class PretrainCheckpointError(CgContrastError, RuntimeError):
    """A pretraining checkpoint that cannot be resumed (corrupt, or another configuration)."""
