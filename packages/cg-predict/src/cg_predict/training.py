"""Training: ``fit`` on labelled source families, ``fine_tune`` on a few target labels.

Targets are standardised per family (z-scores with the family's own mean and standard deviation),
so families with different accuracy ranges weigh alike and the network learns a within-family
rank score. The loss is MSE on those z-scores, optionally plus a pairwise logistic ranking loss
over the pairs of same-family graphs in a batch. ``fit`` stops early on a validation split of
the source families (mean within-family Spearman correlation) and restores the best weights;
the split draws isomorphism classes (canonical hashes), so no architecture is both trained on
and validated on through a twin.
Both functions are seeded: the same seed on the CPU gives the same numbers.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from cg_ir import ComputationGraph
from cg_predict.encoder import Encoder
from cg_predict.errors import InvalidArgumentError
from cg_predict.graphs import GraphSet
from cg_predict.metrics import spearman
from cg_predict.model import PredictorNet

__all__ = ["LOSSES", "FitResult", "embed", "fine_tune", "fit", "predict"]

LOSSES = ("mse", "mse+rank")
FINE_TUNE_MODES = ("head", "full")
# the protocol's training (``cg_predict.evaluate``) and what ``Predictor.fine_tune`` does unless
# told otherwise; the fine-tuning was chosen on source families only (nested
# leave-one-family-out, ``evaluate.select_on_sources``): the whole network, 100 epochs, MSE plus
# the ranking term (ranking is what a predictor is for)
DEFAULT_LOSS = "mse+rank"
FINE_TUNE_MODE = "full"
FINE_TUNE_EPOCHS = 100

Graphs = GraphSet | Sequence[ComputationGraph]
FloatArray = npt.NDArray[np.float64]
ValSpec = float | tuple[Graphs, npt.ArrayLike, Sequence[str]] | None


@dataclass
class FitResult:
    """What a training run did (JSON-able through ``to_dict``; checkpoints store it).

    Attributes:
        target_stats: ``{group: (mean, std)}`` used to standardise each family's labels.
        epochs_run: epochs actually run (early stopping may end before ``epochs``).
        best_epoch: the epoch whose weights were kept (1-based; the last one without validation).
        best_val_srcc: mean within-family validation Spearman of the kept weights, or None.
        history: per epoch ``{"epoch", "train_loss", "val_srcc" (with validation), "seconds"}``.
        seconds: wall-clock training time.
    """

    target_stats: dict[str, tuple[float, float]]
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_srcc: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (``target_stats`` values become lists)."""
        data = asdict(self)
        data["target_stats"] = {k: list(v) for k, v in self.target_stats.items()}
        return data


def _as_graphset(graphs: Graphs, *, hashes: bool = False) -> GraphSet:
    """``graphs`` packed (with canonical hashes when ``hashes``, unless already a GraphSet)."""
    return graphs if isinstance(graphs, GraphSet) else GraphSet.from_graphs(graphs, hashes=hashes)


def _labels(labels: npt.ArrayLike, count: int, what: str) -> FloatArray:
    y = np.asarray(labels, dtype=np.float64).reshape(-1)
    if len(y) != count:
        raise InvalidArgumentError(f"{what}: {len(y)} labels for {count} graphs")
    if not np.isfinite(y).all():
        raise InvalidArgumentError(f"{what}: labels must be finite; got NaN or inf")
    return y


def _stats(y: FloatArray) -> tuple[float, float]:
    std = float(y.std())
    # a family with one label or constant labels: centre it, do not divide by ~0
    return float(y.mean()), std if std > 1e-8 else 1.0


def _standardise(
    y: FloatArray, groups: Sequence[str], stats: dict[str, tuple[float, float]]
) -> FloatArray:
    means = np.array([stats[g][0] for g in groups])
    stds = np.array([stats[g][1] for g in groups])
    return (y - means) / stds


def _rank_loss(pred: Tensor, target: Tensor, group: Tensor) -> Tensor:
    """Pairwise logistic (RankNet) loss over same-group pairs with different targets."""
    diff_true = target[:, None] - target[None, :]
    mask = (group[:, None] == group[None, :]) & (diff_true > 0)
    if not bool(mask.any()):
        return pred.sum() * 0.0
    diff_pred = pred[:, None] - pred[None, :]
    return nn.functional.softplus(-diff_pred[mask]).mean()


