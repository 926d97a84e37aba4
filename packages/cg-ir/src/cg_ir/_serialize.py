"""JSON serialization of computation graphs (lossless, versioned)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from cg_ir._node import Node
from cg_ir._vocab import VOCAB_VERSION
from cg_ir.errors import GraphSerializationError, InvalidGraphError

if TYPE_CHECKING:
    from cg_ir._graph import ComputationGraph

__all__ = ["SCHEMA_VERSION", "graph_from_dict", "graph_from_json", "graph_to_dict", "graph_to_json"]

SCHEMA_VERSION = 2
# (schema, vocabulary) versions this cg-ir reads: v2 only added ops and shapes of any rank, so
# every file of v1 is a valid v2 graph.
_READABLE = {(1, "v1"), (SCHEMA_VERSION, VOCAB_VERSION)}
_SHAPE_FIELDS = ("input_shape", "output_shape")
_PAIR_FIELDS = ("input_shape", "output_shape", "kernel_size", "stride", "padding", "dilation")
_FIELD_TYPES: dict[str, type] = {
    **{field: tuple for field in _PAIR_FIELDS},
    "op": str,
    "groups": int,
    "in_channels": int,
    "out_channels": int,
    "bias": bool,
    "affine": bool,
    "name": str,
}


def graph_to_dict(graph: ComputationGraph) -> dict[str, Any]:
    defaults = Node("", (1, 1, 1), (1, 1, 1))
    nodes = []
    for node in graph.nodes:
        # fields at their default are left out to keep files small
        entry = {
            field: list(value) if isinstance(value, tuple) else value
            for field, value in node._asdict().items()
            if field in ("op", "input_shape", "output_shape") or value != getattr(defaults, field)
        }
        nodes.append(entry)
    return {
        "schema_version": SCHEMA_VERSION,
        "vocab_version": VOCAB_VERSION,
        "nodes": nodes,
        "edges": [list(edge) for edge in graph.edges],
    }


def graph_to_json(graph: ComputationGraph, indent: int | None = None) -> str:
    return json.dumps(graph_to_dict(graph), indent=indent)


def _node_from_dict(index: int, entry: Any) -> Node:
    if not isinstance(entry, dict) or "op" not in entry:
        raise GraphSerializationError(f"node {index} is not an object with an 'op' field")
    unknown = set(entry) - set(Node._fields)
    if unknown:
        raise GraphSerializationError(
            f"node {index} has unknown fields {sorted(unknown)}; known: {list(Node._fields)}"
        )
    values: dict[str, Any] = {}
    for field, value in entry.items():
        expected = _FIELD_TYPES[field]
        if field in _PAIR_FIELDS:
            ok = isinstance(value, list) and all(type(v) is int for v in value)
            ok = ok and (len(value) == 2 or field in _SHAPE_FIELDS)
            value = tuple(value) if ok else value
        else:
            ok = type(value) is expected
        if not ok:
            raise GraphSerializationError(
                f"node {index} field {field!r} has {value!r}; expected "
                f"{'a list of ints' if field in _PAIR_FIELDS else expected.__name__}"
            )
        values[field] = value
    return Node(**values)


def graph_from_dict(data: Any) -> ComputationGraph:
    from cg_ir._graph import ComputationGraph

    if not isinstance(data, dict):
        raise GraphSerializationError("a serialized graph must be a JSON object")
    versions = (data.get("schema_version"), data.get("vocab_version"))
    if versions not in _READABLE:
        readable = ", ".join(f"schema {a} with vocabulary {b}" for a, b in sorted(_READABLE))
        raise GraphSerializationError(
            f"schema_version {versions[0]!r} with vocab_version {versions[1]!r} is not "
            f"supported (this cg-ir reads {readable})"
        )
    nodes, edges = data.get("nodes"), data.get("edges")
    if not isinstance(nodes, list) or not isinstance(edges, list):
        raise GraphSerializationError("'nodes' and 'edges' must be lists")
    parsed = [_node_from_dict(i, entry) for i, entry in enumerate(nodes)]
    if not all(isinstance(e, list) and len(e) == 2 for e in edges):
        raise GraphSerializationError("every edge must be a [source, destination] pair")
    try:
        return ComputationGraph(parsed, [(e[0], e[1]) for e in edges])
    except InvalidGraphError as exc:
        raise GraphSerializationError(f"the serialized graph is invalid: {exc}") from exc


def graph_from_json(text: str | bytes) -> ComputationGraph:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphSerializationError(
            f"not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from exc
    return graph_from_dict(data)
