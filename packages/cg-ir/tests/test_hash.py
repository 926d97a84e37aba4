"""canonical_hash: invariant under topological relabelling; canonical() idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cg_ir import ComputationGraph, Node
from cg_ir.testing import computation_graphs, reordered_graphs

X = (4, 8, 8)


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(computation_graphs(max_nodes=25), st.data())
def test_hash_invariant_under_reordering(graph, data):
    other = data.draw(reordered_graphs(graph))
    assert other.canonical_hash() == graph.canonical_hash()
    assert other.params == graph.params and other.flops == graph.flops
    assert sorted(other.op_histogram().items()) == sorted(graph.op_histogram().items())


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(computation_graphs(max_nodes=25))
def test_canonical_is_idempotent(graph):
    once = graph.canonical()
    assert once.canonical() == once
    assert once.canonical_hash() == graph.canonical_hash()
    assert all(n.name == "" for n in once.nodes)
    assert once.same_structure(graph)


def _diamond(left: str, right: str) -> ComputationGraph:
    nodes = [
        Node("input", X, X),
        Node(left, X, X),
        Node(right, X, X),
        Node("add", X, X),
        Node("output", X, X),
    ]
    return ComputationGraph(nodes, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)])


def test_branch_order_does_not_matter():
    a, b = _diamond("relu", "sigmoid"), _diamond("sigmoid", "relu")
    assert a.canonical_hash() == b.canonical_hash()
    assert a.canonical() == b.canonical() and a.same_structure(b)


def test_hash_ignores_names_but_not_features():
    a = _diamond("relu", "sigmoid")
    named = ComputationGraph([n._replace(name=f"m{i}") for i, n in enumerate(a.nodes)], a.edges)
    assert named.canonical_hash() == a.canonical_hash()
    assert _diamond("relu", "gelu").canonical_hash() != a.canonical_hash()


def test_concat_input_order_matters():
    y = (8, 8, 8)

    def cat(first: str, second: str) -> ComputationGraph:
        nodes = [
            Node("input", X, X),
            Node(first, X, X),
            Node(second, X, X),
            Node("concat", y, y),
            Node("output", y, y),
        ]
        return ComputationGraph(nodes, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)])

    a, b = cat("relu", "sigmoid"), cat("sigmoid", "relu")
    assert a.canonical().canonical() == a.canonical()
    # same nodes and edges, but the concat reads its inputs in the other order
    assert not a.same_structure(b)
    assert a.same_structure(cat("relu", "sigmoid"))


def test_different_structure_different_hash():
    chain = ComputationGraph(
        [Node("input", X, X), Node("relu", X, X), Node("sigmoid", X, X), Node("output", X, X)],
        [(0, 1), (1, 2), (2, 3)],
    )
    assert chain.canonical_hash() != _diamond("relu", "sigmoid").canonical_hash()
    assert len(chain.canonical_hash()) == 64
