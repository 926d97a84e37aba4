"""Metrics: known values, sign conventions, ties, validation, and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from cg_predict.errors import MetricInputError
from cg_predict.metrics import (
    bootstrap_ci,
    class_means,
    kendall_tau,
    mae,
    ndcg_at_k,
    precision_at_top,
    spearman,
    summarize,
)

RANK_METRICS = [spearman, kendall_tau, precision_at_top, ndcg_at_k]


# --- correlations -------------------------------------------------------------------------------


def test_correlations_keep_their_sign():
    y = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert spearman(y, y) == pytest.approx(1.0) and kendall_tau(y, y) == pytest.approx(1.0)
    assert spearman(y, y[::-1]) == pytest.approx(-1.0)
    assert kendall_tau(y, y[::-1]) == pytest.approx(-1.0)


def test_ties_use_average_ranks_and_tau_b():
    y_true = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    y_pred = [1.0, 1.0, 2.0, 2.0, 3.0, 7.0]
    assert spearman(y_true, y_pred) == pytest.approx(stats.spearmanr(y_true, y_pred)[0])
    tau = stats.kendalltau(y_true, y_pred, variant="b")[0]
    assert kendall_tau(y_true, y_pred) == pytest.approx(tau)


def test_infinite_scores_rank_as_extremes():
    assert spearman([1, 2, 3, 4], [-math.inf, 0.0, 1.0, math.inf]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [math.inf, 0.0, 1.0, 2.0]) == pytest.approx(0.0)


def test_constant_input_gives_nan_not_a_number():
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))
    assert math.isnan(kendall_tau([2, 2, 2], [1, 2, 3]))


# --- precision at top ---------------------------------------------------------------------------


def test_precision_at_top_counts_overlap_with_ceil_k():
    y_true = np.arange(20.0)
    y_pred = y_true.copy()
    y_pred[[19, 0]] = y_pred[[0, 19]]  # the best is predicted worst
    # k = ceil(0.1 * 20) = 2: true top {19, 18}, predicted top {18, 17}
    assert precision_at_top(y_true, y_pred, 0.1) == pytest.approx(0.5)
    # k = ceil(0.05 * 20) = 1: true top {19}, predicted top {18}
    assert precision_at_top(y_true, y_pred, 0.05) == 0.0
    # k = ceil(0.15 * 20) = 3 (not 4 from 0.15 * 20 = 3.0000000000000004)
    assert precision_at_top(y_true, y_pred, 0.15) == pytest.approx(2 / 3)


def test_precision_at_top_ties_are_an_expectation():
    # predicted scores all tied: any 1 of 4 could be picked, the right one with probability 1/4
    assert precision_at_top([1, 2, 3, 4], [0, 0, 0, 0], 0.25) == pytest.approx(0.25)
    # two tied at the boundary of k = 2: the top item is in, the other slot is a coin flip
    assert precision_at_top([1, 2, 3, 4], [0, 5, 5, 9], 0.5) == pytest.approx(0.75)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5])
def test_precision_fraction_must_be_in_unit_interval(fraction: float):
    with pytest.raises(MetricInputError, match="fraction"):
        precision_at_top([1, 2, 3], [1, 2, 3], fraction)


# --- NDCG ---------------------------------------------------------------------------------------


def test_ndcg_uses_min_max_scaled_gains():
    y_true = [0.0, 5.0, 10.0]
    # predicted order: item 1 (gain 0.5), item 0 (gain 0); ideal: 1.0, 0.5
    discount = 1 / np.log2([2, 3])
    expected = (0.5 * discount[0] + 0.0) / (1.0 * discount[0] + 0.5 * discount[1])
    assert ndcg_at_k(y_true, [1.0, 2.0, 0.0], k=2) == pytest.approx(expected)
    assert ndcg_at_k(y_true, y_true, k=2) == pytest.approx(1.0)


def test_ndcg_k_is_clipped_and_ties_share_gain():
    assert ndcg_at_k([1, 2, 3], [1, 2, 3], k=50) == pytest.approx(1.0)
    # all predictions tied: every top position gets the mean gain 0.5
    y_true = [0.0, 1.0]
    expected = 0.5 * (1 + 1 / np.log2(3)) / (1.0 + 0.0)
    assert ndcg_at_k(y_true, [3.0, 3.0], k=2) == pytest.approx(expected)


def test_ndcg_ties_with_infinities_are_grouped():
    y_true = [0.0, 1.0, 2.0, 3.0]
    value = ndcg_at_k(y_true, [-math.inf, -math.inf, 1.0, 2.0], k=4)
    assert value == pytest.approx(ndcg_at_k(y_true, [0.0, 0.0, 1.0, 2.0], k=4))


def test_ndcg_edge_cases():
    assert math.isnan(ndcg_at_k([3, 3, 3], [1, 2, 3]))
    for k in (0, -1, 2.5, True):
        with pytest.raises(MetricInputError, match="k must be a positive integer"):
            ndcg_at_k([1, 2, 3], [1, 2, 3], k=k)  # type: ignore[arg-type]
    with pytest.raises(MetricInputError, match="finite"):
        ndcg_at_k([1, math.inf, 3], [1, 2, 3])


# --- MAE and summaries --------------------------------------------------------------------------


def test_mae():
    assert mae([90.0, 80.0, 70.0], [91.0, 78.0, 70.0]) == pytest.approx(1.0)
    with pytest.raises(MetricInputError, match="infinite"):
        mae([1.0, 2.0], [1.0, math.inf])


def test_summarize_is_sample_std_with_signs():
    mean, std = summarize([-0.2, 0.4, 0.7])
    assert mean == pytest.approx(0.3) and std == pytest.approx(np.std([-0.2, 0.4, 0.7], ddof=1))
    assert std == pytest.approx(0.458257569)  # not the population std, 0.374
    mean, std = summarize([0.5])
    assert mean == 0.5 and math.isnan(std)  # one seed has no spread to estimate
    mean, std = summarize([0.5, math.nan])
    assert math.isnan(mean) and math.isnan(std)
    with pytest.raises(MetricInputError, match="non-empty"):
        summarize([])


def test_class_means_give_one_row_per_class():
    y, p = class_means(["b", "a", "b", "c", "a"], [1.0, 2.0, 3.0, 4.0, 6.0], [5, 1, 7, 0, 1])
    assert y.tolist() == [2.0, 4.0, 4.0] and p.tolist() == [6.0, 1.0, 0.0]  # b, a, c
    _, p = class_means(["a", "a", "b"], [1.0, 2.0, 3.0], [math.nan, 1.0, -math.inf])
    assert math.isnan(p[0]) and p[1] == -math.inf
    with pytest.raises(MetricInputError, match="one length"):
        class_means(["a", "b"], [1.0, 2.0], [1.0])


def test_bootstrap_is_seeded_and_brackets_the_estimate():
    rng = np.random.default_rng(7)
    y = np.arange(40.0)
    noisy = y + rng.normal(0.0, 8.0, size=40)
    first = bootstrap_ci(y, noisy, spearman, rng=np.random.default_rng(1), n_resamples=100)
    again = bootstrap_ci(y, noisy, spearman, rng=np.random.default_rng(1), n_resamples=100)
    assert first == again
    assert first[0] < spearman(y, noisy) < first[1]
    with pytest.raises(MetricInputError, match="confidence"):
        bootstrap_ci(y, noisy, spearman, rng=rng, confidence=1.0)


def test_bootstrap_all_undefined_gives_nan():
    low, high = bootstrap_ci([1, 1, 1], [1, 2, 3], spearman, rng=np.random.default_rng(0))
    assert math.isnan(low) and math.isnan(high)


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [*RANK_METRICS, mae])
@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        ([1.0, 2.0, 3.0], [1.0, 2.0], "3 values but y_pred has 2"),
        ([1.0], [1.0], "at least 2"),
        ([1.0, math.nan], [1.0, 2.0], "y_true has NaN"),
        ([1.0, 2.0], [math.nan, 2.0], "y_pred has NaN"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
        (["a", "b"], [1.0, 2.0], "not a sequence of numbers"),
    ],
)
def test_invalid_inputs(metric, y_true, y_pred, message):
    with pytest.raises(MetricInputError, match=message) as info:
        metric(y_true, y_pred)
    assert isinstance(info.value, ValueError)


# --- properties ---------------------------------------------------------------------------------

_values = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=40
)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    y_true = draw(_values)
    y_pred = draw(
        st.lists(
            st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
            min_size=len(y_true),
            max_size=len(y_true),
        )
    )
    return y_true, y_pred


@pytest.mark.property
@given(_pairs(), st.sampled_from([0.05, 0.1, 0.5, 1.0]), st.integers(1, 50))
def test_bounds_and_permutation_invariance(pair, fraction, k):
    y_true, y_pred = pair
    values = [
        spearman(y_true, y_pred),
        kendall_tau(y_true, y_pred),
        precision_at_top(y_true, y_pred, fraction),
        ndcg_at_k(y_true, y_pred, k),
    ]
    for value in values:
        assert math.isnan(value) or -1.0 - 1e-9 <= value <= 1.0 + 1e-9
    assert values[2] >= 0.0 and (math.isnan(values[3]) or values[3] >= 0.0)
    # same items, another input order: same results (ties do not depend on order)
    order = np.random.default_rng(len(y_true)).permutation(len(y_true))
    permuted = ([y_true[i] for i in order], [y_pred[i] for i in order])
    again = [
        spearman(*permuted),
        kendall_tau(*permuted),
        precision_at_top(*permuted, fraction),
        ndcg_at_k(*permuted, k),
    ]
    np.testing.assert_allclose(again, values, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.property
@given(st.lists(st.integers(-1000, 1000), min_size=2, max_size=30, unique=True))
def test_perfect_and_monotone_predictions(y):
    y_true = np.array(y, dtype=np.float64)
    transformed = y_true**3 + 0.5 * y_true  # strictly increasing, exact in float64
    assert spearman(y_true, transformed) == pytest.approx(1.0)
    assert kendall_tau(y_true, transformed) == pytest.approx(1.0)
    assert precision_at_top(y_true, transformed, 0.1) == pytest.approx(1.0)
    assert ndcg_at_k(y_true, transformed, 10) == pytest.approx(1.0)
    assert spearman(y_true, -transformed) == pytest.approx(-1.0)
