"""The execution convention on hand-made bars, with the numbers worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rara.backtest import EXIT_REASONS, BacktestConfig, BacktestResult, run_backtest
from rara.domain.market import Candles

FEE, SLIP = 0.001, 0.0005
CFG = BacktestConfig(fee=FEE, slippage=SLIP)


def bars(ohlc: list[tuple[float, float, float, float]]) -> Candles:
    a = np.array(ohlc, dtype=np.float64)
    ts = np.arange(len(ohlc), dtype=np.int64) * 3_600_000
    return Candles(
        ts, a[:, 0].copy(), a[:, 1].copy(), a[:, 2].copy(), a[:, 3].copy(), np.ones(len(ohlc))
    )


def flat(n: int, price: float = 100.0) -> list[tuple[float, float, float, float]]:
    return [(price, price + 1, price - 1, price)] * n


def signals(n: int, entry_bars: list[int], exit_bars: list[int]) -> tuple[np.ndarray, np.ndarray]:
    e = np.zeros(n, dtype=bool)
    x = np.zeros(n, dtype=bool)
    e[entry_bars] = True
    x[exit_bars] = True
    return e, x


def reasons(res: BacktestResult) -> list[str]:
    return [EXIT_REASONS[k] for k in res.trades["exit_reason"]]


def test_signal_fills_at_next_open_with_fees_and_slippage() -> None:
    c = bars(
        [
            (100, 101, 99, 100),
            (102, 104, 101, 103),
            (103, 106, 102, 105),
            (110, 111, 108, 109),
            (109, 110, 108, 109),
        ]
    )
    res = run_backtest(c, *signals(5, [0], [2]), CFG)
    (t,) = res.trades
    buy = 102 * (1 + SLIP)
    size = 10_000 / (buy * (1 + FEE))
    sell = 110 * (1 - SLIP)
    assert (t["entry_idx"], t["exit_idx"]) == (1, 3)
    assert t["entry_price"] == pytest.approx(buy, rel=1e-12)
    assert t["exit_price"] == pytest.approx(sell, rel=1e-12)
    assert t["size"] == pytest.approx(size, rel=1e-12)
    assert t["entry_fee"] == pytest.approx(size * buy * FEE, rel=1e-12)
    assert t["exit_fee"] == pytest.approx(size * sell * FEE, rel=1e-12)
    final = size * sell * (1 - FEE)
    assert t["pnl"] == pytest.approx(final - 10_000, rel=1e-9)
    assert reasons(res) == ["signal"]
    # Equity at each close: cash until the fill, then marked to the close; flat after the exit.
    np.testing.assert_allclose(
        res.equity, [10_000, size * 103, size * 105, final, final], rtol=1e-9
    )
    assert res.returns[0] == 0.0


def test_signal_on_last_bar_is_dropped() -> None:
    res = run_backtest(bars(flat(4)), *signals(4, [3], []), CFG)
    assert len(res.trades) == 0
    np.testing.assert_array_equal(res.equity, 10_000.0)


def test_entry_and_exit_on_one_bar_mean_nothing() -> None:
    c = bars(flat(6))
    assert len(run_backtest(c, *signals(6, [1], [1]), CFG).trades) == 0
    # While long, the both-set bar does not exit either; the later exit does.
    res = run_backtest(c, *signals(6, [0, 2], [2, 3]), CFG)
    assert [(t["entry_idx"], t["exit_idx"]) for t in res.trades] == [(1, 4)]


def test_entries_while_long_and_exits_while_flat_are_ignored() -> None:
    c = bars(flat(8))
    res = run_backtest(c, *signals(8, [1, 2, 3, 5], [0, 4, 5]), CFG)
    assert [(t["entry_idx"], t["exit_idx"]) for t in res.trades] == [(2, 5)]


def test_position_open_at_the_end_is_sold_at_the_last_close() -> None:
    c = bars([(100, 101, 99, 100), (100, 101, 99, 100), (100, 121, 99, 120)])
    res = run_backtest(c, *signals(3, [0], []), CFG)
    (t,) = res.trades
    assert reasons(res) == ["end"] and t["exit_idx"] == 2
    assert t["exit_price"] == pytest.approx(120 * (1 - SLIP))
    assert res.equity[-1] == pytest.approx(10_000 + t["pnl"], rel=1e-12)
    # An entry filled on the very last bar is also sold at that bar's close.
    res = run_backtest(c, *signals(3, [1], []), CFG)
    assert [(t["entry_idx"], t["exit_idx"]) for t in res.trades] == [(2, 2)]


def test_size_fraction_commits_part_of_the_cash() -> None:
    c = bars(flat(4))
    res = run_backtest(c, *signals(4, [0], []), CFG.model_copy(update={"size_fraction": 0.25}))
    (t,) = res.trades
    assert t["size"] * t["entry_price"] + t["entry_fee"] == pytest.approx(2_500)
    assert res.equity[1] == pytest.approx(7_500 + t["size"] * 100)


SL, TP = 0.05, 0.10  # entry fills at 100 * (1 + SLIP) = 100.05: SL 95.0475, TP 110.055


def stop_case(
    ohlc: list[tuple[float, float, float, float]], exit_bars: tuple[int, ...] = ()
) -> tuple[BacktestResult, float, float]:
    c = bars([(100, 101, 99, 100), *ohlc])
    n = len(c)
    res = run_backtest(c, *signals(n, [0], list(exit_bars)), CFG, stop_loss=SL, take_profit=TP)
    fill = 100 * (1 + SLIP)
    return res, fill * (1 - SL), fill * (1 + TP)


def test_stops_are_not_checked_on_the_entry_bar() -> None:
    res, _, _ = stop_case([(100, 120, 90, 100), (100, 101, 99, 100)])
    assert reasons(res) == ["end"]


def test_stop_loss_inside_the_bar_fills_at_the_level() -> None:
    res, sl, _ = stop_case([(100, 101, 99, 100), (99, 100, 94, 95), (95, 96, 94, 95)])
    (t,) = res.trades
    assert reasons(res) == ["stop_loss"] and t["exit_idx"] == 2
    assert t["exit_price"] == pytest.approx(sl * (1 - SLIP), rel=1e-12)


def test_stop_loss_gap_fills_at_the_open() -> None:
    res, _, _ = stop_case([(100, 101, 99, 100), (90, 92, 89, 91)])
    assert reasons(res) == ["stop_loss"]
    assert res.trades["exit_price"][0] == pytest.approx(90 * (1 - SLIP), rel=1e-12)


def test_take_profit_inside_and_gap() -> None:
    res, _, tp = stop_case([(100, 101, 99, 100), (105, 112, 104, 111)])
    assert reasons(res) == ["take_profit"]
    assert res.trades["exit_price"][0] == pytest.approx(tp * (1 - SLIP), rel=1e-12)
    res, _, _ = stop_case([(100, 101, 99, 100), (115, 116, 114, 115)])
    assert reasons(res) == ["take_profit"]
    assert res.trades["exit_price"][0] == pytest.approx(115 * (1 - SLIP), rel=1e-12)


def test_stop_loss_wins_when_both_levels_are_inside_one_bar() -> None:
    res, sl, _ = stop_case([(100, 101, 99, 100), (100, 120, 80, 100)])
    assert reasons(res) == ["stop_loss"]
    assert res.trades["exit_price"][0] == pytest.approx(sl * (1 - SLIP), rel=1e-12)


def test_exit_signal_at_the_open_comes_before_a_stop_inside_the_bar() -> None:
    # Exit signal on bar 2 acts at the open of bar 3, whose low would hit the stop later.
    res, _, _ = stop_case(
        [(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 80, 85)], exit_bars=(2,)
    )
    assert reasons(res) == ["signal"]
    assert res.trades["exit_price"][0] == pytest.approx(100 * (1 - SLIP), rel=1e-12)


def test_no_reentry_on_the_bar_a_stop_fires() -> None:
    c = bars(
        [
            (100, 101, 99, 100),
            (100, 101, 99, 100),
            (100, 101, 80, 85),
            (85, 86, 84, 85),
            (85, 86, 84, 85),
        ]
    )
    e, x = signals(5, [0, 1, 2], [])
    res = run_backtest(c, e, x, CFG, stop_loss=SL)
    # Entry at 1, stopped on 2 (its entry signal from bar 1 is ignored), re-entry at 3.
    assert [(t["entry_idx"], t["exit_idx"]) for t in res.trades] == [(1, 2), (3, 4)]
    assert reasons(res) == ["stop_loss", "end"]


def test_per_bar_stops_are_read_on_the_signal_bar() -> None:
    c = bars([(100, 101, 99, 100), (100, 101, 99, 100), (100, 101, 97, 100), (100, 101, 99, 100)])
    sl = np.array([0.02, 0.5, 0.5, 0.5])  # the signal on bar 0 carries 2%
    res = run_backtest(c, *signals(4, [0], []), CFG, stop_loss=sl)
    assert reasons(res) == ["stop_loss"] and res.trades["exit_idx"][0] == 2
    sl[0] = np.nan  # no stop for this entry
    assert reasons(run_backtest(c, *signals(4, [0], []), CFG, stop_loss=sl)) == ["end"]
