"""Many backtests on one set of candles (a parameter grid), in memory that does not grow.

The issue measured one vectorised vectorbt call over a 100-pair grid at 13-15 GB: it holds
every candidate's signals, orders and per-bar series at once. Here candidates run one at a time
through the warm engine, each result is reduced to its `Metrics` and dropped, and what depends
only on the candles (bar length, the buy-and-hold benchmark) is computed once. Memory
stays at a few single backtests whatever the grid size, and time is the sum of single warm runs
(~3 ms each for a year of 1m bars) plus their metrics.

Parallelism belongs to the caller's worker pool: call `warm_up()` in the parent, then fork, and
give each worker a slice of the grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy.typing as npt

from rara.backtest.engine import BacktestConfig, Stop, run_backtest
from rara.backtest.metrics import Metrics, buy_and_hold, compute_metrics, infer_bars_per_day
from rara.domain.market import Candles

Signals = tuple[npt.ArrayLike, npt.ArrayLike]


def iter_grid(
    candles: Candles,
    signals: Iterable[Signals],
    config: BacktestConfig | None = None,
    stop_loss: Stop = None,
    take_profit: Stop = None,
    bars_per_day: float | None = None,
) -> Iterator[Metrics]:
    """Metrics of each (entries, exits) pair, in order, one backtest in memory at a time.
    Pass a generator for `signals` so candidates are built only when they run."""
    cfg = config or BacktestConfig()
    bpd = bars_per_day or cfg.bars_per_day or infer_bars_per_day(candles.ts)
    bench = buy_and_hold(candles, cfg, bpd)
    for entries, exits in signals:
        result = run_backtest(candles, entries, exits, cfg, stop_loss, take_profit)
        yield compute_metrics(result, candles, bpd, benchmark=bench)


def run_grid(
    candles: Candles,
    signals: Iterable[Signals],
    config: BacktestConfig | None = None,
    stop_loss: Stop = None,
    take_profit: Stop = None,
    bars_per_day: float | None = None,
) -> list[Metrics]:
    """`iter_grid` collected into a list (metrics are small: no per-bar arrays)."""
    return list(iter_grid(candles, signals, config, stop_loss, take_profit, bars_per_day))
