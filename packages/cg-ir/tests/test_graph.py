"""ComputationGraph: validation (every rejected graph, message asserted), immutability, costs."""

from __future__ import annotations

import pytest

from cg_ir import ComputationGraph, InvalidGraphError, Node

X = (8, 16, 16)


def inp(shape=X):
    return Node("input", shape, shape)


def out(shape=X):
    return Node("output", shape, shape)


def relu(shape=X):
    return Node("relu", shape, shape)


def conv(cin=8, cout=8, size=16, k=3, s=1, p=1, d=1, groups=1, op="conv", out_size=None):
    o = out_size if out_size is not None else (size + 2 * p - d * (k - 1) - 1) // s + 1
    return Node(
        op, (cin, size, size), (cout, o, o), (k, k), (s, s), (p, p), (d, d), groups, cin, cout
    )


def chain(*middle, first=X, last=None):
    nodes = [inp(first), *middle, out(last or middle[-1].output_shape)]
    return nodes, [(i, i + 1) for i in range(len(nodes) - 1)]


def test_valid_chain_costs():
    g = ComputationGraph(*chain(conv(), relu()))
    assert (g.num_nodes, g.num_edges) == (4, 3)
    assert g.params == 8 * 8 * 9
    assert g.flops == 2 * 8 * 16 * 16 * 8 * 9 + 8 * 16 * 16
    assert g.node_params() == [0, 576, 0, 0]
    assert g.op_histogram() == {"input": 1, "conv": 1, "relu": 1, "output": 1}
    assert g.input_shape == X and g.output_shape == X


def _rejects(nodes, edges, message):
    with pytest.raises(InvalidGraphError) as info:
        ComputationGraph(nodes, edges)
    assert message in str(info.value), str(info.value)
    assert isinstance(info.value, ValueError)


def test_too_few_nodes():
    _rejects([inp()], [], "needs an input and an output node, got 1")


def test_edge_out_of_range():
    _rejects([inp(), out()], [(0, 2)], "edge (0, 2) refers to a node outside 0..1")


def test_backward_edge_is_a_cycle():
    nodes = [inp(), relu(), relu(), out()]
    _rejects(nodes, [(0, 1), (2, 1), (1, 2), (2, 3)], "edge (2, 1) goes backwards")
    _rejects(nodes, [(0, 1), (1, 1), (1, 2), (2, 3)], "(a graph that cannot be ordered so has a")


def test_two_inputs():
    nodes = [inp(), inp(), Node("add", X, X), out()]
    _rejects(
        nodes,
        [(0, 2), (1, 2), (2, 3)],
        "node 1 (input): exactly one input node (first) and one output node (last)",
    )


def test_output_not_last():
    nodes = [inp(), out(), relu()]
    _rejects(nodes, [(0, 1), (1, 2)], "node 1 (output): exactly one input node (first)")


def test_dangling_sink():
    nodes = [inp(), relu(), relu(), out()]
    _rejects(
        nodes,
        [(0, 1), (0, 2), (2, 3)],
        "node 1 (relu): has no successor, but only the output node may be a sink",
    )


def test_second_source():
    nodes = [inp(), relu(), Node("add", X, X), out()]
    _rejects(
        nodes,
        [(0, 2), (1, 2), (2, 3)],
        "node 1 (relu): has no predecessor; only input, parameter and constant nodes are sources",
    )


def test_input_with_predecessor():
    # the only way to give the input a predecessor is a backward edge, caught first
    _rejects([inp(), out()], [(1, 0), (0, 1)], "goes backwards")


def test_shape_mismatch_names_the_node():
    nodes = [inp(), relu((4, 16, 16))._replace(name="features.1"), out((4, 16, 16))]
    _rejects(
        nodes,
        [(0, 1), (1, 2)],
        "node 1 (relu 'features.1'): receives (8, 16, 16) but declares input_shape (4, 16, 16)",
    )


def test_unknown_op():
    nodes = [inp(), Node("swish", X, X), out()]
    _rejects(nodes, [(0, 1), (1, 2)], "node 1 (swish): unknown op 'swish'; the vocabulary v2 has")
    _rejects([inp(), Node("reserved_1", X, X), out()], [(0, 1), (1, 2)], "unknown op")


def test_nonpositive_dims():
    _rejects(*chain(relu((8, 0, 16)), first=(8, 0, 16)), "all of positive size")


def test_unary_with_two_inputs():
    nodes = [inp(), relu(), relu(), out()]
    _rejects(nodes, [(0, 1), (0, 2), (1, 2), (2, 3)], "node 2 (relu): relu takes one input, got 2")


def test_nary_needs_two_inputs():
    _rejects(*chain(Node("add", X, X)), "add needs at least 2 inputs, got 1")


def test_nary_shape_kept():
    _rejects(
        *chain(Node("concat", X, (16, 16, 16))), "concat must have input_shape == output_shape"
    )


def test_concat_channel_mismatch():
    y = (16, 16, 16)
    nodes = [inp(), relu(), Node("concat", (12, 16, 16), (12, 16, 16)), out((12, 16, 16))]
    _rejects(
        nodes,
        [(0, 1), (0, 2), (1, 2), (2, 3)],
        "concat of [(8, 16, 16), (8, 16, 16)] along one axis does not give (12, 16, 16)",
    )
    ok = ComputationGraph(
        [inp(), relu(), Node("concat", y, y), out(y)], [(0, 1), (0, 2), (1, 2), (2, 3)]
    )
    assert ok.output_shape == y


