"""JSON round trip (property), rejected files with their messages, networkx and PyG exports."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from cg_ir import (
    FEATURE_SCHEMA_VERSION,
    ComputationGraph,
    GraphSerializationError,
    Node,
    vocabulary,
)
from cg_ir.features import FEATURE_COLUMNS
from cg_ir.testing import attention_graph, computation_graphs

X = (4, 8, 8)


def small_graph() -> ComputationGraph:
    nodes = [
        Node("input", X, X),
        Node("conv", X, (6, 8, 8), (3, 3), (1, 1), (1, 1), (1, 1), 1, 4, 6, True, name="c1"),
        Node("relu", (6, 8, 8), (6, 8, 8), name="act"),
        Node("concat", (10, 8, 8), (10, 8, 8)),
        Node("output", (10, 8, 8), (10, 8, 8)),
    ]
    return ComputationGraph(nodes, [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4)])


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(computation_graphs(max_nodes=25))
def test_json_round_trip_is_exact(graph):
    again = ComputationGraph.from_json(graph.to_json())
    assert again == graph
    assert [n.name for n in again.nodes] == [n.name for n in graph.nodes]
    assert again.canonical_hash() == graph.canonical_hash()
    assert ComputationGraph.from_dict(graph.to_dict()) == graph


def test_round_trip_keeps_concat_order_and_names():
    g = small_graph()
    text = g.to_json(indent=2)
    again = ComputationGraph.from_json(text.encode())
    assert again == g and again.edges[3] == (0, 3) and again.nodes[1].name == "c1"
    data = json.loads(text)
    assert data["schema_version"] == 2 and data["vocab_version"] == "v2"
    assert "kernel_size" not in data["nodes"][2]  # defaults are left out


def _error(text, message):
    with pytest.raises(GraphSerializationError) as info:
        ComputationGraph.from_json(text)
    assert message in str(info.value), str(info.value)
    assert isinstance(info.value, ValueError)


def test_truncated_json():
    text = small_graph().to_json()
    _error(text[: len(text) // 2], "not valid JSON (truncated or corrupt?)")


def test_wrong_schema_version():
    data = small_graph().to_dict()
    data["schema_version"] = 99
    readable = "(this cg-ir reads schema 1 with vocabulary v1, schema 2 with vocabulary v2)"
    _error(
        json.dumps(data), f"schema_version 99 with vocab_version 'v2' is not supported {readable}"
    )
    del data["schema_version"]
    _error(json.dumps(data), "schema_version None with vocab_version 'v2' is not supported")


def test_wrong_vocab_version():
    data = small_graph().to_dict()
    data["vocab_version"] = "v0"
    _error(json.dumps(data), "vocab_version 'v0' is not supported (this cg-ir reads schema 1")


def test_schema_1_files_still_read():
    # every v1 op kept its id and (C, H, W) shapes are valid v2 shapes: old files read as they are
    data = small_graph().to_dict()
    data["schema_version"], data["vocab_version"] = 1, "v1"
    assert ComputationGraph.from_dict(data) == small_graph()


def test_token_graph_round_trip():
    g = attention_graph()
    again = ComputationGraph.from_json(g.to_json())
    assert again == g and again.nodes[4].op == "parameter"


def test_unknown_node_field():
    data = small_graph().to_dict()
    data["nodes"][1]["colour"] = "red"
    _error(json.dumps(data), "node 1 has unknown fields ['colour']; known: ['op', 'input_shape'")


def test_malformed_parts():
    data = small_graph().to_dict()
    _error("[1, 2]", "a serialized graph must be a JSON object")
    _error(json.dumps({**data, "nodes": {}}), "'nodes' and 'edges' must be lists")
    _error(
        json.dumps({**data, "nodes": [{"input_shape": [1, 1, 1]}]}),
        "node 0 is not an object with an 'op' field",
    )
    _error(
        json.dumps({**data, "edges": [[0, 1, 2]]}),
        "every edge must be a [source, destination] pair",
    )
    bad = json.loads(json.dumps(data))
    bad["nodes"][2]["input_shape"] = ["x", 8, 8]
    _error(json.dumps(bad), "node 2 field 'input_shape' has ['x', 8, 8]; expected a list of ints")
    bad = json.loads(json.dumps(data))
    bad["nodes"][1]["groups"] = "1"
    _error(json.dumps(bad), "node 1 field 'groups' has '1'; expected int")


def test_invalid_graph_in_file():
    data = small_graph().to_dict()
    data["edges"] = data["edges"][:-1]
    _error(json.dumps(data), "the serialized graph is invalid: node 3 (concat): has no successor")


def test_to_networkx_node_attributes():
    g = small_graph()
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 5 and nxg.number_of_edges() == 5
    assert nxg.nodes[1]["op"] == "conv" and nxg.nodes[1]["kernel_size"] == (3, 3)
    assert nxg.nodes[1]["name"] == "c1" and nxg.nodes[4]["output_shape"] == (10, 8, 8)
    assert set(nxg.successors(0)) == {1, 3}


def test_to_pyg_layout():
    pytest.importorskip("torch_geometric", reason="to_pyg needs the pyg extra")
    g = small_graph()
    data = g.to_pyg()
    assert tuple(data.x.shape) == (5, len(FEATURE_COLUMNS))
    assert tuple(data.op.shape) == (5,) and tuple(data.edge_index.shape) == (2, 5)
    assert data.edge_index[:, 3].tolist() == [0, 3]
    assert data.op.tolist()[1] == vocabulary().id("conv")
    assert data.feature_schema_version == FEATURE_SCHEMA_VERSION
    assert data.x[1, 0].item() == pytest.approx(4 / 512)  # in channels, scaled
