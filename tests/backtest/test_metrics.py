"""Metrics: the 24/7 annualisation, drawdown and its duration, trade statistics, buy and hold,
and a JSON form with no NaN in it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rara.backtest import (
    TRADE_DTYPE,
    BacktestConfig,
    BacktestResult,
    Metrics,
    buy_and_hold,
    compute_metrics,
    run_backtest,
)
from rara.backtest.metrics import annualization, infer_bars_per_day
from rara.domain.market import Candles
from rara.errors import BadInput
from tests.backtest.helpers import sma_cross

DAY = 86_400_000


def daily(close: list[float]) -> Candles:
    c = np.array(close, dtype=np.float64)
    ts = np.arange(len(close), dtype=np.int64) * DAY
    return Candles(ts, c.copy(), c * 1.01, c * 0.99, c.copy(), np.ones(len(close)))


def result(
    equity: list[float], trades: np.ndarray | None = None, cfg: BacktestConfig | None = None
) -> BacktestResult:
    return BacktestResult(
        np.array(equity, dtype=np.float64),
        np.zeros(0, TRADE_DTYPE) if trades is None else trades,
        cfg or BacktestConfig(init_cash=100.0),
        "test",
    )


def test_annualisation_counts_every_day_of_the_year() -> None:
    assert annualization(24) == pytest.approx(math.sqrt(365 * 24))
    assert annualization(1440) == pytest.approx(math.sqrt(525_600))
    assert annualization(1) != pytest.approx(math.sqrt(252))


def test_sharpe_and_sortino_by_hand(btc_1h: Candles) -> None:
    res = run_backtest(btc_1h, *sma_cross(btc_1h.close, 10, 40))
    m = compute_metrics(res, btc_1h)
    assert m.bars_per_day == 24
    r = res.returns
    factor = math.sqrt(365 * 24)
    assert m.sharpe == pytest.approx(r.mean() / r.std(ddof=1) * factor, rel=1e-9)
    downside = math.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert m.sortino == pytest.approx(r.mean() / downside * factor, rel=1e-9)
    # The same curve annualised as if it were daily bars gives a sqrt(24) smaller Sharpe.
    m_daily = compute_metrics(res, btc_1h, bars_per_day=1)
    assert m.sharpe is not None
    assert m_daily.sharpe == pytest.approx(m.sharpe / math.sqrt(24), rel=1e-9)


def test_drawdown_and_its_duration() -> None:
    # Peaks 100 (initial), 110, 111. Below a peak: bars 2-3 (2 bars) and bar 5 (unrecovered).
    c = daily([1.0] * 6)
    m = compute_metrics(result([100, 110, 99, 105, 111, 100]), c)
    assert m.max_drawdown == pytest.approx(0.1)
    assert m.max_drawdown_bars == 2
    assert m.max_drawdown_days == 2.0
    # A curve that starts below the initial cash is in drawdown from bar 0.
    m = compute_metrics(result([90, 95, 99, 98, 101, 102]), c)
    assert m.max_drawdown == pytest.approx(0.1) and m.max_drawdown_bars == 4


def test_cagr_over_the_calendar_span_and_calmar() -> None:
    c = daily([1.0] * 365)  # 365 daily bars: exactly one year from first open to last close
    equity = np.linspace(100, 121, 365)
    equity[100] = 90  # a 10%+ dip below the initial cash
    m = compute_metrics(result(list(equity)), c)
    assert m.years == pytest.approx(1.0)
    assert m.cagr is not None and m.cagr == pytest.approx(0.21)
    assert m.max_drawdown == pytest.approx(1 - 90 / equity[99])
    assert m.calmar == pytest.approx(m.cagr / m.max_drawdown)
    half = compute_metrics(result(list(equity[:73])), daily([1.0] * 73))  # a fifth of a year
    assert half.cagr == pytest.approx((equity[72] / 100) ** 5 - 1)


def test_trade_statistics() -> None:
    t = np.zeros(3, TRADE_DTYPE)
    t["entry_idx"], t["exit_idx"] = [1, 4, 7], [3, 6, 9]
    t["entry_price"], t["exit_price"], t["size"] = [10, 10, 10], [12, 9, 11], [1, 1, 1]
    t["pnl"] = [2.0, -1.0, 1.0]
    t["ret"] = [0.2, -0.1, 0.1]
    t["entry_fee"] = t["exit_fee"] = 0.01
    t["exit_reason"] = [0, 1, 3]
    m = compute_metrics(result([100.0] * 10, t), daily([1.0] * 10))
    assert m.trades == 3
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(3.0)
    assert m.avg_trade_return == pytest.approx(0.2 / 3)
    assert m.exposure == pytest.approx((2 + 2 + 2 + 1) / 10)  # the "end" trade holds bar 9
    assert m.turnover == pytest.approx((22 + 19 + 21) / 100)
    assert m.fees_paid == pytest.approx(0.06)
    assert m.open_at_end


def test_undefined_values_are_none_and_json_has_no_nan() -> None:
    c = daily([100.0] * 30)
    res = run_backtest(c, np.zeros(30, bool), np.zeros(30, bool))
    m = compute_metrics(res, c)
    assert (m.trades, m.win_rate, m.profit_factor, m.avg_trade_return) == (0, None, None, None)
    assert (m.sharpe, m.sortino, m.calmar) == (None, None, None)
    assert m.max_drawdown == 0.0 and m.exposure == 0.0 and m.total_return == 0.0
    text = m.model_dump_json()
    assert "NaN" not in text and "Infinity" not in text
    assert Metrics.model_validate(json.loads(text)) == m
    with pytest.raises(ValueError, match="must be None"):
        Metrics.model_validate({**m.model_dump(), "sharpe": float("nan")})


def test_buy_and_hold_same_bars_same_costs(btc_1h: Candles) -> None:
    cfg = BacktestConfig(fee=0.002, slippage=0.001)
    b = buy_and_hold(btc_1h, cfg)
    size = cfg.init_cash / (btc_1h.open[0] * 1.001 * 1.002)
    final = size * btc_1h.close[-1] * 0.999 * 0.998
    assert b.final_equity == pytest.approx(final, rel=1e-12)
    assert b.total_return == pytest.approx(final / cfg.init_cash - 1, rel=1e-12)
    # The strategy "enter on bar 0, never exit" is the same, one bar later.
    entries = np.zeros(len(btc_1h), dtype=bool)
    entries[0] = True
    held = run_backtest(btc_1h, entries, np.zeros(len(btc_1h), dtype=bool), cfg)
    assert held.final_equity == pytest.approx(final * btc_1h.open[0] / btc_1h.open[1], rel=1e-9)
    m = compute_metrics(held, btc_1h)
    assert m.benchmark == b
    assert b.sharpe is not None and b.max_drawdown > 0


def test_bar_length_is_inferred_from_timestamps(btc_5m: Candles) -> None:
    assert infer_bars_per_day(btc_5m.ts) == 288
    gappy = np.delete(btc_5m.ts, np.s_[100:200])
    assert infer_bars_per_day(gappy) == 288
    with pytest.raises(BadInput):
        infer_bars_per_day(btc_5m.ts[:1])


def test_metrics_refuse_mismatched_candles(btc_1h: Candles) -> None:
    res = run_backtest(btc_1h, *sma_cross(btc_1h.close, 10, 40))
    with pytest.raises(BadInput):
        compute_metrics(res, btc_1h.slice(0, 100))
