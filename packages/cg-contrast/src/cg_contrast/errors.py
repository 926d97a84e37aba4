"""Errors of cg-contrast: each subclasses :class:`CgContrastError` and a built-in exception."""

from __future__ import annotations

import os

from cg_ir.errors import CgError

__all__ = [
    "CgContrastError",
    "InvalidArgumentError",
    "PretrainCheckpointError",
    "StaleResultError",
]


class CgContrastError(CgError):
    """Base class of every error cg-contrast raises."""


class InvalidArgumentError(CgContrastError, ValueError):
    """An argument value that cannot be used; the message names the valid options."""


class PretrainCheckpointError(CgContrastError, RuntimeError):
    """A pretraining checkpoint that cannot be resumed (corrupt, or another configuration)."""


class StaleResultError(CgContrastError, ValueError):
    """A file to resume or reuse (training state, an ablation's encoder) made by other code.

    What other code computed may differ, so it is not continued or reused. The message names
    the file, the code digest it records (or that it records none), the running code's digest
    and the fix.

    Attributes:
        path: the file.
        stored: the code digest it records (None: none recorded).
        current: the running code's digest.
    """

    def __init__(
        self, path: str | os.PathLike[str], stored: str | None, current: str, fix: str
    ) -> None:
        self.path, self.stored, self.current = os.fspath(path), stored, current
        found = "records no code digest" if stored is None else f"has code digest {stored}"
        super().__init__(
            f"{self.path} was written by other code ({found}; the running code's is "
            f"{current}), so it is not reused: {fix}"
        )
