"""The public surface: config, input checks, light import, warm-up, engines, grids."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys

import numpy as np
import pytest

from rara.backtest import (
    BacktestConfig,
    compute_metrics,
    iter_grid,
    run_backtest,
    run_grid,
    warm_up,
)
from rara.backtest.engine import Engine
from rara.domain.market import Candles
from rara.errors import BadInput
from tests.backtest.helpers import random_signals, sma_cross
from tests.kit.candles import shipped_btc


def test_config_defaults_and_exchange_fees() -> None:
    cfg = BacktestConfig()
    assert (cfg.init_cash, cfg.fee, cfg.slippage, cfg.size_fraction) == (10_000, 0.001, 0.0005, 1)
    assert BacktestConfig.for_exchange("kraken").fee == 0.004
    assert BacktestConfig.for_exchange("Binance").fee == 0.001
    assert BacktestConfig.for_exchange("somewhere", fee=0.003).fee == 0.003
    assert BacktestConfig.for_exchange("kraken", fee=0.002, init_cash=5).fee == 0.002
    with pytest.raises(ValueError):
        BacktestConfig(fee=-0.1)
    with pytest.raises(ValueError):
        BacktestConfig(size_fraction=1.5)  # no leverage


def test_import_is_light() -> None:
    code = (
        "import sys, rara.backtest; "
        "print([m for m in ('vectorbt', 'numba', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_warm_up_and_engine_reported(btc_1h: Candles) -> None:
    engine = warm_up()
    assert engine in ("rust", "numba")
    res = run_backtest(btc_1h, *sma_cross(btc_1h.close, 10, 40))
    assert res.engine == engine


@pytest.mark.parametrize(
    "bad", [np.zeros(5, bool), np.full(100, np.nan), np.full(100, 2), np.zeros((100, 2), bool)]
)
def test_bad_signals_are_refused(btc_1h: Candles, bad: np.ndarray) -> None:
    c = btc_1h.slice(0, 100)
    with pytest.raises(BadInput):
        run_backtest(c, bad, np.zeros(100, bool))


def test_signals_as_zero_one_integers(btc_1h: Candles) -> None:
    e, x = sma_cross(btc_1h.close, 10, 40)
    a = run_backtest(btc_1h, e.astype(int), x.astype(np.float64))
    b = run_backtest(btc_1h, e, x)
    np.testing.assert_array_equal(a.equity, b.equity)


@pytest.mark.parametrize(
    "stops",
    [
        {"stop_loss": 1.0},
        {"stop_loss": -0.01},
        {"take_profit": np.zeros(7)},
        {"stop_loss": np.zeros((2, 50))},
    ],
)
def test_bad_stops_are_refused(btc_1h: Candles, stops: dict[str, object]) -> None:
    c = btc_1h.slice(0, 100)
    e, x = random_signals(100, seed=1)
    with pytest.raises(BadInput):
        run_backtest(c, e, x, **stops)  # type: ignore[arg-type]


def test_bad_prices_are_refused(btc_1h: Candles) -> None:
    c = btc_1h.slice(0, 100)
    e, x = random_signals(100, seed=1)
    fill_bar = int(np.flatnonzero(e[:-1] ^ x[:-1])[0]) + 1

    def with_nan(col: str, bar: int) -> Candles:
        cols = {k: getattr(c, k) for k in Candles.COLUMNS}
        cols[col] = np.where(np.arange(100) == bar, np.nan, cols[col])
        return Candles(**cols)

    with pytest.raises(BadInput, match="open"):
        run_backtest(with_nan("open", fill_bar), e, x)
    with pytest.raises(BadInput, match="close"):
        run_backtest(with_nan("close", 99), e, x)
    run_backtest(with_nan("open", 0), e, x)  # nothing fills on bar 0: its open is never used
    inverted = Candles(c.ts, c.open, c.low, c.high, c.close, c.volume)  # high below low
    run_backtest(inverted, e, x)  # without stops the range is not used
    with pytest.raises(BadInput, match="bar 0"):
        run_backtest(inverted, e, x, stop_loss=0.01)
    with pytest.raises(BadInput, match="bar 7"):
        run_backtest(with_nan("low", 7), e, x, take_profit=0.01)


def test_all_nan_stops_mean_no_stops(btc_1h: Candles) -> None:
    e, x = sma_cross(btc_1h.close, 10, 40)
    a = run_backtest(btc_1h, e, x, stop_loss=np.full(len(btc_1h), np.nan))
    b = run_backtest(btc_1h, e, x)
    np.testing.assert_array_equal(a.trades, b.trades)


def test_empty_candles() -> None:
    res = run_backtest(Candles.empty(), np.zeros(0, bool), np.zeros(0, bool))
    assert len(res.trades) == 0 and res.final_equity == 10_000 and len(res.returns) == 0


def test_trades_are_json_able(btc_1h: Candles) -> None:
    res = run_backtest(btc_1h, *sma_cross(btc_1h.close, 10, 40), stop_loss=0.01)
    rows = res.trade_dicts()
    assert rows and json.loads(json.dumps(rows)) == rows
    assert {r["exit_reason"] for r in rows} <= {"signal", "stop_loss", "take_profit", "end"}


def test_grid_equals_single_backtests(btc_1h: Candles) -> None:
    pairs = [(5, 20), (10, 40), (20, 80)]
    cfg = BacktestConfig(fee=0.0015)
    grid = run_grid(btc_1h, (sma_cross(btc_1h.close, f, s) for f, s in pairs), cfg, stop_loss=0.02)
    singles = [
        compute_metrics(
            run_backtest(btc_1h, *sma_cross(btc_1h.close, f, s), cfg, stop_loss=0.02), btc_1h
        )
        for f, s in pairs
    ]
    assert grid == singles
    assert (
        next(iter_grid(btc_1h, iter([sma_cross(btc_1h.close, 5, 20)]), cfg, stop_loss=0.02))
        == singles[0]
    )


@pytest.mark.slow
def test_numba_engine_matches_rust(btc_1h: Candles) -> None:
    """The fallback engine (no vectorbt-rust) gives the same trades. Pays ~10-30 s of JIT."""
    pytest.importorskip("vectorbt_rust")
    e, x = random_signals(len(btc_1h), seed=4, p=0.05)
    engines: list[Engine] = ["rust", "numba"]
    runs = [
        run_backtest(btc_1h, e, x, BacktestConfig(engine=eng), stop_loss=0.01, take_profit=0.02)
        for eng in engines
    ]
    assert [r.engine for r in runs] == ["rust", "numba"]
    np.testing.assert_array_equal(runs[0].trades, runs[1].trades)
    np.testing.assert_array_equal(runs[0].equity, runs[1].equity)


def _forked_backtest(seed: int) -> tuple[float, int]:
    c = shipped_btc("1h")
    res = run_backtest(c, *random_signals(len(c), seed=seed), stop_loss=0.01)
    return res.final_equity, len(res.trades)


@pytest.mark.slow
def test_workers_forked_from_a_warm_parent(btc_1h: Candles) -> None:
    """The intended pool: warm_up() in the parent, fork, run candidates in the children."""
    warm_up()
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        forked = pool.map(_forked_backtest, [1, 2, 3])
    assert forked == [_forked_backtest(seed) for seed in (1, 2, 3)]
