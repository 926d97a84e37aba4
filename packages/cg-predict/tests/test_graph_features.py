"""Graph-level cost features: their values, packing, the head option and its checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cg_ir import ComputationGraph, Node
from cg_predict.checkpoint import load_checkpoint, save_checkpoint
from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import (
    GRAPH_FEATURE_SCALINGS,
    GRAPH_FEATURES,
    GraphSet,
    graph_feature_column,
    graph_features,
    operator_depth,
)
from cg_predict.head import Head, HeadConfig
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor
from cg_predict.training import fine_tune, fit, predict

SMALL = EncoderConfig(num_layers=2, dim=16, op_dim=8)
COSTS = ("log_flops", "log_params", "depth")


def hand_graph() -> ComputationGraph:
    """10 nodes, 99 FLOPs, 9 parameters, 7 operators on the longest path.

    FLOPs: linear 2*1*9 = 18, four unary ops 4*9 = 36, relu after the first add 9, and two
    3-input adds 2 * (3 - 1) * 9 = 36: 99 in all. Parameters: the bias-free 1 -> 9 linear, 9.
    Longest path: linear, relu, tanh, relu, add, relu, add (input and output do not count).
    """
    one, nine = (1, 1, 1), (9, 1, 1)
    nodes = [
        Node("input", one, one),  # 0
        Node("linear", one, nine, in_channels=1, out_channels=9),  # 1
        Node("relu", nine, nine),  # 2
        Node("tanh", nine, nine),  # 3
        Node("relu", nine, nine),  # 4
        Node("tanh", nine, nine),  # 5
        Node("add", nine, nine),  # 6
        Node("relu", nine, nine),  # 7
        Node("add", nine, nine),  # 8
        Node("output", nine, nine),  # 9
    ]
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (4, 6), (5, 6), (1, 6), (6, 7)]
    edges += [(7, 8), (6, 8), (2, 8), (8, 9)]
    return ComputationGraph(nodes, edges)


# log10(1 + 99) - 8, log10(1 + 9) - 6, 7 / 100, log10(10) - 2
HAND_FEATURES = np.array([-6.0, -5.0, 0.07, -1.0], dtype=np.float32)


def test_feature_values_of_a_hand_made_graph():
    g = hand_graph()
    assert (g.flops, g.params, g.num_nodes, operator_depth(g)) == (99, 9, 10, 7)
    assert GRAPH_FEATURES == ("log_flops", "log_params", "depth", "log_nodes")
    np.testing.assert_array_equal(graph_features(g), HAND_FEATURES)


def test_graph_features_are_packed_subset_concatenated_batched_and_saved(toy_data, tmp_path):
    graphs, _ = toy_data(3)
    gs = GraphSet.from_graphs([hand_graph(), *graphs])
    assert gs.graph_x is not None and gs.graph_x.shape == (4, 2 * len(GRAPH_FEATURES))
    np.testing.assert_array_equal(gs.graph_x[0, :4], HAND_FEATURES)
    expected = np.stack([graph_features(g) for g in graphs])
    np.testing.assert_array_equal(gs.subset([3, 1, 2]).graph_x[:, :4], expected[[2, 0, 1]])
    both = GraphSet.concat([gs, gs.subset([0])])
    np.testing.assert_array_equal(both.graph_x, np.concatenate([gs.graph_x, gs.graph_x[:1]]))
    batch = gs.batch([2, 0])
    np.testing.assert_array_equal(batch.graph_x.numpy(), gs.graph_x[[2, 0]])
    gs.save(tmp_path / "set.npz")
    loaded, _ = GraphSet.load(tmp_path / "set.npz")
    np.testing.assert_array_equal(loaded.graph_x, gs.graph_x)


def test_sets_without_graph_features_stay_without():
    gs = GraphSet.from_graphs([hand_graph()])
    bare = GraphSet(gs.x, gs.op, gs.edge_index, gs.node_ptr, gs.edge_ptr)
    assert bare.graph_x is None and not hasattr(bare.batch(), "graph_x")
    assert GraphSet.concat([gs, bare]).graph_x is None


def test_unknown_feature_name_lists_the_valid_ones():
    with pytest.raises(InvalidArgumentError) as info:
        HeadConfig(graph_features=("log_flops", "width"))
    message = str(info.value)
    assert "['width']" in message
    assert all(name in message for name in GRAPH_FEATURES)


def test_old_head_dict_without_the_key_loads_with_no_features():
    old = {"in_dim": 16, "hidden": [32, 32], "activation": "relu", "dropout": 0.0}
    assert HeadConfig.from_dict(old).graph_features == ()
    net = PredictorNet.from_config({"encoder": SMALL.to_dict(), "head": old})
    assert net.head.config == HeadConfig(in_dim=16)


def test_old_format_checkpoint_loads(toy_data, tmp_path):
    """A checkpoint written before the option existed: its head config lacks the key."""
    graphs, _ = toy_data(4)
    torch.manual_seed(0)
    net = PredictorNet(SMALL)
    path = tmp_path / "old.pt"
    save_checkpoint(path, net)
    payload = torch.load(path, weights_only=True)
    config = json.loads(payload["config"])
    del config["head"]["graph_features"]
    payload["config"] = json.dumps(config)
    torch.save(payload, path)
    loaded = load_checkpoint(path).model
    assert loaded.head.config.graph_features == ()
    np.testing.assert_array_equal(predict(loaded, graphs), predict(net, graphs))


@pytest.mark.parametrize("names", [(), COSTS])
def test_checkpoint_round_trip(names, toy_data, tmp_path):
    graphs, _ = toy_data(4)
    torch.manual_seed(0)
    net = PredictorNet(SMALL, HeadConfig(graph_features=names))
    path = tmp_path / "ck.pt"
    save_checkpoint(path, net)
    loaded = load_checkpoint(path).model
    assert loaded.config() == net.config()
    assert loaded.head.config.graph_features == names
    np.testing.assert_array_equal(predict(loaded, graphs), predict(net, graphs))
    scores = Predictor.load(path).predict(graphs)
    np.testing.assert_array_equal(scores, predict(net, graphs))


def test_default_is_identical_to_a_head_without_the_field(toy_data):
    graphs, labels = toy_data(12)
    gs = GraphSet.from_graphs(graphs, hashes=True)
    bare = GraphSet(gs.x, gs.op, gs.edge_index, gs.node_ptr, gs.edge_ptr, gs.hashes)

    def trained(head: HeadConfig, graph_set: GraphSet) -> np.ndarray:
        torch.manual_seed(0)
        net = PredictorNet(SMALL, head)
        fit(net, graph_set, labels, ["toy"] * 12, val=0, epochs=2, progress=False)
        return predict(net, graph_set)

    plain = trained(HeadConfig(), bare)  # as before the option: no graph features anywhere
    np.testing.assert_array_equal(trained(HeadConfig(graph_features=()), gs), plain)
    torch.manual_seed(0)
    default = PredictorNet(SMALL)
    assert default.head.mlp[0].in_features == SMALL.dim


def test_a_model_with_graph_features_trains(toy_data):
    graphs, labels = toy_data(16)
    torch.manual_seed(0)
    net = PredictorNet(SMALL, HeadConfig(graph_features=COSTS))
    assert net.head.mlp[0].in_features == SMALL.dim + len(COSTS)
    before = net.head.mlp[0].weight.detach().clone()
    result = fit(net, graphs, labels, ["toy"] * 16, val=0, epochs=1, batch_size=16, progress=False)
    assert np.isfinite(result.history[0]["train_loss"])
    assert not torch.equal(net.head.mlp[0].weight, before)
    for mode in ("head", "full"):
        fine_tune(net, graphs[:6], labels[:6], mode=mode, epochs=1)
    assert np.isfinite(predict(net, graphs)).all()


def test_a_head_with_graph_features_refuses_batches_without_them():
    gs = GraphSet.from_graphs([hand_graph()])
    bare = GraphSet(gs.x, gs.op, gs.edge_index, gs.node_ptr, gs.edge_ptr)
    net = PredictorNet(SMALL, HeadConfig(graph_features=("depth",)))
    with pytest.raises(InvalidArgumentError, match="graph features"):
        predict(net, bare)


# -- set scaling: graph features standardised within the set they were packed in ----------


def relu_graph(elements: int) -> ComputationGraph:
    """input -> relu -> output on ``elements`` values: ``elements`` FLOPs, 0 params, depth 1."""
    shape = (elements, 1, 1)
    nodes = [Node("input", shape, shape), Node("relu", shape, shape), Node("output", shape, shape)]
    return ComputationGraph(nodes, [(0, 1), (1, 2)])


# set A: 9, 99 and 999 FLOPs, log_flops -7, -6, -5 (mean -6, population std sqrt(2/3)); the
# other three features are equal in all three graphs, hence 0
ROOT = np.sqrt(1.5)
SET_A = np.array([[-ROOT, 0, 0, 0], [0, 0, 0, 0], [ROOT, 0, 0, 0]])
# set B: the hand-made graph (-6, -5, 0.07, -1) and relu_graph(9) (-7, -6, 0.01, -1.52):
# two distinct values per feature, so every column is -1 or +1
SET_B = np.array([[1, 1, 1, 1], [-1, -1, -1, -1]])
SET = slice(len(GRAPH_FEATURES), None)  # the set-scaled columns of graph_x


def sets_a_and_b() -> tuple[GraphSet, GraphSet]:
    return (
        GraphSet.from_graphs([relu_graph(9), relu_graph(99), relu_graph(999)]),
        GraphSet.from_graphs([hand_graph(), relu_graph(9)]),
    )


def test_set_scaled_columns_follow_the_fixed_ones():
    assert GRAPH_FEATURE_SCALINGS == ("fixed", "set")
    assert [graph_feature_column(n, "fixed") for n in GRAPH_FEATURES] == [0, 1, 2, 3]
    assert [graph_feature_column(n, "set") for n in GRAPH_FEATURES] == [4, 5, 6, 7]
    with pytest.raises(InvalidArgumentError, match="scalings"):
        graph_feature_column("depth", "family")


def test_from_graphs_standardises_over_its_own_graphs():
    a, b = sets_a_and_b()
    assert a.graph_x is not None and b.graph_x is not None
    np.testing.assert_array_equal(a.graph_x[:, 0], [-7.0, -6.0, -5.0])  # fixed half unchanged
    np.testing.assert_allclose(a.graph_x[:, SET], SET_A, rtol=0, atol=1e-6)
    np.testing.assert_allclose(b.graph_x[:, SET], SET_B, rtol=0, atol=1e-6)


def test_constant_features_and_lone_graphs_are_zero():
    a, _ = sets_a_and_b()
    assert a.graph_x is not None
    assert (a.graph_x[:, 5:] == 0).all()  # params, depth, nodes: std 0, not 0/0
    lone = GraphSet.from_graphs([hand_graph()])
    assert lone.graph_x is not None and (lone.graph_x[:, SET] == 0).all()
    empty = GraphSet.from_graphs([])
    assert empty.graph_x is not None and empty.graph_x.shape == (0, 2 * len(GRAPH_FEATURES))


def test_concat_keeps_each_parts_statistics(tmp_path):
    a, b = sets_a_and_b()
    both = GraphSet.concat([a, b])
    assert both.graph_x is not None
    np.testing.assert_allclose(both.graph_x[:, SET], np.vstack([SET_A, SET_B]), atol=1e-6)
    # not those of the five graphs together: log_flops -7, -6, -5, -6, -7 would give 0 to -6
    assert both.graph_x[1, 4] == 0.0 and both.graph_x[3, 4] == 1.0
    both.save(tmp_path / "both.npz")
    loaded, _ = GraphSet.load(tmp_path / "both.npz")
    np.testing.assert_array_equal(loaded.graph_x, both.graph_x)


def test_subset_keeps_the_parents_statistics():
    a, _ = sets_a_and_b()
    part = a.subset([2, 0])
    assert part.graph_x is not None and a.graph_x is not None
    np.testing.assert_array_equal(part.graph_x, a.graph_x[[2, 0]])
    np.testing.assert_allclose(part.graph_x[:, 4], [ROOT, -ROOT], atol=1e-6)  # not +-1
    np.testing.assert_array_equal(a.batch([2, 0]).graph_x.numpy(), a.graph_x[[2, 0]])


def test_a_file_with_fixed_features_only_is_refused(tmp_path):
    gs = GraphSet.from_graphs([hand_graph()])
    path = tmp_path / "old.npz"
    gs.save(path)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    arrays["graph_x"] = arrays["graph_x"][:, : len(GRAPH_FEATURES)]  # as saved before "set"
    np.savez(path, **arrays)
    with pytest.raises(InvalidArgumentError, match="fixed, then set"):
        GraphSet.load(path)


def test_scaling_config_round_trip_and_validation():
    config = HeadConfig(in_dim=16, graph_features=COSTS, graph_feature_scaling="set")
    data = json.loads(json.dumps(config.to_dict()))
    assert data["graph_feature_scaling"] == "set"
    assert HeadConfig.from_dict(data) == config
    old = {"in_dim": 16, "hidden": [32, 32], "activation": "relu", "dropout": 0.0}
    assert HeadConfig.from_dict({**old, "graph_features": list(COSTS)}).graph_feature_scaling == (
        "fixed"
    )
    with pytest.raises(InvalidArgumentError) as info:
        HeadConfig(graph_feature_scaling="family")
    assert "'family'" in str(info.value) and "('fixed', 'set')" in str(info.value)


@pytest.mark.parametrize("scaling", GRAPH_FEATURE_SCALINGS)
def test_a_head_reads_only_the_columns_of_its_scaling(scaling):
    torch.manual_seed(0)
    head = Head(
        HeadConfig(in_dim=4, hidden=(8,), graph_features=COSTS, graph_feature_scaling=scaling)
    )
    offset = 0 if scaling == "fixed" else len(GRAPH_FEATURES)
    assert head.columns == [offset, offset + 1, offset + 2]
    embedding, table = torch.randn(5, 4), torch.randn(5, 2 * len(GRAPH_FEATURES))
    other = table.clone()
    unread = len(GRAPH_FEATURES) - offset  # where the other scaling's half starts
    other[:, unread : unread + len(GRAPH_FEATURES)] += 10.0
    torch.testing.assert_close(head(embedding, other), head(embedding, table), rtol=0, atol=0)
    changed = table.clone()
    changed[:, offset] += 1.0
    assert not torch.equal(head(embedding, changed), head(embedding, table))


def test_default_scaling_is_fixed_and_predicts_as_before(toy_data):
    """The default head reads the fixed columns: predictions equal an explicit "fixed" head's."""
    graphs, _ = toy_data(6)
    assert HeadConfig().graph_feature_scaling == "fixed"
    torch.manual_seed(0)
    default = PredictorNet(SMALL, HeadConfig(graph_features=COSTS))
    torch.manual_seed(0)
    fixed = PredictorNet(SMALL, HeadConfig(graph_features=COSTS, graph_feature_scaling="fixed"))
    np.testing.assert_array_equal(predict(default, graphs), predict(fixed, graphs))
    assert default.head.columns == [GRAPH_FEATURES.index(n) for n in COSTS]


def test_set_scaling_checkpoint_round_trip_and_training(toy_data, tmp_path):
    graphs, labels = toy_data(12)
    torch.manual_seed(0)
    net = PredictorNet(SMALL, HeadConfig(graph_features=COSTS, graph_feature_scaling="set"))
    fit(net, graphs, labels, ["toy"] * 12, val=0, epochs=1, progress=False)
    fine_tune(net, graphs[:6], labels[:6], mode="head", epochs=1)
    path = tmp_path / "set.pt"
    save_checkpoint(path, net)
    loaded = load_checkpoint(path).model
    assert loaded.head.config.graph_feature_scaling == "set"
    np.testing.assert_array_equal(predict(loaded, graphs), predict(net, graphs))