def test_concat_spatial_mismatch():
    small = (8, 8, 8)
    nodes = [
        inp(),
        Node("max_pool", X, small, (2, 2), (2, 2), (0, 0), (1, 1)),
        Node("concat", (16, 8, 8), (16, 8, 8)),
        out((16, 8, 8)),
    ]
    _rejects(
        nodes,
        [(0, 1), (0, 2), (1, 2), (2, 3)],
        "concat of [(8, 16, 16), (8, 8, 8)] along one axis does not give (16, 8, 8)",
    )


def test_add_broadcast_mismatch():
    small = (4, 16, 16)
    nodes = [inp(), conv(cout=4), Node("add", X, X), out()]
    _rejects(
        nodes,
        [(0, 1), (0, 2), (1, 2), (2, 3)],
        f"add inputs [{X}, {small}] do not broadcast to {X}",
    )


def test_se_scale_broadcasts():
    se = (8, 1, 1)
    nodes = [
        inp(),
        Node("global_avg_pool", X, se),
        Node("sigmoid", se, se),
        Node("mul", X, X),
        out(),
    ]
    g = ComputationGraph(nodes, [(0, 1), (1, 2), (0, 3), (2, 3), (3, 4)])
    assert g.node_flops()[3] == 8 * 16 * 16


def test_conv_channel_attrs():
    bad = conv()._replace(in_channels=4)
    _rejects(*chain(bad), "in/out_channels disagree with the tensor shapes")


def test_conv_groups_must_divide():
    _rejects(*chain(conv(cin=8, cout=6, groups=4)), "groups=4 must divide 8 and 6")
    _rejects(*chain(conv(groups=0)), "groups=0 must divide 8 and 8")


def test_conv_spatial_size():
    _rejects(*chain(conv(out_size=15)), "spatial output (8, 15, 15) should have 16")


def test_depthwise_rule():
    _rejects(
        *chain(conv(groups=8)), "depthwise_conv needs groups == in_channels > 1; conv must not"
    )
    _rejects(*chain(conv(groups=4, op="depthwise_conv")), "depthwise_conv needs groups")
    g = ComputationGraph(*chain(conv(groups=8, op="depthwise_conv")))
    assert g.params == 8 * 9


def test_linear_rule():
    flat = Node("linear", X, (10, 1, 1), in_channels=8 * 16 * 16, out_channels=10)
    per_pos = Node("linear", X, (10, 16, 16), in_channels=8, out_channels=10, bias=True)
    assert ComputationGraph(*chain(flat)).params == 8 * 16 * 16 * 10
    assert ComputationGraph(*chain(per_pos)).params == 8 * 10 + 10
    wrong = Node("linear", X, (10, 1, 1), in_channels=8, out_channels=10)
    _rejects(*chain(wrong), "linear 8->10 does not map (8, 16, 16) to (10, 1, 1)")
    _rejects(*chain(per_pos._replace(out_channels=9)), "linear 8->9 does not map")


def test_elementwise_keeps_shape():
    _rejects(*chain(Node("batch_norm", X, (8, 8, 8))), "batch_norm must keep the shape")
    _rejects([inp(), Node("output", X, (1, 1, 1))], [(0, 1)], "output must keep the shape")


def test_pool_rules():
    half = (8, 8, 8)
    ok = Node("max_pool", X, half, (3, 3), (2, 2), (1, 1), (1, 1))
    assert ComputationGraph(*chain(ok)).output_shape == half
    _rejects(*chain(ok._replace(output_shape=(8, 5, 5))), "pooled size 5 is not one of (8, 9)")
    _rejects(*chain(ok._replace(output_shape=(4, 8, 8))), "pooling must keep the channels")


def test_adaptive_and_upsample_rules():
    _rejects(*chain(Node("global_avg_pool", X, (8, 2, 2))), "global pooling must output 1x1")
    _rejects(
        *chain(Node("adaptive_avg_pool", X, (4, 2, 2))), "adaptive_avg_pool must keep the channels"
    )
    _rejects(
        *chain(Node("upsample_nearest", X, (4, 32, 32))), "upsample_nearest must keep the channels"
    )


def test_slice_rule():
    _rejects(
        *chain(Node("slice", X, (9, 16, 16))),
        "slice of (8, 16, 16) cannot give (9, 16, 16)",
    )


def test_immutable():
    g = ComputationGraph(*chain(relu()))
    with pytest.raises(AttributeError):
        g.nodes = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        g.num_nodes = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        g.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        g.nodes[1].op = "gelu"  # type: ignore[misc]
    assert isinstance(g.nodes, tuple) and isinstance(g.edges, tuple)


def test_equality_and_repr():
    a = ComputationGraph(*chain(relu()))
    b = ComputationGraph(*chain(relu()))
    assert a == b and hash(a) == hash(b)
    assert "num_nodes=3" in repr(a)
    assert a != ComputationGraph(*chain(Node("gelu", X, X)))


def test_nodes_from_plain_tuples_and_lists():
    g = ComputationGraph([tuple(n) for n in chain(relu())[0]], [[0, 1], [1, 2]])
    assert g.nodes[1] == relu() and g.edges == ((0, 1), (1, 2))


def test_add_flops_count_inputs_beyond_first():
    nodes = [inp(), relu(), relu(), Node("add", X, X), out()]
    g = ComputationGraph(nodes, [(0, 1), (0, 2), (0, 3), (1, 3), (2, 3), (3, 4)])
    n = 8 * 16 * 16
    assert g.node_flops()[3] == 2 * n
    assert g.predecessors(3) == (0, 1, 2) and g.successors(0) == (1, 2, 3)
