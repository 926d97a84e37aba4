"""Encoder, head, predictor network and the packed graph sets they read."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from cg_ir.features import node_features, op_ids
from cg_predict.encoder import Encoder, EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import GraphSet, family_graphs
from cg_predict.head import Head, HeadConfig
from cg_predict.model import PredictorNet

CONFIGS = [
    EncoderConfig(),
    EncoderConfig(activation="tanh"),
    EncoderConfig(gnn="gin"),
    EncoderConfig(gnn="gine"),
    EncoderConfig(gnn="gine", reverse_edges=True),
    EncoderConfig(reverse_edges=True),
    EncoderConfig(readout="attention", dim=64, op_dim=24, num_layers=2),
    EncoderConfig(readout="mean-sum"),
]


def test_graphset_matches_cg_ir_features_and_pyg_batching(toy_data):
    graphs, _ = toy_data(12)
    gs = GraphSet.from_graphs(graphs, hashes=True)
    assert len(gs) == 12
    np.testing.assert_array_equal(gs.x, np.concatenate([node_features(g) for g in graphs]))
    np.testing.assert_array_equal(gs.op, np.concatenate([op_ids(g) for g in graphs]))
    assert list(gs.hashes) == [g.canonical_hash() for g in graphs]
    order = [5, 0, 11, 5]
    ours = gs.batch(order)
    ref = Batch.from_data_list([graphs[i].to_pyg() for i in order])
    for name in ("x", "op", "edge_index", "batch", "ptr"):
        assert torch.equal(getattr(ours, name), getattr(ref, name)), name
    assert ours.num_graphs == 4


def test_graphset_subset_concat_and_save_roundtrip(toy_data, tmp_path):
    graphs, _ = toy_data(6)
    gs = GraphSet.from_graphs(graphs, hashes=True)
    sub = gs.subset([4, 1])
    again = GraphSet.from_graphs([graphs[4], graphs[1]])
    np.testing.assert_array_equal(sub.x, again.x)
    np.testing.assert_array_equal(sub.edge_index, again.edge_index)
    both = GraphSet.concat([gs.subset([0, 1]), gs.subset([2, 3, 4, 5])])
    assert torch.equal(both.batch().edge_index, gs.batch().edge_index)
    assert list(both.hashes) == list(gs.hashes)
    gs.save(tmp_path / "g.npz", {"a": 1})
    loaded, meta = GraphSet.load(tmp_path / "g.npz")
    assert meta == {"a": 1} and list(loaded.hashes) == list(gs.hashes)
    np.testing.assert_array_equal(loaded.x, gs.x)
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]  # no temp file left behind
    with pytest.raises(IndexError):
        gs.batch([6])


@pytest.mark.parametrize(
    "config",
    CONFIGS,
    ids=lambda c: f"{c.gnn}-{c.activation}-{c.readout}-{'rev' if c.reverse_edges else 'fwd'}",
)
def test_every_encoder_variant_embeds_and_trains(toy_data, config):
    graphs, _ = toy_data(5)
    torch.manual_seed(0)
    net = PredictorNet(config)
    batch = GraphSet.from_graphs(graphs).batch()
    emb = net.encoder.embed(batch)
    assert emb.shape == (5, config.dim) and torch.isfinite(emb).all()
    out = net(batch)
    assert out.shape == (5,)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_embedding_does_not_depend_on_batch_company(toy_data):
    graphs, _ = toy_data(6)
    gs = GraphSet.from_graphs(graphs)
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(readout="attention")).eval()
    with torch.no_grad():
        alone = enc.embed(gs.batch([3]))
        together = enc.embed(gs.batch([0, 3, 5]))[1:2]
    torch.testing.assert_close(alone, together)


def test_mean_sum_readout_is_mean_and_asinh_sum_mixed(toy_data):
    graphs, _ = toy_data(4)
    batch = GraphSet.from_graphs(graphs).batch()
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(readout="mean-sum")).eval()
    assert enc.size_proj is not None
    with torch.no_grad():
        h = enc.node_states(batch)
        sizes = torch.bincount(batch.batch).unsqueeze(1)
        total = torch.zeros(4, enc.dim).index_add_(0, batch.batch, h)
        expected = enc.size_proj(torch.cat([total / sizes, torch.asinh(total)], dim=1))
        torch.testing.assert_close(enc.embed(batch), expected)
        alone = enc.embed(GraphSet.from_graphs(graphs[2:3]).batch())
        torch.testing.assert_close(alone, expected[2:3])


def test_sparse_aggregation_equals_pyg_edge_index_path(toy_data):
    from torch_geometric.nn import GraphConv

    graphs, _ = toy_data(4)
    batch = GraphSet.from_graphs(graphs).batch()
    torch.manual_seed(0)
    enc = Encoder(EncoderConfig(num_layers=2))
    with torch.no_grad():
        h = enc.node_embedding(batch.x, batch.op)
        for conv in enc.convs:
            assert isinstance(conv, GraphConv)
            h = enc.act(conv(h, batch.edge_index))
        torch.testing.assert_close(enc.node_states(batch), h)


def test_configs_roundtrip_and_reject_bad_values():
    net = PredictorNet(EncoderConfig(dim=16, op_dim=4), HeadConfig(hidden=(8, 8, 8)))
    rebuilt = PredictorNet.from_config(net.config())
    assert rebuilt.config() == net.config()
    assert net.head.config.in_dim == 16
    with pytest.raises(InvalidArgumentError, match="gnn='gcn'.*graphconv"):
        EncoderConfig(gnn="gcn")
    with pytest.raises(InvalidArgumentError, match="op_dim"):
        EncoderConfig(dim=8, op_dim=8)
    with pytest.raises(InvalidArgumentError, match="unknown encoder config keys"):
        EncoderConfig.from_dict({"gnn": "gin", "colour": 1})
    with pytest.raises(InvalidArgumentError, match="activation"):
        HeadConfig(activation="swish")
    with pytest.raises(InvalidArgumentError):
        PredictorNet.from_config({"encoder": {}})
    assert Head(HeadConfig(in_dim=4, hidden=(), dropout=0.5))(torch.zeros(2, 4)).shape == (2,)


def test_family_graphs_cache_is_reused_and_rebuilt_when_stale(tmp_path, monkeypatch):
    import cg_ir
    from cg_ir import families

    family = families.get("nb201")
    keys = [family.key(family.sample(np.random.default_rng(i))) for i in range(3)]
    first = family_graphs("nb201", keys, directory=tmp_path, progress=False)
    files = list(tmp_path.glob("graphs-nb201-*.npz"))
    assert len(files) == 1 and len(first) == 3 and first.hashes is not None
    expected = GraphSet.from_graphs([family.to_cg(family.parse(k)) for k in keys])
    np.testing.assert_array_equal(first.x, expected.x)

    calls = []
    original = family.to_cg
    monkeypatch.setattr(family, "to_cg", lambda spec: calls.append(spec) or original(spec))
    family_graphs("nb201", keys, directory=tmp_path, progress=False)
    assert calls == []  # served from the cache
    monkeypatch.setattr(cg_ir, "__version__", "999.0")
    family_graphs("nb201", keys, directory=tmp_path, progress=False)
    assert len(calls) == 3  # stale version: rebuilt
    files[0].write_bytes(b"garbage")
    again = family_graphs("nb201", keys, directory=tmp_path, progress=False)
    np.testing.assert_array_equal(again.x, expected.x)
    assert len(list(tmp_path.iterdir())) == 1
