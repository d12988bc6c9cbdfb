"""The budget check (softjax.sweeps.budget): a still-improving curve, and "slows" vs
"stops" on a budget at least 3× as long."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from softjax.sweeps import budget
from softjax.sweeps.budget import slope, slows_or_stops, still_improving


def test_doctests():
    result = doctest.testmod(budget)
    assert result.attempted > 0 and result.failed == 0


def test_slope_by_hand():
    # Last 3 of [.., 0.4, 0.5, 0.7]: x̄ = 1, ȳ = 1.6/3; slope = (−1·0.4 + 1·0.7)/2 = 0.15.
    assert slope([0.0, 0.4, 0.5, 0.7]) == pytest.approx(0.15)
    assert slope([0.0, 0.4, 0.5, 0.7], last=4) == pytest.approx(0.22)


@given(st.floats(-1.0, 1.0), st.floats(-0.1, 0.1), st.integers(2, 10), st.integers(0, 5))
def test_slope_recovers_a_line(intercept, rate, last, before):
    curve = [intercept + rate * e for e in range(last + before)]
    assert slope(curve, last) == pytest.approx(rate, abs=1e-9)


def test_still_improving_at_the_threshold():
    # The re-analysis's case: MSE at init 100 still climbing at epoch 5.
    assert still_improving([0.20, 0.30, 0.48, 0.60, 0.69])
    assert not still_improving([0.85, 0.88, 0.881, 0.8815, 0.882])
    assert not still_improving([0.5, 0.502, 0.504], threshold=0.002)  # slope = threshold
    assert still_improving([0.5, 0.502, 0.504], threshold=0.0019)


def test_slows_when_a_longer_budget_gains():
    curve = [0.2 + 0.5 * (1 - math.exp(-e / 6)) for e in range(15)]
    v = slows_or_stops(curve, short_epochs=5)
    assert v.verdict == "slows" and v.long_epochs == 15 and v.gain > 0.01
    assert v.at_short == pytest.approx(curve[4]) and v.slope_at_short > v.slope_at_long
    assert v.render(scale=100).startswith("slows: ")
    assert v.as_dict()["verdict"] == "slows"


def test_stops_when_a_longer_budget_is_flat():
    curve = [0.2, 0.3, 0.33, 0.34, 0.345] + [0.346] * 10
    v = slows_or_stops(curve, short_epochs=5)
    assert v.verdict == "stops" and not v.still_improving_at_end
    assert v.gain == pytest.approx(0.001)


def test_still_climbing_at_the_longer_end_is_slows_and_says_so():
    curve = [0.1 + 0.004 * e for e in range(15)]  # +0.4 points an epoch, never flat
    v = slows_or_stops(curve, short_epochs=5, min_gain=1.0)
    assert v.verdict == "slows" and v.still_improving_at_end
    assert v.render().endswith("still improving")


def test_bad_budgets_are_named():
    with pytest.raises(ValueError, match="3×"):
        slows_or_stops([0.1] * 10, short_epochs=5)
    with pytest.raises(ValueError, match="short_epochs"):
        slows_or_stops([0.1] * 10, short_epochs=2)
    with pytest.raises(ValueError, match="finite"):
        still_improving([0.1, math.nan, 0.2])
    with pytest.raises(ValueError, match="last"):
        slope([0.1, 0.2], last=3)