def _loss_fn(kind: str, rank_weight: float) -> Any:
    if kind not in LOSSES:
        raise InvalidArgumentError(f"loss={kind!r} is not valid; choose one of {LOSSES}")

    def loss(pred: Tensor, target: Tensor, group: Tensor) -> Tensor:
        value = nn.functional.mse_loss(pred, target)
        if kind == "mse+rank":
            value = value + rank_weight * _rank_loss(pred, target, group)
        return value

    return loss


@torch.no_grad()
def predict(
    model: PredictorNet,
    graphs: Graphs,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> FloatArray:
    """Scores of ``graphs`` in order (eval mode, no gradients); the model stays on ``device``."""
    gs = _as_graphset(graphs)
    model.to(device).eval()
    out = np.empty(len(gs), dtype=np.float64)
    with torch.inference_mode():
        for idx, batch in gs.batches(batch_size, device=device):
            out[idx] = model(batch).double().cpu().numpy()
    return out


@torch.no_grad()
def embed(
    encoder: Encoder, graphs: Graphs, *, batch_size: int = 256, device: str | torch.device = "cpu"
) -> npt.NDArray[np.float32]:
    """Graph embeddings ``[len(graphs), encoder.dim]`` (eval mode)."""
    gs = _as_graphset(graphs)
    encoder.to(device).eval()
    out = np.empty((len(gs), encoder.dim), dtype=np.float32)
    with torch.inference_mode():
        for idx, batch in gs.batches(batch_size, device=device):
            out[idx] = encoder.embed(batch).float().cpu().numpy()
    return out


def _val_indices(
    groups: Sequence[str],
    hashes: npt.NDArray[np.str_] | None,
    fraction: float,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Sorted indices of ``fraction`` of every group's isomorphism classes, drawn at random.

    A class (equal ``hashes``) is validated or trained on as a whole, so twins never straddle
    the split. Groups with fewer than 4 members keep all their cells for training, and so do
    classes with members in several groups (one family's cells labelled on two datasets).
    """
    if not 0.0 <= fraction < 1.0:
        raise InvalidArgumentError(f"val={fraction} must be a fraction in [0, 1) or a tuple")
    if hashes is None:
        raise InvalidArgumentError(
            f"val={fraction}: the validation split keeps isomorphic twins together and needs "
            "canonical hashes; pass a GraphSet packed with hashes=True (or the graphs "
            "themselves), val=0, or an explicit val=(graphs, labels, families)"
        )
    groups_of: dict[str, set[str]] = {}
    for h, g in zip(hashes.tolist(), groups, strict=True):
        groups_of.setdefault(h, set()).add(g)
    groups_arr = np.asarray(groups)
    chosen: list[str] = []
    for g in sorted(set(groups)):
        members = np.flatnonzero(groups_arr == g)
        if len(members) < 4:
            continue
        classes = sorted(set(hashes[members].tolist()))  # sorted: the draw follows the seed
        own = [h for h in classes if len(groups_of[h]) == 1]
        # at least one class of the group stays in training (its standardisation needs it)
        wanted = min(round(fraction * len(classes)), len(classes) - 1)
        picked = rng.permutation(len(own))[:wanted]
        chosen.extend(own[i] for i in picked)
    return np.flatnonzero(np.isin(hashes, chosen)).astype(np.int64)


def _val_srcc(
    model: PredictorNet,
    gs: GraphSet,
    y: FloatArray,
    groups: Sequence[str],
    device: str | torch.device,
) -> float:
    pred = predict(model, gs, device=device)
    groups_arr = np.asarray(groups)
    values = []
    for g in sorted(set(groups)):
        sel = groups_arr == g
        if sel.sum() >= 2 and np.ptp(y[sel]) > 0:
            values.append(spearman(y[sel], pred[sel]))
    return float(np.mean(values)) if values else math.nan


def _epoch_order(
    group_ids: npt.NDArray[np.int64], family_cells: int | None, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """One epoch's graph order: every graph, or a fresh sample of ``family_cells`` per group.

    Examples:
        >>> ids = np.array([0, 0, 0, 0, 1])
        >>> sorted(np.bincount(ids[_epoch_order(ids, 2, np.random.default_rng(0))]).tolist())
        [1, 2]
    """
    if family_cells is None:
        return rng.permutation(len(group_ids))
    picked = [
        rng.permutation(np.flatnonzero(group_ids == g))[:family_cells] for g in np.unique(group_ids)
    ]
    return rng.permutation(np.concatenate(picked))


def fit(
    model: PredictorNet,
    train_graphs: Graphs,
    train_labels: npt.ArrayLike,
    families: Sequence[str],
    *,
    val: ValSpec = 0.1,
    epochs: int = 40,
    lr: float = 1e-3,
    batch_size: int = 64,
    loss: str = "mse",
    rank_weight: float = 1.0,
    weight_decay: float = 0.0,
    grad_clip: float = 5.0,
    patience: int | None = 10,
    family_cells: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> FitResult:
    """Train ``model`` (in place) on labelled graphs of one or more source families.

    Args:
        model: the network; its weights are changed in place (the best ones are kept).
        train_graphs: a ``GraphSet`` or computation graphs.
        train_labels: one accuracy per graph.
        families: the standardisation group of every graph: its family, or ``"family/dataset"``
            when a family comes with labels of several datasets.
        val: a fraction of every family's isomorphism classes held out for early stopping
            (whole classes: twins stay on one side; the draw follows ``seed``), 0 for no
            validation (train ``epochs`` epochs), or an explicit ``(graphs, labels,
            families)`` whose families all occur in training. A fraction needs canonical
            hashes: pass computation graphs (hashed here) or a ``GraphSet`` packed with
            ``hashes=True``.
        epochs: maximum passes over the training graphs.
        lr: Adam learning rate.
        batch_size: graphs per optimisation step.
        loss: ``"mse"`` or ``"mse+rank"`` (MSE plus ``rank_weight`` x pairwise logistic loss).
        rank_weight: weight of the ranking term of ``"mse+rank"``.
        weight_decay: Adam weight decay.
        grad_clip: maximum gradient norm (0 disables clipping).
        patience: stop after this many epochs without a better validation score (None: never).
        family_cells: every epoch visits a fresh random sample of at most this many training
            graphs of each family (None: every graph), so that one large family does not
            outweigh the others while every graph still gets seen over the epochs.
        seed: seeds weight-independent randomness (split, shuffling, dropout); initialise the
            model under ``torch.manual_seed`` yourself for fully reproducible runs.
        device: where to train (``"cpu"``, ``"cuda"``, ...).
        progress: show a tqdm bar over epochs.

    Returns:
        The :class:`FitResult`, including the per-family ``target_stats``.

    Raises:
        InvalidArgumentError: inconsistent inputs, an unknown loss, or a validation fraction
            with a ``GraphSet`` packed without hashes.
    """
    start = time.perf_counter()
    gs = _as_graphset(train_graphs, hashes=bool(val) and not isinstance(val, tuple))
    y = _labels(train_labels, len(gs), "train_labels")
    groups = [str(f) for f in families]
    if len(groups) != len(gs):
        raise InvalidArgumentError(f"families: {len(groups)} entries for {len(gs)} graphs")
    if epochs < 1 or batch_size < 1 or lr <= 0 or (family_cells is not None and family_cells < 1):
        raise InvalidArgumentError(
            f"need epochs >= 1, batch_size >= 1, lr > 0, family_cells >= 1; got {epochs}, "
            f"{batch_size}, {lr}, {family_cells}"
        )
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    loss_fn = _loss_fn(loss, rank_weight)

    if isinstance(val, tuple):
        val_gs, val_groups = _as_graphset(val[0]), [str(f) for f in val[2]]
        val_y = _labels(val[1], len(val_gs), "val labels")
    elif val and len(val_idx := _val_indices(groups, gs.hashes, float(val), rng)):
        train_idx = np.setdiff1d(np.arange(len(gs)), val_idx)
        val_gs, val_y = gs.subset(val_idx), y[val_idx]
        val_groups = [groups[i] for i in val_idx]
        gs, y, groups = gs.subset(train_idx), y[train_idx], [groups[i] for i in train_idx]
    else:
        val_gs = None
    stats = {g: _stats(y[np.asarray(groups) == g]) for g in sorted(set(groups))}
    if val_gs is not None and not set(val_groups) <= set(stats):
        missing = sorted(set(val_groups) - set(stats))
        raise InvalidArgumentError(f"validation families {missing} have no training labels")
    z = torch.tensor(_standardise(y, groups, stats), dtype=torch.float32)
    group_ids = {g: i for i, g in enumerate(stats)}
    gid = torch.tensor([group_ids[g] for g in groups])

    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    result = FitResult(target_stats=stats)
    best_score, best_state, stale = -math.inf, None, 0
    bar = tqdm(range(1, epochs + 1), disable=not progress, desc="fit", unit="epoch")
    for epoch in bar:
        epoch_start = time.perf_counter()
        model.train()
        total, seen = 0.0, 0
        order = _epoch_order(gid.numpy(), family_cells, rng)
        for idx, batch in gs.batches(batch_size, order=order, device=device):
            target, group = z[idx].to(device), gid[idx].to(device)
            value = loss_fn(model(batch), target, group)
            optimizer.zero_grad()
            value.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            total += value.item() * len(idx)
            seen += len(idx)
        record = {"epoch": float(epoch), "train_loss": total / seen}
        result.epochs_run = epoch
        if val_gs is None:
            result.best_epoch = epoch
        else:
            score = _val_srcc(model, val_gs, val_y, val_groups, device)
            record["val_srcc"] = score
            if score > best_score:  # NaN never wins
                best_score, stale, result.best_epoch = score, 0, epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
        record["seconds"] = time.perf_counter() - epoch_start
        result.history.append(record)
        bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
        if patience is not None and val_gs is not None and stale >= patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
        result.best_val_srcc = best_score
    result.seconds = time.perf_counter() - start
    return result


def fine_tune(
    model: PredictorNet,
    graphs: Graphs,
    labels: npt.ArrayLike,
    *,
    mode: str = "head",
    epochs: int = 100,
    lr: float = 1e-3,
    batch_size: int = 16,
    loss: str = "mse",
    rank_weight: float = 1.0,
    grad_clip: float = 5.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> FitResult:
    """Adapt ``model`` (in place) to a target family from a few labelled graphs (e.g. <= 50).

    The labels are standardised with their own mean and standard deviation (the group
    ``"target"`` of the result). There is no validation split (too few labels): training
    runs ``epochs`` epochs.

    Args:
        model: the network, changed in place.
        graphs: the target's labelled graphs (a ``GraphSet`` or computation graphs).
        labels: their accuracies.
        mode: ``"head"`` trains the MLP head on frozen encoder embeddings (computed once);
            ``"full"`` trains encoder and head end to end.
        epochs: passes over the labelled graphs.
        lr: Adam learning rate.
        batch_size: graphs per step.
        loss: ``"mse"`` or ``"mse+rank"``.
        rank_weight: weight of the ranking term.
        grad_clip: maximum gradient norm (0 disables clipping).
        seed: seeds shuffling and dropout.
        device: where to train.
        progress: show a tqdm bar over epochs.
    """
    if mode not in FINE_TUNE_MODES:
        raise InvalidArgumentError(f"mode={mode!r} is not valid; choose one of {FINE_TUNE_MODES}")
    start = time.perf_counter()
    gs = _as_graphset(graphs)
    y = _labels(labels, len(gs), "fine-tune labels")
    if len(gs) < 2:
        raise InvalidArgumentError(f"fine-tuning needs at least 2 labelled graphs, got {len(gs)}")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    loss_fn = _loss_fn(loss, rank_weight)
    stats = {"target": _stats(y)}
    z = torch.tensor(_standardise(y, ["target"] * len(y), stats), dtype=torch.float32)
    group = torch.zeros(len(y), dtype=torch.long)
    model.to(device)
    if mode == "head":
        features = torch.from_numpy(embed(model.encoder, gs, device=device)).to(device)
        graph_x = None if gs.graph_x is None else torch.from_numpy(gs.graph_x).to(device)
        params = list(model.head.parameters())
    else:
        params = list(model.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    result = FitResult(target_stats=stats)
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="fine-tune", unit="epoch"):
        model.train()
        total = 0.0
        order = rng.permutation(len(gs))
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            if mode == "head":
                rows = torch.from_numpy(idx).to(device)
                pred = model.head(features[rows], None if graph_x is None else graph_x[rows])
            else:
                pred = model(gs.batch(idx, device))
            value = loss_fn(pred, z[idx].to(device), group[idx].to(device))
            optimizer.zero_grad()
            value.backward()
            if grad_clip > 0:
                nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            total += value.item() * len(idx)
        result.history.append({"epoch": float(epoch), "train_loss": total / len(gs)})
    model.eval()
    result.epochs_run = result.best_epoch = epochs
    result.seconds = time.perf_counter() - start
    return result
