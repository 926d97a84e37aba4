"""cg-ir: any CNN as a computation graph of primitive operators."""

from cg_ir import families
from cg_ir._atomic import atomic_output, write_json
from cg_ir._graph import ComputationGraph
from cg_ir._node import Node, Shape
from cg_ir._vocab import VOCAB_VERSION, vocabulary
from cg_ir.errors import (
    BackendUnavailableError,
    CgError,
    CgIrError,
    ExecutorClosedError,
    GraphSerializationError,
    InvalidArgumentError,
    InvalidGraphError,
    InvalidSpecError,
    ModelFileNotFoundError,
    UnknownBackendError,
    UnknownFamilyError,
    UnsupportedOperatorError,
    UntraceableModuleError,
    UsageError,
)
from cg_ir.features import FEATURE_SCHEMA_VERSION

__version__ = "0.1.0"

__all__ = [
    # graph
    "ComputationGraph",
    "Node",
    "Shape",
    "VOCAB_VERSION",
    "FEATURE_SCHEMA_VERSION",
    "vocabulary",
    # conversion
    "from_module",
    "from_onnx",
    "families",
    # files
    "atomic_output",
    "write_json",
    # errors
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


def __getattr__(name: str) -> object:
    # from_module pulls in torch and from_onnx onnx; importing cg_ir alone must stay cheap
    if name == "from_module":
        from cg_ir.fx import from_module

        return from_module
    if name == "from_onnx":
        from cg_ir.onnx import from_onnx

        return from_onnx
    raise AttributeError(f"module 'cg_ir' has no attribute {name!r}")
