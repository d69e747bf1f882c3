"""A backtest of bars [lo, hi) of a strategy's full-history signals: what the gate runs per
segment and what `rara backtest run` runs on the whole range.

Signals are causal (the look-ahead checks prove it for every candidate the gate judges), so the
slice equals what the strategy computes with all earlier history as warm-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rara.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from rara.backtest.metrics import Metrics, compute_metrics
from rara.domain.market import Candles
from rara_sandbox.results import WindowResult


def backtest_window(
    candles: Candles, signals: WindowResult, lo: int, hi: int, cfg: BacktestConfig
) -> tuple[BacktestResult, Metrics]:
    """Backtest bars [lo, hi) of a full-history evaluation and measure it."""
    segment = candles.slice(lo, hi)

    def cut(level: Any) -> Any:
        return level[lo:hi] if isinstance(level, np.ndarray) else level

    result = run_backtest(
        segment,
        signals.entries[lo:hi],
        signals.exits[lo:hi],
        cfg,
        cut(signals.stop_loss),
        cut(signals.take_profit),
    )
    return result, compute_metrics(result, segment)
