"""Run metrics on equity curves worked out by hand, and their properties: drawdown is a fraction
in [0, 1], Sharpe and annualised return do not depend on the size of the account."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara.feedback import metrics

CURVE = np.array([100.0, 110.0, 99.0, 121.0])


def test_returns_sharpe_drawdown_and_annual_return_by_hand() -> None:
    r = metrics.bar_returns(CURVE)
    assert r == pytest.approx([0.1, -0.1, 22 / 99])
    # mean 0.0740741, sd (ddof 1) 0.1626690; 4 bars a year: x sqrt(4)
    expected = statistics.mean(r) / statistics.stdev(r) * 2
    assert metrics.sharpe(r, 4.0) == pytest.approx(expected)
    assert metrics.sharpe(r, 4.0) == pytest.approx(0.910730, rel=1e-5)
    assert metrics.max_drawdown(CURVE) == pytest.approx(0.1)  # 110 -> 99
    # 100 -> 121 over 3 returns, 3 bars a year: 21% a year; over 6 a year: 1.21^2 - 1
    assert metrics.annual_return(CURVE, 3.0) == pytest.approx(0.21)
    assert metrics.annual_return(CURVE, 6.0) == pytest.approx(1.21**2 - 1)


def test_market_time_and_bars_per_year() -> None:
    assert metrics.bars_per_year("1h") == 8760.0
    assert metrics.bars_per_year("1d") == 365.0
    assert metrics.market_days(24 * 14, "1h") == 14.0


def test_tracking_error_of_two_curves_over_the_same_bars() -> None:
    assert metrics.tracking_error(CURVE, CURVE * 3, 8760.0) == pytest.approx(0.0, abs=1e-12)
    other = np.array([100.0, 110.0, 110.0, 121.0])
    diff = metrics.bar_returns(CURVE) - metrics.bar_returns(other)  # [0, -0.1, 0.1111]
    te = metrics.tracking_error(CURVE, other, 4.0)
    assert te == pytest.approx(statistics.stdev(diff) * 2)
    with pytest.raises(ValueError):
        metrics.tracking_error(CURVE, other[:3], 4.0)


def test_too_few_marks_give_none_never_nan() -> None:
    one = np.array([100.0])
    assert metrics.sharpe(metrics.bar_returns(one), 8760.0) is None
    assert metrics.annual_return(one, 8760.0) is None
    assert metrics.max_drawdown(one) == 0.0
    assert metrics.max_drawdown(np.array([])) is None
    flat = np.full(10, 100.0)
    assert metrics.sharpe(metrics.bar_returns(flat), 8760.0) is None  # no variation
    assert metrics.tracking_error(one, one, 8760.0) is None
    # growth too steep to annualise (doubling per 1m bar) is None, not inf
    assert metrics.annual_return(np.array([1.0, 2.0]), 525_600.0) is None


def test_a_bar_marked_twice_keeps_its_later_mark_in_bar_order() -> None:
    ms, eq = metrics.curve(
        [(2, Decimal("101")), (1, Decimal("100")), (2, Decimal("102.5")), (3, Decimal("99"))]
    )
    assert ms.tolist() == [1, 2, 3] and eq.tolist() == [100.0, 102.5, 99.0]


curves = st.lists(
    st.floats(min_value=1.0, max_value=1e6, allow_nan=False), min_size=2, max_size=60
).map(lambda xs: np.asarray(xs, dtype=np.float64))


@settings(max_examples=150, derandomize=True, deadline=None)
@given(equity=curves, scale=st.floats(min_value=1e-3, max_value=1e3))
def test_drawdown_is_a_fraction_and_results_do_not_depend_on_account_size(
    equity: np.ndarray, scale: float
) -> None:
    dd = metrics.max_drawdown(equity)
    assert dd is not None and 0.0 <= dd <= 1.0
    assert metrics.max_drawdown(equity * scale) == pytest.approx(dd, abs=1e-9)
    s1 = metrics.sharpe(metrics.bar_returns(equity), 8760.0)
    s2 = metrics.sharpe(metrics.bar_returns(equity * scale), 8760.0)
    if s1 is not None and s2 is not None:  # None: no variation (flat), either size
        assert math.isclose(s1, s2, rel_tol=1e-6, abs_tol=1e-6)
    a1, a2 = metrics.annual_return(equity, 365.0), metrics.annual_return(equity * scale, 365.0)
    assert (a1 is None) == (a2 is None)
    if a1 is not None and a2 is not None:
        assert a2 == pytest.approx(a1, rel=1e-6, abs=1e-9)
