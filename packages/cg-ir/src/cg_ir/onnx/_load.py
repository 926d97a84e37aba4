"""Reading an ONNX model (path, bytes or ``ModelProto``) and inferring its tensor shapes."""

from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError

from cg_ir.errors import GraphSerializationError, ModelFileNotFoundError

__all__ = ["load_model", "value_shapes"]


def load_model(
    model: str | os.PathLike[str] | bytes | onnx.ModelProto,
) -> tuple[onnx.ModelProto, str]:
    """The ``ModelProto`` of ``model`` (a file path, the bytes of a file, or a loaded model).

    Weights stored as external data are not read (only their shapes matter); the second value
    is the folder they would be read from ("" for bytes and loaded models).

    Raises:
        ModelFileNotFoundError: the file does not exist.
        GraphSerializationError: its content is not an ONNX model (truncated, corrupt, another
            format); the message names the file.
    """
    if isinstance(model, onnx.ModelProto):
        return model, ""
    if isinstance(model, bytes):
        return _parse(model, "the given bytes"), ""
    path = Path(model)
    if not path.is_file():
        raise ModelFileNotFoundError(f"no ONNX file at {str(path)!r}")
    return _parse(path.read_bytes(), repr(str(path))), str(path.parent)


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    try:
        proto = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as error:
        raise GraphSerializationError(
            f"{where} is not an ONNX model (truncated or corrupt?): {error}"
        ) from error
    if not proto.graph.node or not proto.graph.output:
        raise GraphSerializationError(
            f"{where} holds no ONNX graph (an empty, truncated or non-ONNX file)"
        )
    return proto


def _batch_of_one(model: onnx.ModelProto, initializers: set[str]) -> None:
    """Set the batch axis of every real graph input to 1 (graphs describe one sample)."""
    for value in model.graph.input:
        if value.name in initializers or not value.type.HasField("tensor_type"):
            continue
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_value = 1


def value_shapes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, tuple[int, ...]]]:
    """The model at batch size 1 and the static shape of every value shape inference knows.

    Values whose shape stays symbolic or unknown are left out.

    Raises:
        GraphSerializationError: ONNX shape inference rejects the model (an invalid graph).
    """
    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    initializers = {t.name for t in fixed.graph.initializer}
    _batch_of_one(fixed, initializers)
    try:
        inferred = onnx.shape_inference.infer_shapes(fixed, strict_mode=True, data_prop=True)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as error:
        raise GraphSerializationError(
            f"ONNX shape inference fails on the model: {error}"
        ) from error
    shapes: dict[str, tuple[int, ...]] = {}
    graph = inferred.graph
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(int(d.dim_value) for d in dims)
    return inferred, shapes
