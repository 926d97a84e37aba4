from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import Batch

from cg_contrast.augment import Compose, EdgeDrop, NodeFeatureMask, SubgraphCrop
from cg_contrast.errors import InvalidArgumentError
from cg_ir.testing.strategies import computation_graphs

AUGMENTATIONS = [
    NodeFeatureMask(0.5),
    EdgeDrop(0.5),
    SubgraphCrop(0.5),
    Compose([NodeFeatureMask(0.3), EdgeDrop(0.3), SubgraphCrop(0.7)]),
    Compose([]),
]


def _valid(out: Batch, num_graphs: int) -> None:
    n = out.x.size(0)
    assert out.op.shape == (n,) and out.batch.shape == (n,)
    assert int(out.num_graphs) == num_graphs
    counts = torch.bincount(out.batch, minlength=num_graphs)
    assert (counts >= 1).all()  # every graph keeps a node
    assert (out.batch[1:] >= out.batch[:-1]).all()
    ei = out.edge_index
    assert ei.dtype == torch.long and ei.shape[0] == 2
    if ei.numel():
        assert ei.min() >= 0 and ei.max() < n
        assert (out.batch[ei[0]] == out.batch[ei[1]]).all()  # edges stay inside their graph
        assert (ei[0] < ei[1]).all()  # still topologically ordered (acyclic)
    assert out.ptr.tolist() == [0, *torch.cumsum(counts, 0).tolist()]


@pytest.mark.property
@settings(max_examples=30, deadline=None)
@given(
    st.lists(computation_graphs(max_nodes=12), min_size=1, max_size=3),
    st.integers(0, 2**32 - 1),
    st.sampled_from(range(len(AUGMENTATIONS))),
)
def test_never_mutates_and_always_valid(graphs, seed, which) -> None:  # type: ignore[no-untyped-def]
    batch = Batch.from_data_list([g.to_pyg() for g in graphs])
    before = {k: batch[k].clone() for k in ("x", "op", "edge_index", "batch")}
    out = AUGMENTATIONS[which](batch, np.random.default_rng(seed))
    for k, v in before.items():
        assert torch.equal(batch[k], v), f"{k} was mutated"
    assert out is not batch
    _valid(out, len(graphs))


@pytest.mark.property
@settings(max_examples=20, deadline=None)
@given(
    st.lists(computation_graphs(max_nodes=12), min_size=1, max_size=3), st.integers(0, 2**32 - 1)
)
def test_edge_drop_keeps_an_in_edge_per_node(graphs, seed) -> None:  # type: ignore[no-untyped-def]
    batch = Batch.from_data_list([g.to_pyg() for g in graphs])
    out = EdgeDrop(0.9)(batch, np.random.default_rng(seed))
    assert set(out.edge_index[1].tolist()) == set(batch.edge_index[1].tolist())


def test_encoder_reads_augmented_batches(tiny_pool) -> None:  # type: ignore[no-untyped-def]
    from cg_predict.encoder import Encoder, EncoderConfig

    enc = Encoder(EncoderConfig(dim=16, op_dim=8, num_layers=2))
    batch = tiny_pool.graphs.batch(range(8))
    out = AUGMENTATIONS[3](batch, np.random.default_rng(0))
    assert enc.embed(out).shape == (8, 16)


def test_invalid_rates() -> None:
    with pytest.raises(InvalidArgumentError):
        EdgeDrop(1.0)
    with pytest.raises(InvalidArgumentError):
        SubgraphCrop(0.0)
    assert "rate=0.2" in repr(NodeFeatureMask(0.2))
