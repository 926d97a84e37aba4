"""Errors raised by cg-predict; each also subclasses the built-in exception it refines.

Catch :class:`CgPredictError` for anything cg-predict raises on purpose, or the built-in
(``FileNotFoundError``, ``ValueError``) where generic code already handles those.
"""

from __future__ import annotations

import os

from cg_ir.errors import CgError

__all__ = [
    "BenchmarkDataError",
    "CgPredictError",
    "CheckpointError",
    "InvalidArgumentError",
    "InvalidLabelError",
    "MalformedDataError",
    "MetricInputError",
    "ProxyCacheError",
    "ProxyComputationError",
    "StaleResultError",
    "TargetLeakError",
    "UnknownArchitectureError",
    "UnknownBenchmarkError",
    "UnknownProxyError",
]


class CgPredictError(CgError):
    """Base class of every error raised by cg-predict."""


class BenchmarkDataError(CgPredictError, FileNotFoundError):
    """A benchmark data file or the data directory itself cannot be found.

    The message names the full path that was tried, how the data directory is chosen
    (``--data-dir`` or the ``CGNAS_DATA_DIR`` environment variable) and where the file comes from.

    Attributes:
        path: the file or directory that was looked for, or ``None`` when no data directory was
            configured at all.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)


class MalformedDataError(CgPredictError, ValueError):
    """A benchmark file exists but cannot be read.

    Truncated or invalid JSON, a missing column, a row that does not parse, an architecture key
    in the wrong encoding, a duplicate key, or a pickle that refers to a class it may not load;
    the message names the file, the line or key, and what was wrong.

    Attributes:
        path: the file that is malformed.
    """

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = os.fspath(path)


class InvalidLabelError(CgPredictError, ValueError):
    """An accuracy label is not a number, NaN or outside [0, 100].

    The message names the architecture key and the file.
    """


class InvalidArgumentError(CgPredictError, ValueError):
    """A caller passed an argument outside its valid options (the message lists them)."""


class UnknownArchitectureError(CgPredictError, KeyError):
    """A benchmark table has no architecture of that key; the message names the table."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownBenchmarkError(InvalidArgumentError):
    """``load_benchmark`` was given a benchmark name it does not know."""


class MetricInputError(InvalidArgumentError):
    """Inputs of a metric are unusable: different lengths, too few values, NaN, or a bad ``k``."""


class CheckpointError(CgPredictError, ValueError):
    """A checkpoint file cannot be used.

    Missing, truncated or corrupt, not a cg-predict checkpoint, of the wrong kind (encoder-only
    vs. full predictor), refused by the safe loader (``torch.load(weights_only=True)``), or made
    for another feature schema or op vocabulary. The message names the file and says how to fix
    it.

    Attributes:
        path: the checkpoint file.
    """

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = os.fspath(path)


class UnknownProxyError(InvalidArgumentError):
    """A zero-cost proxy name that ``cg_predict.proxies`` does not know (the message lists them)."""


class ProxyComputationError(CgPredictError, RuntimeError):
    """A zero-cost proxy cannot be computed on this module.

    For example the module returns no ``(batch, classes)`` logits tensor, has no conv or linear
    layer to score, or (``nwot``) no ``nn.ReLU`` module to hook. The message names the proxy,
    what is missing and what to change.
    """


class ProxyCacheError(CgPredictError, ValueError):
    """A proxy cache file exists but is not a cg-predict proxy cache (or is corrupt).

    Attributes:
        path: the cache file.
    """

    def __init__(self, message: str, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = os.fspath(path)


__all__ += ["ProxyCacheError", "ProxyComputationError", "UnknownProxyError"]


class StaleResultError(CgPredictError, ValueError):
    """A results file to resume was written by other code than the running one.

    Its finished runs came from code that may compute other numbers, so they are not mixed
    with new ones. The message names the file, the code digest it records (or that it records
    none) and the running code's, and the fix: recompute with ``--force`` (``force=True``),
    which overwrites the file, or delete the file.

    Attributes:
        path: the results file.
        stored: the code digest the file records (None: none recorded).
        current: the running code's digest.
    """

    def __init__(self, path: str | os.PathLike[str], stored: str | None, current: str) -> None:
        self.path, self.stored, self.current = os.fspath(path), stored, current
        found = "records no code digest" if stored is None else f"has code digest {stored}"
        super().__init__(
            f"{self.path} was written by other code ({found}; the running code's is "
            f"{current}), so its finished runs are not resumed: rerun with --force "
            "(force=True) to recompute them and overwrite the file, or delete it"
        )


__all__ += ["StaleResultError"]


class TargetLeakError(CgPredictError, RuntimeError):
    """A label of the target family was about to train, or did train, the model measured."""
