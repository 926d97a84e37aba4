"""Ranking and regression metrics for accuracy predictors and zero-cost proxies.

Sign convention, everywhere: ``y_true`` are accuracies (higher is better) and ``y_pred`` are
scores where higher means "predicted better". Correlations keep their sign: a negative value
means the score ranks architectures in reverse, and it is reported as negative, never as an
absolute value.

Validation: inputs are 1-D, of equal length, with at least 2 values and no NaN; otherwise
:class:`~cg_predict.errors.MetricInputError` (a ``ValueError``). Rank-only metrics accept
``±inf`` (ranked as the extremes; NAS-Bench-Suite-Zero's NB-201 ``nwot`` has a ``-inf``);
metrics that use values (``mae``, the NDCG gains from ``y_true``) require finite values.
Ties are handled without arbitrary tie-breaking: average ranks (Spearman), tau-b (Kendall) and
expectations over uniformly random tie orders (top-k precision, NDCG).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from scipy import stats

from cg_predict.errors import MetricInputError

__all__ = [
    "bootstrap_ci",
    "class_means",
    "kendall_tau",
    "mae",
    "ndcg_at_k",
    "precision_at_top",
    "spearman",
    "summarize",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


def _pair(y_true: ArrayLike, y_pred: ArrayLike, *, finite: bool) -> tuple[FloatArray, FloatArray]:
    """Both inputs as float64 vectors after the checks in the module docstring."""
    arrays = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise MetricInputError(f"{name} is not a sequence of numbers: {e}") from None
        if array.ndim != 1:
            raise MetricInputError(f"{name} must be 1-D, got shape {array.shape}")
        bad = np.isnan(array) if not finite else ~np.isfinite(array)
        if bad.any():
            what = "NaN" if not finite else "NaN or infinite"
            index = int(np.flatnonzero(bad)[0])
            msg = f"{name} has {what} values ({int(bad.sum())}, first at index {index})"
            raise MetricInputError(msg)
        arrays.append(array)
    a, b = arrays
    if a.shape != b.shape:
        raise MetricInputError(f"y_true has {a.size} values but y_pred has {b.size}")
    if a.size < 2:
        raise MetricInputError(f"need at least 2 values, got {a.size}")
    return a, b


def _is_constant(values: FloatArray) -> bool:
    return bool(np.all(values == values[0]))


def spearman(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Spearman rank correlation (SRCC), signed, with average ranks for ties.

    Returns NaN when either input is constant (the correlation is undefined): a collapsed
    predictor then shows as NaN in a report rather than as a made-up number.

    Examples:
        >>> spearman([1, 2, 3, 4], [10, 20, 30, 40])
        1.0
        >>> spearman([1, 2, 3, 4], [4, 3, 2, 1])
        -1.0
    """
    a, b = _pair(y_true, y_pred, finite=False)
    if _is_constant(a) or _is_constant(b):
        return math.nan
    return float(stats.spearmanr(a, b).statistic)


