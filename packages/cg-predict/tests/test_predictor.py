"""The user API: Predictor.load / default / predict / rank on graphs, modules and keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cg_ir import families
from cg_predict.checkpoint import save_checkpoint
from cg_predict.encoder import EncoderConfig
from cg_predict.errors import CheckpointError, InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.model import PredictorNet
from cg_predict.predictor import Predictor, live_proxy_scores
from cg_predict.ranking import flops_blend
from cg_predict.training import predict

SMALL = EncoderConfig(num_layers=2, dim=16, op_dim=8)


@pytest.fixture
def predictor() -> Predictor:
    torch.manual_seed(0)
    return Predictor(PredictorNet(SMALL), {"method": "gnn"}, batch_size=3)


def test_predict_and_rank_graphs(predictor, toy_data):
    graphs, _ = toy_data(8)
    scores = predictor.predict(graphs)
    assert scores.shape == (8,) and scores.dtype == np.float64
    # batching (3 per batch here) does not change the numbers
    np.testing.assert_allclose(scores, predict(predictor.model, graphs, batch_size=8), atol=1e-6)
    order = predictor.rank(graphs)
    assert sorted(order) == list(range(8))
    assert all(scores[a] >= scores[b] for a, b in zip(order, order[1:], strict=False))

    class Tied(Predictor):
        def predict(self, items, *, input_shape=None):  # type: ignore[no-untyped-def]
            return np.array([1.0, 2.0, 1.0, 2.0])

    assert Tied(predictor.model).rank(graphs[:4]) == [1, 3, 0, 2]  # ties keep input order
    assert predictor.predict(graphs[2]).tolist() == pytest.approx([scores[2]])
    assert predictor.predict(GraphSet.from_graphs(graphs)).tolist() == pytest.approx(
        scores.tolist()
    )


def test_family_key_pairs_equal_their_graphs(predictor):
    family = families.get("nb201")
    specs = [family.sample(np.random.default_rng(i)) for i in range(4)]
    pairs = [("nb201", family.key(s)) for s in specs]
    graphs = [family.to_cg(s) for s in specs]
    np.testing.assert_allclose(predictor.predict(pairs), predictor.predict(graphs), atol=1e-6)
    mixed = predictor.predict([pairs[0], graphs[1]])
    np.testing.assert_allclose(mixed, predictor.predict(graphs[:2]), atol=1e-6)


def test_modules_need_an_input_shape(predictor):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(InvalidArgumentError, match="input_shape"):
        predictor.predict([module])


def test_modules_are_traced(predictor):
    fx = pytest.importorskip("cg_ir.fx", reason="cg_ir.from_module is not installed")
    from_module = fx.from_module

    module = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3, padding=1)
    )
    shape = (1, 3, 16, 16)
    np.testing.assert_allclose(
        predictor.predict([module], input_shape=shape),
        predictor.predict([from_module(module, shape)]),
        atol=1e-6,
    )


def test_unknown_items_are_reported(predictor):
    with pytest.raises(InvalidArgumentError, match="cannot score int"):
        predictor.predict([3])
    with pytest.raises(LookupError, match="no family named 'nb999'"):
        predictor.predict([("nb999", "(0, 0, 0, 0, 0, 0)")])
    with pytest.raises(ValueError):
        predictor.predict([("nb201", "(9, 9)")])


def test_load_roundtrip_and_fine_tune(predictor, toy_data, tmp_path):
    graphs, y = toy_data(12)
    save_checkpoint(tmp_path / "ck.pt", predictor.model, {"method": "gnn"})
    loaded = Predictor.load(tmp_path / "ck.pt")
    assert (
        loaded.metadata["method"] == "gnn"
        and "feature_schema_version" in loaded.metadata["versions"]
    )
    np.testing.assert_allclose(loaded.predict(graphs), predictor.predict(graphs), atol=1e-6)
    assert repr(loaded) == "Predictor(method='gnn', device='cpu')"
    loaded.fine_tune(graphs, y, mode="head", epochs=3)
    assert loaded.metadata["fine_tuned"][0]["labels"] == 12
    with pytest.raises(CheckpointError):
        Predictor.load(tmp_path / "missing.pt")


def test_zero_shot_score_blends_with_flops_until_fine_tuned(toy_data):
    graphs, y = toy_data(12)
    torch.manual_seed(0)
    predictor = Predictor(PredictorNet(SMALL), {"zero_shot_flops_weight": 1.0})
    flops = np.array([g.flops for g in graphs], dtype=float)
    # all weight on FLOPs: the largest first, whatever the network predicts
    assert predictor.rank(graphs) == np.argsort(-flops, kind="stable").tolist()
    assert np.allclose(predictor.score(graphs), flops_blend(predictor.predict(graphs), flops, 1.0))
    predictor.fine_tune(graphs, y, epochs=1)
    assert predictor.zero_shot_blend["weights"] == {"network": 1.0}  # labels: the network alone
    np.testing.assert_array_equal(predictor.score(graphs), predictor.predict(graphs))
    unblended = Predictor(PredictorNet(SMALL))  # a checkpoint without a weight
    np.testing.assert_array_equal(unblended.score(graphs), unblended.predict(graphs))
    packed = GraphSet.from_graphs(graphs)
    bare = GraphSet(packed.x, packed.op, packed.edge_index, packed.node_ptr, packed.edge_ptr)
    with pytest.raises(InvalidArgumentError, match="no graph features"):
        Predictor(PredictorNet(SMALL), {"zero_shot_flops_weight": 0.5}).score(bare)


def test_fine_tune_defaults_to_the_protocols_whole_network_mode(predictor, toy_data):
    graphs, y = toy_data(12)
    encoder_before = [p.detach().clone() for p in predictor.model.encoder.parameters()]
    predictor.fine_tune(graphs, y, epochs=2)
    assert predictor.metadata["fine_tuned"][-1]["mode"] == "full"  # was "head"
    changed = [
        not torch.equal(a, b)
        for a, b in zip(encoder_before, predictor.model.encoder.parameters(), strict=True)
    ]
    assert any(changed)  # the encoder learnt too, not only the head


def test_default_checkpoint_loads_and_ranks_nb201():
    predictor = Predictor.default()
    meta = predictor.metadata
    assert meta["method"] == "gnn" and "within-family" in meta["score"]
    assert {t["family"] for t in meta["trained_on"]} >= {"nb201"}
    family = families.get("nb201")
    # all-conv3x3 beats all-avg-pool and a cell without a path from input to output
    best = ("nb201", family.key(family.parse("(2, 2, 2, 2, 2, 2)")))
    pool = ("nb201", family.key(family.parse("(4, 4, 4, 4, 4, 4)")))
    scores = predictor.predict([best, pool])
    assert scores[0] > scores[1]


def test_zero_shot_blend_with_a_live_proxy_falls_back_without_modules(toy_data):
    torch.manual_seed(0)
    blend = {"weights": {"az_expressivity": 1.0}, "graphs_only": {"flops": 1.0}}
    predictor = Predictor(PredictorNet(SMALL), {"zero_shot_blend": blend})
    cells = [
        ("nb201", key) for key in ("(0, 2, 3, 2, 3, 1)", "(4, 4, 4, 4, 4, 4)", "(2, 3, 0, 1, 3, 2)")
    ]
    live = live_proxy_scores(cells, ["az_expressivity"], None)["az_expressivity"]
    assert predictor.blend_for(cells) == {"az_expressivity": 1.0}
    assert predictor.rank(cells) == np.argsort(-live, kind="stable").tolist()
    # graphs have no module: the graphs-only blend (here FLOPs alone), unless the proxy is given
    graphs = [predictor.graphs([c]).graph_feature("log_flops")[0] for c in cells]
    packed = predictor.graphs(cells)
    assert predictor.blend_for(packed) == {"flops": 1.0}
    assert predictor.rank(packed) == np.argsort(-np.asarray(graphs), kind="stable").tolist()
    given = {"az_expressivity": live}
    assert predictor.rank(packed, proxy_scores=given) == predictor.rank(cells)
    with pytest.raises(InvalidArgumentError, match="no module to compute az_expressivity"):
        live_proxy_scores(list(toy_data(2)[0]), ["az_expressivity"], None)


def test_a_proxy_that_failed_on_an_item_sits_the_blend_out(toy_data):
    torch.manual_seed(0)
    blend = {"weights": {"flops": 0.5, "zico": 0.5}, "graphs_only": {"flops": 1.0}}
    predictor = Predictor(PredictorNet(SMALL), {"zero_shot_blend": blend})
    graphs = predictor.graphs(list(toy_data(4)[0]))
    failed = {"zico": np.array([1.0, float("nan"), 3.0, 2.0])}
    flops = graphs.graph_feature("log_flops")
    assert predictor.rank(graphs, proxy_scores=failed) == np.argsort(-flops, kind="stable").tolist()
