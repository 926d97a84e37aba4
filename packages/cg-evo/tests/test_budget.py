"""Cost budgets: amounts with suffixes, ``median`` limits, masks and their error messages."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cg_evo.budget import COSTS, Budget, parse_amount
from cg_evo.errors import CgEvoError, InvalidSearchError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100.0),
        ("100M", 1e8),
        ("100m", 1e8),  # suffixes are case-insensitive
        ("2.5G", 2.5e9),
        ("3k", 3e3),
        ("7T", 7e12),
        (" 12 K ", 12e3),  # surrounding blanks are fine
        (".5M", 5e5),
        ("1e3K", 1e6),  # an exponent and a suffix multiply
        (300, 300.0),  # numbers pass through
        (0.25, 0.25),
    ],
)
def test_parse_amount(text: str | float, value: float) -> None:
    assert parse_amount(text) == pytest.approx(value, rel=1e-12)
    assert isinstance(parse_amount(text), float)


@pytest.mark.parametrize("text", ["abc", "", "10X", "M", "1.2.3", "10 MB", "-5", "inf", "nan"])
def test_parse_amount_rejects_text(text: str) -> None:
    with pytest.raises(InvalidSearchError, match="not a number with an optional K/M/G/T") as info:
        parse_amount(text)
    assert repr(text) in str(info.value)  # the message quotes what was typed


@pytest.mark.parametrize("amount", ["0", "0M", 0, -1, -2.5, float("inf"), float("nan"), "1e400"])
def test_parse_amount_rejects_zero_negative_and_infinite(amount: str | float) -> None:
    with pytest.raises(InvalidSearchError, match="must be a positive, finite amount"):
        parse_amount(amount)


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        parse_amount("lots")
    assert issubclass(InvalidSearchError, CgEvoError)


@pytest.mark.property
@given(st.floats(1e-3, 1e6), st.sampled_from(["", "K", "M", "G", "T"]))
def test_parse_amount_scales_by_powers_of_1000(number: float, suffix: str) -> None:
    scale = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[suffix]
    assert parse_amount(f"{number!r}{suffix}") == pytest.approx(number * scale, rel=1e-12)
    assert parse_amount(f"{number!r}{suffix.lower()}") == parse_amount(f"{number!r}{suffix}")


def test_budget_parse() -> None:
    budget = Budget.parse(max_flops="100M", max_params=None, max_macs=300)
    assert budget.limits == {"flops": 1e8, "macs": 300.0}  # None: no limit on that cost
    assert Budget.parse().limits == {} and Budget().describe() == "none"
    assert budget.describe() == "flops <= 1e+08, macs <= 300"
    assert budget.to_dict() == {"flops": 1e8, "macs": 300.0}
    assert COSTS == ("flops", "params", "macs", "latency")


def test_budget_parse_unknown_cost() -> None:
    with pytest.raises(InvalidSearchError, match="unknown cost 'energy'") as info:
        Budget.parse(max_energy="1M")
    assert "flops, params, macs, latency" in str(info.value)
    with pytest.raises(InvalidSearchError, match="must be a positive"):
        Budget.parse(max_params="0")


@pytest.mark.parametrize("word", ["median", "Median", " MEDIAN "])
def test_median_is_resolved_against_the_costs(word: str) -> None:
    budget = Budget.parse(max_flops=word, max_params="2")
    assert budget.limits == {"flops": "median", "params": 2.0}
    assert budget.describe() == "flops <= median, params <= 2"
    costs = {"flops": np.array([4.0, 1.0, 10.0, 2.0]), "params": np.array([1.0, 2.0, 3.0, 1.0])}
    resolved = budget.resolve(costs)
    assert resolved.limits == {"flops": 3.0, "params": 2.0}  # median of an even count: mean
    assert budget.limits["flops"] == "median"  # frozen: resolve returns a new budget
    assert budget.mask(costs).tolist() == [False, True, False, True]
    assert resolved.mask(costs).tolist() == budget.mask(costs).tolist()


def test_mask_is_inclusive_and_needs_every_limit() -> None:
    costs = {"flops": np.array([1e8, 1e8 + 1, 5e7]), "params": np.array([2e6, 1.0, 3e6])}
    assert Budget.parse(max_flops="100M").mask(costs).tolist() == [True, False, True]
    both = Budget.parse(max_flops="100M", max_params="2M")
    assert both.mask(costs).tolist() == [True, False, False]
    assert Budget().mask(costs).tolist() == [True, True, True]  # no limit: the whole space


def test_resolve_names_the_missing_costs() -> None:
    costs = {"flops": np.array([1.0, 2.0]), "params": np.array([3.0, 4.0])}
    budget = Budget.parse(max_latency="1M", max_macs="median", max_flops="1")
    for call in (budget.resolve, budget.mask):
        with pytest.raises(InvalidSearchError) as info:
            call(costs)
        message = str(info.value)
        assert re.search(r"no (latency, macs|macs, latency) cost", message), message
        assert "costs available: flops, params" in message
