"""Acceptance 1: on the shipped real candles, the engine's trades and equity equal those of the
independent plain-Python loop in `reference.py`, trade for trade."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rara.backtest import EXIT_REASONS, BacktestConfig, BacktestResult, run_backtest
from rara.domain.market import Candles
from tests.backtest.helpers import random_signals, sma_cross, sma_levels
from tests.backtest.reference import RefTrade, reference_backtest

RTOL = 1e-9


def assert_same(res: BacktestResult, trades: list[RefTrade], equity: list[float]) -> None:
    t = res.trades
    assert len(t) == len(trades)
    np.testing.assert_array_equal(t["entry_idx"], [r.entry_idx for r in trades])
    np.testing.assert_array_equal(t["exit_idx"], [r.exit_idx for r in trades])
    assert [EXIT_REASONS[k] for k in t["exit_reason"]] == [r.exit_reason for r in trades]
    for field in ("entry_price", "exit_price", "size", "entry_fee", "exit_fee"):
        np.testing.assert_allclose(
            t[field], [getattr(r, field) for r in trades], rtol=RTOL, err_msg=field
        )
    cash = res.config.init_cash
    np.testing.assert_allclose(t["pnl"], [r.pnl for r in trades], rtol=RTOL, atol=RTOL * cash)
    np.testing.assert_allclose(res.equity, equity, rtol=RTOL, atol=RTOL * cash)
    assert res.final_equity == pytest.approx(equity[-1], rel=RTOL)
    # Every trade's pnl adds up to the final equity: nothing is lost between fills.
    assert cash + t["pnl"].sum() == pytest.approx(res.final_equity, rel=RTOL)


def check(
    c: Candles, entries: np.ndarray, exits: np.ndarray, cfg: BacktestConfig, **stops: Any
) -> BacktestResult:
    res = run_backtest(c, entries, exits, cfg, **stops)
    trades, equity = reference_backtest(c, entries, exits, cfg, **stops)
    assert_same(res, trades, equity)
    return res


CONFIGS = [BacktestConfig(), BacktestConfig(fee=0.002, slippage=0.001, size_fraction=0.5)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["default", "costly-half"])
@pytest.mark.parametrize("timeframe", ["1h", "5m"])
@pytest.mark.parametrize("kind", ["sma-cross", "sma-levels", "random"])
def test_signals_without_stops(
    request: pytest.FixtureRequest, timeframe: str, kind: str, cfg: BacktestConfig
) -> None:
    c: Candles = request.getfixturevalue(f"btc_{timeframe}")
    if kind == "sma-cross":
        entries, exits = sma_cross(c.close, 10, 40)
    elif kind == "sma-levels":
        entries, exits = sma_levels(c.close, 20, 60)
    else:
        entries, exits = random_signals(len(c), seed=11)
        assert (entries & exits).any()  # the both-set rule is exercised
    res = check(c, entries, exits, cfg)
    assert len(res.trades) > 20


def test_random_signals_many_seeds(btc_1h: Candles) -> None:
    for seed in range(8):
        entries, exits = random_signals(len(btc_1h), seed=seed, p=0.2)
        check(btc_1h, entries, exits, BacktestConfig())


@pytest.mark.parametrize(
    "timeframe,sl,tp",
    [("1h", 0.01, 0.02), ("5m", 0.003, 0.004), ("1h", 0.015, None), ("5m", None, 0.002)],
)
@pytest.mark.parametrize("kind", ["sma-cross", "random"])
def test_scalar_stops(
    request: pytest.FixtureRequest, timeframe: str, kind: str, sl: float | None, tp: float | None
) -> None:
    c: Candles = request.getfixturevalue(f"btc_{timeframe}")
    if kind == "sma-cross":
        entries, exits = sma_cross(c.close, 10, 40)
    else:
        entries, exits = random_signals(len(c), seed=5, p=0.03)
    res = check(c, entries, exits, BacktestConfig(), stop_loss=sl, take_profit=tp)
    reasons = {EXIT_REASONS[k] for k in res.trades["exit_reason"]}
    assert "signal" in reasons
    if sl is not None:
        assert "stop_loss" in reasons
    if tp is not None:
        assert "take_profit" in reasons


@pytest.mark.parametrize("timeframe", ["1h", "5m"])
def test_per_bar_stops_with_gaps(request: pytest.FixtureRequest, timeframe: str) -> None:
    c: Candles = request.getfixturevalue(f"btc_{timeframe}")
    rng = np.random.default_rng(3)
    n = len(c)
    sl = rng.uniform(0.001, 0.02, n)
    tp = rng.uniform(0.001, 0.03, n)
    sl[rng.random(n) < 0.2] = np.nan  # some entries carry no stop-loss, some no take-profit
    tp[rng.random(n) < 0.2] = np.nan
    entries, exits = random_signals(n, seed=9, p=0.05)
    res = check(c, entries, exits, BacktestConfig(slippage=0.0), stop_loss=sl, take_profit=tp)
    assert {"signal", "stop_loss", "take_profit"} <= {
        EXIT_REASONS[k] for k in res.trades["exit_reason"]
    }


def test_tiny_stops_fire_often_and_still_match(btc_5m: Candles) -> None:
    """Stops of 0 (fire on any touch of the fill price) and a candidate entry on every bar.

    4,000 bars: trading on nearly every bar burns the cash at 0.25% a round trip, and once a
    position is below vectorbt's 1e-12 units it counts as zero (see the engine docstring)."""
    c = btc_5m.slice(0, 4000)
    entries = np.ones(len(c), dtype=bool)
    exits = np.zeros(len(c), dtype=bool)
    exits[::500] = True
    res = check(c, entries, exits, BacktestConfig(), stop_loss=0.0, take_profit=0.001)
    assert len(res.trades) > 1000
    check(c, entries, exits, BacktestConfig(), stop_loss=0.0005, take_profit=0.0)
