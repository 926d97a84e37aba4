"""One seed of the protocol: every method's predictions on the test cells, scored per view.

Zero-shot, each source model also gives ``<model>+flops`` where the protocol blends it with the
FLOPs ranking (``ProtocolConfig.zero_shot_flops_weight`` > 0; ``cg_predict.ranking.flops_blend``),
and ``<model>+ensemble`` in every view holding each member of ``ProtocolConfig.zero_shot_ensemble``
(``cg_predict.ranking.rank_blend`` of the network and those rankings). Both blend ranks, so each
is computed on the cells of the view it is scored on, as ``Predictor.score`` blends the set it
ranks: ``b-live``'s blend is of its own cells, not setting b's masked down to them.

Each (view, method, shots) gives two rows: ``unit="class"`` scores one row per isomorphism
class of the view's test cells (the headline), ``unit="row"`` every test cell
(``_baselines.score_units``); ``test_size`` counts the units.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch

from cg_predict.evaluate._baselines import gbm_predict, score_units, target_only_predict
from cg_predict.evaluate._splits import FewShotSplit
from cg_predict.evaluate._targets import CellSet
from cg_predict.model import PredictorNet
from cg_predict.ranking import rank_blend
from cg_predict.training import fine_tune, predict

__all__ = ["Models", "View", "seed_rows"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Models:
    """The source-trained predictors, their embeddings of the target cells, the net config."""

    models: dict[str, PredictorNet]
    embeddings: dict[str, torch.Tensor]
    config: dict[str, Any]


class View(NamedTuple):
    """Which test cells a setting's rows score, and the proxies that compete there.

    Attributes:
        setting: the ``setting`` field of its rows.
        mask: over the seed's test cells (in ``split.test`` order).
        proxies: ``{name: score per cell of the CellSet}`` (NaN where not computed).
    """

    setting: str
    mask: npt.NDArray[np.bool_]
    proxies: dict[str, FloatArray]


def _predict_methods(
    name: str,
    model: PredictorNet,
    cells: CellSet,
    train_idx: npt.NDArray[np.int64],
    test_idx: npt.NDArray[np.int64],
    test_embedding: torch.Tensor,
    ft: dict[str, Any],
    seed: int,
    device: str,
) -> dict[str, tuple[FloatArray, bool]]:
    """``{method: (test predictions, in accuracy units?)}`` of one pretrained model.

    Zero-shot, the network alone: its rank blends depend on the view (``_blend``).
    """
    table = cells.graphs.graph_x  # graph-level features, for a head that reads them
    test_x = None if table is None else torch.from_numpy(table[test_idx]).to(device)
    if len(train_idx) == 0:
        zero = model.head.to(device).eval()(test_embedding, test_x).double().detach().cpu().numpy()
        return {f"{name}-fine-tune": (zero, False), f"{name}-head": (zero, False)}
    labelled, y = cells.graphs.subset(train_idx), cells.labels[train_idx]
    out: dict[str, tuple[FloatArray, bool]] = {}
    full = copy.deepcopy(model)
    stats = fine_tune(full, labelled, y, mode="full", seed=seed, device=device, **ft)
    mean, std = stats.target_stats["target"]
    out[f"{name}-fine-tune"] = (
        predict(full, cells.graphs.subset(test_idx), device=device) * std + mean,
        True,
    )
    head = copy.deepcopy(model)
    stats = fine_tune(head, labelled, y, mode="head", seed=seed, device=device, **ft)
    mean, std = stats.target_stats["target"]
    with torch.inference_mode():
        z = head.head.eval()(test_embedding, test_x).double().cpu().numpy()
    out[f"{name}-head"] = (z * std + mean, True)
    return out


def _blend(
    view: View,
    weights: Mapping[str, float],
    graph_columns: Mapping[str, npt.NDArray[Any]],
    test: npt.NDArray[np.int64],
) -> FloatArray | None:
    """The rank blend over the view's test cells (NaN elsewhere), or None if it lacks a member.

    Ranked on the view's cells alone: a blend of ranks over more cells, masked down to these,
    would be another ordering. ``graph_columns`` (over the test cells): the network's
    zero-shot scores and cg-ir's FLOPs and params, as ``Predictor.score`` ranks them (setting
    a's ``flops`` proxy is the benchmark's own count); the other members are the view's
    proxies. None too for a view without test cells (nothing to rank).
    """
    mask = view.mask
    if not mask.any():
        return None
    columns = {name: values[mask] for name, values in graph_columns.items()}
    for name in weights:
        if name in columns:
            continue
        values = view.proxies.get(name)
        if values is None or not np.isfinite(values[test][mask]).all():
            return None
        columns[name] = values[test][mask]
    out = np.full(len(test), np.nan)
    out[mask] = rank_blend(columns, weights)
    return out


def _zero_shot_blends(
    name: str, flops_weight: float, ensemble: Mapping[str, float] | None
) -> dict[str, Mapping[str, float]]:
    """``{method: rank_blend weights}`` of source model ``name``'s zero-shot blends.

    Examples:
        >>> blends = _zero_shot_blends("gnn", 0.75, {"network": 0.5, "meco": 0.5})
        >>> list(blends), blends["gnn+flops"]
        (['gnn+flops', 'gnn+ensemble'], {'network': 0.25, 'flops': 0.75})
        >>> _zero_shot_blends("gnn", 0.0, None)
        {}
    """
    blends: dict[str, Mapping[str, float]] = {}
    if flops_weight > 0:  # flops_blend's weights
        blends[f"{name}+flops"] = {"network": 1.0 - flops_weight, "flops": flops_weight}
    if ensemble:
        blends[f"{name}+ensemble"] = ensemble
    return blends


def seed_rows(
    trained: Models,
    cells: CellSet,
    split: FewShotSplit,
    views: list[View],
    features: FloatArray,
    ft: dict[str, Any],
    flops_weight: float,
    seed: int,
    device: str,
    ensemble: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Per-seed result rows of every (view, method, shots) on ``split``'s test cells."""
    test = split.test
    y_test = cells.labels[test]
    assert cells.graphs.hashes is not None  # target cells always record their hashes
    classes = cells.graphs.hashes[test]
    rows: list[dict[str, Any]] = []

    def record(view: View, method: str, k: int, pred: FloatArray, with_mae: bool) -> None:
        if not view.mask.any():
            return
        mask = view.mask
        units = score_units(y_test[mask], pred[mask], classes[mask], with_mae=with_mae)
        for unit, (size, metrics) in units.items():
            rows.append(
                {
                    "setting": view.setting,
                    "seed": seed,
                    "unit": unit,
                    "test_size": size,
                    "method": method,
                    "shots": k,
                    **metrics,
                }
            )

    for k in split.labelled:
        labelled = split.labelled[k]
        for name, net in trained.models.items():
            embedding = trained.embeddings[name][test]
            preds = _predict_methods(name, net, cells, labelled, test, embedding, ft, seed, device)
            for method, (pred, in_accuracy) in preds.items():
                for view in views:
                    record(view, method, k, pred, in_accuracy)
            blends = _zero_shot_blends(name, flops_weight, ensemble) if k == 0 else {}
            if blends:
                graph_columns: dict[str, npt.NDArray[Any]] = {
                    "network": preds[f"{name}-fine-tune"][0],
                    "flops": cells.graphs.graph_feature("log_flops")[test],
                    "params": cells.graphs.graph_feature("log_params")[test],
                }
                for method, weights in blends.items():
                    for view in views:
                        blend = _blend(view, weights, graph_columns, test)
                        if blend is not None:
                            record(view, method, k, blend, False)
        if k >= 2:
            y = cells.labels[labelled]
            only = target_only_predict(
                trained.config,
                cells.graphs.subset(labelled),
                y,
                cells.graphs.subset(test),
                epochs=ft["epochs"] * 2,
                lr=ft["lr"],
                loss=ft["loss"],
                seed=seed,
                device=device,
            )
            gbm = gbm_predict(features[labelled], y, features[test], seed=seed)
            for view in views:
                record(view, "gnn-target-only", k, only, True)
                record(view, "gbm-flops-params-proxies", k, gbm, True)
        for view in views:
            for proxy, values in sorted(view.proxies.items()):
                record(view, f"proxy:{proxy}", k, values[test], False)
    return rows
