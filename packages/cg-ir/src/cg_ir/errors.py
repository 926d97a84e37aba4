"""Errors raised by cg-ir, and the root of every cg-nas package's errors.

Each error also subclasses the built-in exception it refines. :class:`CgError` is the one base
of every error a cg-nas package (cg-ir, cg-predict, cg-contrast, cg-evo, and plugins that follow
them) raises on purpose: ``cgnas`` catches it once and prints its message as one line.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CgError",
    "CgIrError",
    "ExecutorClosedError",
    "GraphSerializationError",
    "InvalidArgumentError",
    "InvalidGraphError",
    "InvalidSpecError",
    "ModelFileNotFoundError",
    "UnknownBackendError",
    "UnknownFamilyError",
    "UnsupportedOperatorError",
    "UntraceableModuleError",
    "UsageError",
]


class CgError(Exception):
    """Base class of every error a cg-nas package raises on purpose."""


class CgIrError(CgError):
    """Base class of every error raised by cg-ir."""


class UsageError(CgIrError, ValueError):
    """A command-line argument that cannot be used (reported as one line, exit status 2)."""


class InvalidArgumentError(CgIrError, ValueError):
    """An argument of a cg-ir function or class is outside what it accepts; the message says why."""


class InvalidGraphError(CgIrError, ValueError):
    """A computation graph breaks one of its invariants (cycle, shape mismatch, unknown op, ...)."""


class InvalidSpecError(CgIrError, ValueError):
    """An architecture spec or key is not a valid member of its family; the message says why."""


class UnknownFamilyError(CgIrError, LookupError):
    """No family is registered under the requested name."""


class UnknownBackendError(CgIrError, ValueError):
    """No executor backend has the requested name (``cg_ir.executor.BACKENDS`` lists them)."""


class BackendUnavailableError(CgIrError, ImportError):
    """An executor backend's package is not installed; the message gives the ``pip`` command."""


class ExecutorClosedError(CgIrError, RuntimeError):
    """An executor was asked for work after it was closed."""


class GraphSerializationError(CgIrError, ValueError):
    """A serialized graph cannot be read (bad JSON, wrong schema or vocabulary version)."""


class ModelFileNotFoundError(CgIrError, FileNotFoundError):
    """A model file to convert (e.g. an ONNX file) does not exist; the message names the path."""


class UnsupportedOperatorError(CgIrError, NotImplementedError):
    """``from_module`` met an operator it cannot lower to a primitive op.

    Attributes:
        op: the operator (module class name, function or method name).
        module_path: the dotted path of the module in the traced network ("" for the root).
    """

    def __init__(self, op: str, module_path: str, hint: str = "") -> None:
        self.op = op
        self.module_path = module_path
        where = module_path or "<root module>"
        message = f"cannot lower operator {op!r} at {where!r} to a cg-ir primitive"
        super().__init__(f"{message}: {hint}" if hint else message)


class UntraceableModuleError(CgIrError, RuntimeError):
    """torch.fx cannot trace the module (data-dependent control flow, untraceable helper).

    Attributes:
        module_type: the class of the innermost submodule being traced when tracing failed
            (None when it failed in the root module's own code).
    """

    def __init__(self, message: str, module_type: type | None = None) -> None:
        super().__init__(message)
        self.module_type = module_type