def kendall_tau(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Kendall rank correlation, tau-b (corrected for ties), signed; NaN for a constant input.

    Examples:
        >>> round(kendall_tau([1, 2, 3], [1, 3, 2]), 4)
        0.3333
    """
    a, b = _pair(y_true, y_pred, finite=False)
    if _is_constant(a) or _is_constant(b):
        return math.nan
    return float(stats.kendalltau(a, b, variant="b").statistic)


def _top_k(n: int, fraction: float) -> int:
    if not 0.0 < fraction <= 1.0:
        raise MetricInputError(f"fraction must be in (0, 1], got {fraction!r}")
    # round() first: 0.1 * 30 is 3.0000000000000004 in floating point, and k must be 3.
    return max(1, math.ceil(round(fraction * n, 9)))


def _membership(values: FloatArray, k: int) -> FloatArray:
    """Probability that each item is among the k largest when ties are ordered at random."""
    threshold = np.sort(values)[::-1][k - 1]
    above = values > threshold
    tied = values == threshold
    p: FloatArray = above.astype(np.float64)
    p[tied] = (k - int(above.sum())) / int(tied.sum())
    return p


def precision_at_top(y_true: ArrayLike, y_pred: ArrayLike, fraction: float = 0.1) -> float:
    """Fraction of the true top-k architectures that are also in the predicted top-k.

    ``k = ceil(fraction * n)``. Ties at the k-th place (in either input) are resolved by
    expectation over uniformly random orders of the tied items, so the result does not depend
    on input order. 1 = the predicted top-k is exactly the true top-k; ``k / n`` is the
    expected value of a random score.

    Args:
        y_true: accuracies.
        y_pred: predicted scores (higher = better).
        fraction: the top fraction, in (0, 1]; the paper reports 0.05 and 0.1.

    Examples:
        >>> precision_at_top([1, 2, 3, 4], [1, 2, 4, 3], fraction=0.5)
        1.0
        >>> precision_at_top([1, 2, 3, 4], [4, 3, 2, 1], fraction=0.5)
        0.0
    """
    a, b = _pair(y_true, y_pred, finite=False)
    k = _top_k(a.size, fraction)
    return float(np.dot(_membership(a, k), _membership(b, k)) / k)


def ndcg_at_k(y_true: ArrayLike, y_pred: ArrayLike, k: int = 10) -> float:
    """Normalised discounted cumulative gain of the predicted top-k.

    Gain: relevance = ``y_true`` min-max scaled to [0, 1] over the given set (the best
    architecture has relevance 1, the worst 0), discount ``1 / log2(rank + 1)`` for ranks
    1..k, normalised by the ideal DCG (the true order), so 1 = perfect top-k. Items tied in
    ``y_pred`` share the mean relevance of their tie group (expected gain over random tie
    orders). NaN when ``y_true`` is constant (no relevance). ``k`` larger than the set is
    clipped to its size.

    Examples:
        >>> ndcg_at_k([1, 2, 3], [1, 2, 3], k=2)
        1.0
        >>> ndcg_at_k([0, 1], [1, 0], k=1)
        0.0
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise MetricInputError(f"k must be a positive integer, got {k!r}")
    a, b = _pair(y_true, y_pred, finite=False)
    if not np.isfinite(a).all():
        raise MetricInputError("y_true must be finite for NDCG (it is the gain)")
    if _is_constant(a):
        return math.nan
    k = min(int(k), a.size)
    relevance = (a - a.min()) / (a.max() - a.min())
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    order = np.argsort(-b, kind="stable")
    ranked_pred = b[order]
    # Group ids of equal predictions (compare values, not differences: inf - inf is NaN).
    group = np.concatenate(([0], np.cumsum(ranked_pred[1:] != ranked_pred[:-1])))
    group_mean = np.bincount(group, weights=relevance[order]) / np.bincount(group)
    dcg = float(np.dot(group_mean[group[:k]], discount))
    ideal = float(np.dot(np.sort(relevance)[::-1][:k], discount))
    return dcg / ideal


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error, in the units of the inputs (use it on accuracies, not on scores).

    Examples:
        >>> mae([90.0, 80.0], [91.0, 78.0])
        1.5
    """
    a, b = _pair(y_true, y_pred, finite=True)
    return float(np.mean(np.abs(a - b)))


def summarize(values: Sequence[float] | ArrayLike) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``) of per-seed values, signs kept.

    The seeds are a sample of the runs one could make, so the spread is the sample standard
    deviation; with a single value it is undefined (NaN). NaN values propagate (a seed with an
    undefined metric makes the summary NaN rather than being dropped silently).

    Raises:
        MetricInputError: no values, or not 1-D.

    Examples:
        >>> summarize([0.5, 0.7])
        (0.6, 0.14142135623730948)
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise MetricInputError(f"summarize needs a non-empty 1-D sequence, got shape {array.shape}")
    std = float(np.std(array, ddof=1)) if array.size > 1 else math.nan
    return float(np.mean(array)), std


def class_means(
    classes: Sequence[object] | ArrayLike, y_true: ArrayLike, y_pred: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """One row per class: the mean label and the mean score of the class's members.

    Isomorphic twins (cells with one canonical hash) are one architecture measured several
    times: scored as separate rows they count that architecture several times, and a size-aware
    predictor can move a correlation by ranking one large class well. Scoring the class rows
    counts each architecture once. A score that is the same within a class (any graph
    predictor) keeps its value; one that differs within a class (a proxy computed on each
    benchmark cell) becomes the class mean. NaN and infinite scores propagate into their
    class's mean. Classes come out in order of first appearance.

    Args:
        classes: every row's class (e.g. its canonical hash).
        y_true: every row's label.
        y_pred: every row's score.

    Raises:
        MetricInputError: the three inputs differ in length, or are not 1-D.

    Examples:
        >>> y, p = class_means(["a", "b", "a"], [1.0, 5.0, 3.0], [0.2, 0.9, 0.2])
        >>> y.tolist(), p.tolist()
        ([2.0, 5.0], [0.2, 0.9])
    """
    keys = np.asarray(classes).reshape(-1)
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.ndim != 1 or b.ndim != 1 or not keys.size == a.size == b.size:
        raise MetricInputError(
            f"class_means needs 1-D inputs of one length; got {keys.size} classes, "
            f"y_true {a.shape}, y_pred {b.shape}"
        )
    _, first, inverse, counts = np.unique(
        keys, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.argsort(first, kind="stable")  # np.unique sorts; report by first appearance
    y_mean = np.bincount(inverse, weights=a) / counts
    p_mean = np.bincount(inverse, weights=b) / counts
    return y_mean[order], p_mean[order]


def bootstrap_ci(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    metric: Callable[[FloatArray, FloatArray], float],
    *,
    rng: np.random.Generator,
    n_resamples: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``metric`` over resampled (true, pred) pairs.

    Resamples on which the metric is undefined (NaN, e.g. a constant resample) are left out.

    Args:
        y_true: accuracies.
        y_pred: predicted scores.
        metric: e.g. :func:`spearman`.
        rng: the random generator (same seed, same interval).
        n_resamples: number of bootstrap resamples, >= 1.
        confidence: the interval's coverage, in (0, 1).

    Returns:
        ``(low, high)``; ``(nan, nan)`` when the metric is undefined on every resample.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> y = np.arange(50.0)
        >>> noisy = y + rng.normal(0.0, 10.0, size=50)
        >>> low, high = bootstrap_ci(y, noisy, spearman, rng=rng, n_resamples=200)
        >>> bool(0.0 < low < spearman(y, noisy) < high <= 1.0)
        True
    """
    a, b = _pair(y_true, y_pred, finite=False)
    if not 0.0 < confidence < 1.0:
        raise MetricInputError(f"confidence must be in (0, 1), got {confidence!r}")
    if n_resamples < 1:
        raise MetricInputError(f"n_resamples must be >= 1, got {n_resamples!r}")
    samples = rng.integers(0, a.size, size=(n_resamples, a.size))
    values = np.array([metric(a[idx], b[idx]) for idx in samples], dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return math.nan, math.nan
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)
