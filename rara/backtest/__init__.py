"""Backtests on vectorbt: `run_backtest` (engine), `compute_metrics` (metrics), `run_grid`, and
`backtest_window` (a segment of a strategy's signals, measured).

Importing this package is cheap: vectorbt is imported on the first backtest or by `warm_up()`.
"""

from rara.backtest.engine import (
    EXIT_REASONS,
    TRADE_DTYPE,
    BacktestConfig,
    BacktestResult,
    run_backtest,
)
from rara.backtest.grid import iter_grid, run_grid
from rara.backtest.metrics import BenchmarkMetrics, Metrics, buy_and_hold, compute_metrics
from rara.backtest.warm import warm_up
from rara.backtest.window import backtest_window

__all__ = [
    "EXIT_REASONS",
    "TRADE_DTYPE",
    "BacktestConfig",
    "BacktestResult",
    "BenchmarkMetrics",
    "Metrics",
    "backtest_window",
    "buy_and_hold",
    "compute_metrics",
    "iter_grid",
    "run_backtest",
    "run_grid",
    "warm_up",
]
