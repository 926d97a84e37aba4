"""Schema v2: shapes of any rank, owned tensors as source nodes, the new ops' rules."""

from __future__ import annotations

import pytest

from cg_ir import ComputationGraph, InvalidGraphError, Node, vocabulary
from cg_ir.features import FEATURE_COLUMNS, node_features
from cg_ir.testing import attention_graph

TOKENS = (16, 16)


def _rejects(nodes, edges, message):
    with pytest.raises(InvalidGraphError) as info:
        ComputationGraph(nodes, edges)
    assert message in str(info.value), str(info.value)


def test_v1_ops_keep_their_ids():
    v1 = vocabulary("v1")
    v2 = vocabulary()
    assert v2.version == "v2"
    assert all(v2.id(op) == v1.id(op) for op in v1.ops)
    assert {"parameter", "matmul", "softmax", "pad_reflect", "transpose"} <= set(v2.ops)


def test_attention_graph_costs():
    g = attention_graph()
    matmuls = [n for n in g.nodes if n.op == "matmul"]
    # torch.utils.flop_counter counts a bmm (b, m, k) @ (b, k, n) as 2*b*m*n*k
    assert [n.flops for n in matmuls] == [2 * 2 * 16 * 16 * 8, 2 * 2 * 16 * 8 * 16]
    token_linear = next(n for n in g.nodes if n.op == "linear")
    assert token_linear.flops == 2 * 16 * 16 * 16
    assert next(n for n in g.nodes if n.op == "layer_norm").params == 32


def test_parameter_nodes_are_sources_and_count_their_values():
    g = attention_graph()
    (pos,) = [i for i, n in enumerate(g.nodes) if n.op == "parameter"]
    assert g.predecessors(pos) == () and g.nodes[pos].params == 256
    assert g.canonical().same_structure(g)


def test_only_owned_tensors_may_be_sources():
    x = (4, 8, 8)
    nodes = [Node("input", x, x), Node("constant", x, x), Node("add", x, x), Node("output", x, x)]
    assert ComputationGraph(nodes, [(0, 2), (1, 2), (2, 3)]).params == 0
    relu_source = [Node("input", x, x), Node("relu", x, x), Node("add", x, x), nodes[-1]]
    _rejects(relu_source, [(0, 2), (1, 2), (2, 3)], "has no predecessor")
    fed = [Node("input", x, x), Node("parameter", x, x), nodes[-1]]
    _rejects(fed, [(0, 1), (1, 2)], "a parameter node is a source but has predecessors")


def test_matmul_rules():
    a, b = (2, 16, 8), (2, 8, 16)
    base = [Node("input", a, a), Node("parameter", b, b)]
    good = Node("matmul", a, (2, 16, 16), in_channels=8)
    out = Node("output", (2, 16, 16), (2, 16, 16))
    assert ComputationGraph([*base, good, out], [(0, 2), (1, 2), (2, 3)]).flops == 2 * 512 * 8
    _rejects([*base, good._replace(in_channels=4), out], [(0, 2), (1, 2), (2, 3)], "contract")
    swapped = [Node("input", a, a), Node("parameter", a, a), good, out]
    _rejects(swapped, [(0, 2), (1, 2), (2, 3)], "does not give (8, N)")


def test_pad_slice_reshape_transpose_rules():
    x = (4, 8, 8)
    inp = Node("input", x, x)
    pad = Node("pad_constant", x, (4, 9, 9), padding=(0, 0))
    ok = ComputationGraph([inp, pad, Node("output", (4, 9, 9), (4, 9, 9))], [(0, 1), (1, 2)])
    assert ok.flops == 0
    bad = pad._replace(padding=(2, 0))
    _rejects([inp, bad, Node("output", (4, 9, 9), (4, 9, 9))], [(0, 1), (1, 2)], "top, left")
    shuffle = Node("reshape", x, (2, 2, 8, 8))
    out4 = Node("output", (2, 2, 8, 8), (2, 2, 8, 8))
    assert ComputationGraph([inp, shuffle, out4], [(0, 1), (1, 2)]).num_nodes == 3
    _rejects([inp, shuffle._replace(output_shape=(2, 2, 8, 4)), out4], [(0, 1), (1, 2)], "size")
    perm = Node("transpose", x, (8, 8, 4))
    assert ComputationGraph([inp, perm, Node("output", (8, 8, 4), (8, 8, 4))], [(0, 1), (1, 2)])
    _rejects(
        [inp, perm._replace(output_shape=(8, 8, 5)), Node("output", (8, 8, 5), (8, 8, 5))],
        [(0, 1), (1, 2)],
        "not a permutation",
    )


def test_concat_along_tokens():
    cls, seq = (1, 16), (16, 16)
    nodes = [
        Node("input", seq, seq),
        Node("parameter", cls, cls),
        Node("concat", (17, 16), (17, 16)),
        Node("output", (17, 16), (17, 16)),
    ]
    g = ComputationGraph(nodes, [(1, 2), (0, 2), (2, 3)])
    assert g.params == 16 and g.canonical().edges != () and g.same_structure(g.canonical())


def test_features_project_every_rank():
    g = attention_graph()
    x = node_features(g)
    assert x.shape == (g.num_nodes, len(FEATURE_COLUMNS))
    rank = [name for name, _ in FEATURE_COLUMNS].index("out_rank")
    assert x[0, rank] * 4 == 3 and x[3, rank] * 4 == 2  # image input, (L, C) tokens
    channels = [name for name, _ in FEATURE_COLUMNS].index("out_channels_tensor")
    assert x[3, channels] * 512 == TOKENS[1]


def test_canonical_form_keeps_the_input_first_among_sources():
    x = (4, 8, 8)
    nodes = [Node("input", x, x)]
    edges = []
    for k in range(6):  # sources whose colours may sort before the input's
        nodes += [Node("parameter", (4, 1, 1), (4, 1, 1)), Node("mul", x, x)]
        edges += [(len(nodes) - 3 if k else 0, len(nodes) - 1), (len(nodes) - 2, len(nodes) - 1)]
    nodes.append(Node("output", x, x))
    edges.append((len(nodes) - 2, len(nodes) - 1))
    g = ComputationGraph(nodes, edges)
    assert g.canonical().nodes[0].op == "input" and g.same_structure(g.canonical())
