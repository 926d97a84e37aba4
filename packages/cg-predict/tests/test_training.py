"""fit / fine_tune: learning, per-family standardisation, early stopping, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cg_predict.encoder import EncoderConfig
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.head import HeadConfig
from cg_predict.metrics import spearman
from cg_predict.model import PredictorNet
from cg_predict.training import _rank_loss, fine_tune, fit, predict

SMALL = EncoderConfig(num_layers=3, dim=16, op_dim=8)


def _net(seed: int = 0) -> PredictorNet:
    torch.manual_seed(seed)
    return PredictorNet(SMALL, HeadConfig(hidden=(16,)))


@pytest.fixture
def two_families(toy_data):
    graphs, y = toy_data(160, seed=1)
    # family "b" has the same structure-label relation on another accuracy scale
    families = ["a"] * 80 + ["b"] * 80
    y = y.copy()
    y[80:] = 40 + 5 * y[80:]
    return GraphSet.from_graphs(graphs, hashes=True), y, families


def test_fit_learns_a_within_family_ranking(two_families):
    gs, y, fams = two_families
    model = _net()
    result = fit(
        model,
        gs.subset(range(120)),
        y[:120],
        fams[:120],
        epochs=12,
        batch_size=16,
        lr=3e-3,
        val=0.2,
        progress=False,
    )
    assert set(result.target_stats) == {"a", "b"}
    mean_b, std_b = result.target_stats["b"]
    assert 40 < mean_b < 70 and std_b > 1
    pred = predict(model, gs.subset(range(120, 160)))
    assert spearman(y[120:], pred) > 0.6
    assert result.best_val_srcc is not None and result.best_val_srcc > 0.5
    assert 1 <= result.best_epoch <= result.epochs_run <= 12
    # the kept weights are those of the best epoch
    assert result.history[result.best_epoch - 1]["val_srcc"] == result.best_val_srcc
    assert abs(pred.mean()) < 1.5  # standardised units, not accuracies


def test_same_seed_same_numbers(two_families):
    gs, y, fams = two_families
    runs = []
    for _ in range(2):
        model = _net()
        r = fit(
            model, gs, y, fams, epochs=2, batch_size=32, loss="mse+rank", seed=3, progress=False
        )
        ft = fine_tune(model, gs.subset(range(10)), y[:10], mode="full", epochs=2, seed=3)
        history = [{k: v for k, v in h.items() if k != "seconds"} for h in r.history]
        runs.append((history, ft.history, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    for a, b in zip(runs[0][2], runs[1][2], strict=True):
        assert torch.equal(a, b)
    other = _net()
    r = fit(other, gs, y, fams, epochs=2, batch_size=32, loss="mse+rank", seed=4, progress=False)
    assert [h["train_loss"] for h in r.history] != [h["train_loss"] for h in runs[0][0]]


def test_early_stopping_with_explicit_validation_and_patience(two_families):
    gs, y, fams = two_families
    model = _net()
    result = fit(
        model,
        gs.subset(range(100)),
        y[:100],
        fams[:100],
        val=(gs.subset(range(100, 160)), y[100:], fams[100:]),
        epochs=30,
        lr=1e-7,
        patience=2,
        progress=False,
    )
    # a learning rate of 1e-7 cannot improve the validation score for long
    assert result.epochs_run < 30
    assert result.epochs_run - result.best_epoch == 2


def test_no_validation_trains_every_epoch(two_families):
    gs, y, fams = two_families
    result = fit(_net(), gs, y, fams, val=0, epochs=3, progress=False)
    assert result.epochs_run == result.best_epoch == 3 and result.best_val_srcc is None
    assert "val_srcc" not in result.history[0]


def test_rank_loss_counts_only_same_family_ordered_pairs():
    pred = torch.tensor([2.0, 1.0, 0.0, 5.0])
    target = torch.tensor([1.0, 0.0, -1.0, -9.0])
    group = torch.tensor([0, 0, 0, 1])
    perfect = _rank_loss(pred, target, group)
    reversed_ = _rank_loss(-pred, target, group)
    assert perfect < reversed_
    # the lone member of group 1 forms no pair: changing its score changes nothing
    assert torch.equal(perfect, _rank_loss(torch.tensor([2.0, 1.0, 0.0, -50.0]), target, group))
    assert _rank_loss(pred, torch.zeros(4), group) == 0


def test_fine_tune_head_freezes_the_encoder(two_families):
    gs, y, fams = two_families
    model = _net()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    head_before = [p.clone() for p in model.head.parameters()]
    result = fine_tune(model, gs.subset(range(20)), y[:20], mode="head", epochs=5)
    for k, v in model.encoder.state_dict().items():
        assert torch.equal(v, encoder_before[k])
    assert any(
        not torch.equal(a, b) for a, b in zip(head_before, model.head.parameters(), strict=True)
    )
    mean, std = result.target_stats["target"]
    assert mean == pytest.approx(y[:20].mean()) and std == pytest.approx(y[:20].std())
    model_full = _net()
    before = {k: v.clone() for k, v in model_full.encoder.state_dict().items()}
    fine_tune(model_full, gs.subset(range(20)), y[:20], mode="full", epochs=2)
    assert any(not torch.equal(v, before[k]) for k, v in model_full.encoder.state_dict().items())


def test_fine_tune_improves_a_target_family_from_few_labels(toy_data):
    graphs, y = toy_data(120, seed=5)
    gs = GraphSet.from_graphs(graphs)
    model = _net()
    before = spearman(y[30:], predict(model, gs.subset(range(30, 120))))
    fine_tune(model, gs.subset(range(30)), y[:30], mode="full", epochs=40, lr=3e-3)
    after = spearman(y[30:], predict(model, gs.subset(range(30, 120))))
    assert after > max(before, 0.5)


def test_invalid_arguments_are_reported(two_families):
    gs, y, fams = two_families
    with pytest.raises(InvalidArgumentError, match="loss='l1'.*mse"):
        fit(_net(), gs, y, fams, loss="l1", progress=False)
    with pytest.raises(InvalidArgumentError, match="labels"):
        fit(_net(), gs, y[:5], fams, progress=False)
    with pytest.raises(InvalidArgumentError, match="finite"):
        fit(_net(), gs, np.full(len(y), np.nan), fams, progress=False)
    with pytest.raises(InvalidArgumentError, match="families"):
        fit(_net(), gs, y, fams[:3], progress=False)
    with pytest.raises(InvalidArgumentError, match="no training labels"):
        fit(_net(), gs, y, fams, val=(gs.subset([0]), y[:1], ["c"]), progress=False)
    with pytest.raises(InvalidArgumentError, match="family_cells >= 1.*, 0$"):
        fit(_net(), gs, y, fams, family_cells=0, progress=False)
    with pytest.raises(InvalidArgumentError, match="mode='tail'"):
        fine_tune(_net(), gs, y, mode="tail")
    with pytest.raises(InvalidArgumentError, match="at least 2"):
        fine_tune(_net(), gs.subset([0]), y[:1])


def test_family_cells_caps_every_family_per_epoch_with_a_fresh_sample(two_families, monkeypatch):
    gs, y, fams = two_families
    fams = ["a"] * 120 + ["b"] * 40  # "a" three times the size of "b"
    orders: list[np.ndarray] = []
    real_batches = GraphSet.batches

    def spy(self, batch_size, *, order, device):  # type: ignore[no-untyped-def]
        orders.append(np.asarray(order))
        return real_batches(self, batch_size, order=order, device=device)

    monkeypatch.setattr(GraphSet, "batches", spy)
    fit(_net(), gs, y, fams, val=0, epochs=3, family_cells=30, progress=False)
    family = np.asarray(fams)
    for order in orders:
        assert len(set(order.tolist())) == len(order) == 60  # no graph twice in an epoch
        assert (family[order] == "a").sum() == (family[order] == "b").sum() == 30
    assert len({tuple(sorted(o.tolist())) for o in orders}) == 3  # a fresh sample each epoch
    orders.clear()
    fit(_net(), gs, y, fams, val=0, epochs=1, family_cells=None, progress=False)
    assert sorted(orders[0].tolist()) == list(range(160))  # None: every graph


def test_families_too_small_to_split_train_without_validation(two_families):
    gs, y, fams = two_families
    result = fit(_net(), gs.subset([0, 1, 2]), y[:3], fams[:3], val=0.5, epochs=2, progress=False)
    assert result.best_val_srcc is None and result.epochs_run == 2


def _val_hashes_of_fit(monkeypatch, gs, y, fams, seed):  # type: ignore[no-untyped-def]
    """The canonical hashes of the cells ``fit(val=0.3)`` validates on."""
    import cg_predict.training as training

    seen = []
    real = training._val_srcc

    def spy(model, val_gs, *args):  # type: ignore[no-untyped-def]
        seen.append(list(val_gs.hashes))
        return real(model, val_gs, *args)

    monkeypatch.setattr(training, "_val_srcc", spy)
    fit(_net(), gs, y, fams, val=0.3, epochs=1, batch_size=64, seed=seed, progress=False)
    return seen[0]


def test_validation_split_keeps_isomorphic_twins_together(toy_data, monkeypatch):
    # 24 architectures in 1 to 6 copies each: a per-cell split would part some twins
    distinct, labels = toy_data(24, seed=2)
    graphs, y, fams = [], [], []
    for n, (graph, label) in enumerate(zip(distinct, labels, strict=True)):
        for _ in range(1 + n % 6):
            graphs.append(graph)
            y.append(label)
            fams.append("ab"[n % 2])
    gs = GraphSet.from_graphs(graphs, hashes=True)
    assert len(set(gs.hashes)) < len(gs) - 40  # many twins
    everywhere = {h: list(gs.hashes).count(h) for h in set(gs.hashes)}
    val = _val_hashes_of_fit(monkeypatch, gs, np.asarray(y), fams, seed=0)
    assert val and all(val.count(h) == everywhere[h] for h in set(val))  # whole classes
    assert len(val) < len(gs)
    # reproducible per seed; another seed draws other classes
    assert _val_hashes_of_fit(monkeypatch, gs, np.asarray(y), fams, seed=0) == val
    assert _val_hashes_of_fit(monkeypatch, gs, np.asarray(y), fams, seed=1) != val


def test_a_validation_fraction_needs_hashes(two_families):
    gs, y, fams = two_families
    unhashed = GraphSet(gs.x, gs.op, gs.edge_index, gs.node_ptr, gs.edge_ptr)
    with pytest.raises(InvalidArgumentError, match="canonical hashes"):
        fit(_net(), unhashed, y, fams, val=0.1, epochs=1, progress=False)
    result = fit(_net(), unhashed, y, fams, val=0, epochs=1, progress=False)
    assert result.best_val_srcc is None
