"""Baselines that show whether transfer helps, and the metrics every row reports.

* ``gnn-target-only``: the same network, freshly initialised, trained on the target's few
  labels alone (no source family).
* ``gbm-flops-params-proxies``: scikit-learn's gradient-boosted trees on log-scaled FLOPs,
  params and (setting a) every precomputed zero-cost proxy, with the same few labels.
* ``proxy:<name>``: a zero-cost proxy (or FLOPs/params) used directly as the ranking score.

Every method is scored twice on the same test cells (``score_units``): once per isomorphism
class (the headline, ``unit="class"``) and once per cell (``unit="row"``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import torch

from cg_predict import metrics
from cg_predict.graphs import GraphSet
from cg_predict.model import PredictorNet
from cg_predict.training import fit, predict

__all__ = ["UNITS", "feature_matrix", "gbm_predict", "score", "score_units", "target_only_predict"]

FloatArray = npt.NDArray[np.float64]
# what a row's correlation is computed over: isomorphism classes (headline), or test cells
UNITS = ("class", "row")
_METRIC_NAMES = ("srcc", "kendall", "precision@5%", "precision@10%", "ndcg@10", "mae")


def score(y_true: FloatArray, y_pred: FloatArray, *, with_mae: bool) -> dict[str, float | None]:
    """Every metric of one prediction of the test cells (higher = better for all but MAE).

    ``mae`` (accuracy points) only when ``with_mae``: the prediction is then in accuracy
    units; rank-only scores (proxies, zero-shot predictions) get ``None``. A NaN score (not
    computed) ranks last; when every score is NaN, every metric is ``None`` (undefined, like
    the SRCC of a constant score), not the top-k values of a random order.

    Examples:
        >>> s = score(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 4, 3]), with_mae=True)
        >>> round(s["srcc"], 2), s["mae"]
        (0.8, 0.5)
        >>> set(score(np.array([1.0, 2]), np.full(2, np.nan), with_mae=False).values())
        {None}
    """
    if np.isnan(y_pred).all():
        return dict.fromkeys(_METRIC_NAMES)
    y_pred = np.where(np.isnan(y_pred), -np.inf, y_pred)  # an undefined score ranks last
    return {
        "srcc": metrics.spearman(y_true, y_pred),
        "kendall": metrics.kendall_tau(y_true, y_pred),
        "precision@5%": metrics.precision_at_top(y_true, y_pred, 0.05),
        "precision@10%": metrics.precision_at_top(y_true, y_pred, 0.10),
        "ndcg@10": metrics.ndcg_at_k(y_true, y_pred, 10),
        "mae": metrics.mae(y_true, y_pred) if with_mae else None,
    }


def score_units(
    y_true: FloatArray,
    y_pred: FloatArray,
    classes: npt.ArrayLike,
    *,
    with_mae: bool,
) -> dict[str, tuple[int, dict[str, float | None]]]:
    """``{unit: (size, metrics)}`` of one prediction of the test cells, per ``UNITS``.

    ``"class"``: one row per isomorphism class of the test cells (``classes``, e.g. canonical
    hashes), with the class-mean label and the class's score (``metrics.class_means``: tied
    within a class for a graph predictor; a proxy that differs between twins gets the class
    mean), so an architecture present as many twins counts once. ``"row"``: every test cell.
    A unit with fewer than two members has no correlation: its metrics are None.

    Examples:
        >>> y, p = np.array([1.0, 1.0, 1.0, 2.0, 3.0]), np.array([9.0, 9.0, 9.0, 1.0, 2.0])
        >>> s = score_units(y, p, ["a", "a", "a", "b", "c"], with_mae=False)
        >>> [(n, round(m["srcc"], 3)) for n, m in s.values()]  # class, then row
        [(3, -0.5), (5, -0.875)]
    """
    y_class, p_class = metrics.class_means(classes, y_true, y_pred)
    out = {}
    for unit, (y, p) in zip(UNITS, ((y_class, p_class), (y_true, y_pred)), strict=True):
        none: dict[str, float | None] = dict.fromkeys(_METRIC_NAMES)
        out[unit] = (len(y), score(y, p, with_mae=with_mae) if len(y) >= 2 else none)
    return out


def feature_matrix(proxies: Mapping[str, FloatArray]) -> FloatArray:
    """Columns of the GBM: every proxy in name order; FLOPs/params/synflow log-scaled.

    Non-finite values (NB-201 ``nwot`` has a ``-inf``) become the column's finite minimum.
    """
    columns = []
    for name in sorted(proxies):
        col = np.asarray(proxies[name], dtype=np.float64).copy()
        finite = np.isfinite(col)
        col[~finite] = col[finite].min() if finite.any() else 0.0
        if name in ("flops", "params", "macs", "synflow") and (col >= 0).all():
            col = np.log1p(col)
        columns.append(col)
    return np.stack(columns, axis=1)


def gbm_predict(
    x_train: FloatArray, y_train: FloatArray, x_test: FloatArray, *, seed: int
) -> FloatArray:
    """Fit ``GradientBoostingRegressor`` (small trees: few labels) and predict the test rows."""
    from sklearn.ensemble import GradientBoostingRegressor  # heavy import, only when used

    model = GradientBoostingRegressor(
        n_estimators=100, max_depth=2, learning_rate=0.1, subsample=1.0, random_state=seed
    )
    model.fit(x_train, y_train)
    return np.asarray(model.predict(x_test), dtype=np.float64)


def target_only_predict(
    config: dict[str, object],
    train: GraphSet,
    y_train: FloatArray,
    test: GraphSet,
    *,
    epochs: int,
    lr: float,
    loss: str,
    seed: int,
    device: str,
) -> FloatArray:
    """Train a fresh network on the target's labels only; predictions in accuracy units."""
    torch.manual_seed(seed)
    model = PredictorNet.from_config(config)
    result = fit(
        model,
        train,
        y_train,
        ["target"] * len(y_train),
        val=0.0,
        epochs=epochs,
        lr=lr,
        batch_size=16,
        loss=loss,
        patience=None,
        seed=seed,
        device=device,
        progress=False,
    )
    mean, std = result.target_stats["target"]
    return predict(model, test, device=device) * std + mean
