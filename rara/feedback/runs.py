"""A trading run as feedback reads it from the event log: which run a strategy trades in, its
equity marks and round trips so far (`RunResults`), and the backtest over the same bars.

A run is found by its ``trading_session_started`` events (correlation id = run id); the daemon
runs a paper run per strategy at stage paper and a live run per strategy at stage live. A run
still trading is read up to its last marked bar: fills after that bar are the next bar's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rara.backtest.engine import BacktestConfig
from rara.config import Settings
from rara.data.catalog import Catalog
from rara.domain.events import (
    TradingEquityMarked,
    TradingOrderFilled,
    TradingSessionEnded,
    TradingSessionStarted,
)
from rara.domain.market import Instrument, Timeframe
from rara.errors import RaraError
from rara.events import EventFilter, EventStore
from rara.feedback import metrics
from rara.home import Home
from rara.registry import Registry
from rara.registry.manifest import read_manifest
from rara.runner.sandbox import open_sandbox
from rara.runner.strategy_source import StrategySource, resolve_strategy
from rara.trading.engine import HISTORY_BARS
from rara.trading.parity import RoundTrip, backtest_trades, paper_trades

PAPER_MODES = ("paper",)
LIVE_MODES = ("testnet", "live")


@dataclass(frozen=True)
class RunRecord:
    """What a run's events say: how it started, its marks, its completed trades."""

    started: TradingSessionStarted
    bar_ms: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    trades: list[RoundTrip]
    ended: bool  # the feed ended: the last position was sold on the last bar

    @property
    def run_id(self) -> str:
        return self.started.run_id

    @property
    def timeframe(self) -> Timeframe:
        return Timeframe.parse(self.started.timeframe)

    def results(self) -> metrics.RunResults:
        s, eq = self.started, self.equity
        per_year = metrics.bars_per_year(s.timeframe)
        return metrics.RunResults(
            run_id=s.run_id,
            strategy_id=s.strategy_id,
            mode=s.mode,
            exchange=s.exchange,
            symbol=s.symbol,
            timeframe=s.timeframe,
            first_bar_ms=int(self.bar_ms[0]) if len(self.bar_ms) else None,
            last_bar_ms=int(self.bar_ms[-1]) if len(self.bar_ms) else None,
            bars=len(eq),
            days=metrics.market_days(len(eq), s.timeframe),
            trades=len(self.trades),
            ended=self.ended,
            initial_equity=float(eq[0]) if len(eq) else None,
            final_equity=float(eq[-1]) if len(eq) else None,
            annual_return=metrics.annual_return(eq, per_year),
            sharpe=metrics.sharpe(metrics.bar_returns(eq), per_year),
            max_drawdown=metrics.max_drawdown(eq),
        )


def latest_run(
    store: EventStore, strategy_id: str, modes: tuple[str, ...], after_seq: int = 0
) -> str | None:
    """The run id of the strategy's newest run in one of `modes` started (or resumed) after
    `after_seq`; None: it has not traded so since. Feedback passes the event that put the
    strategy at its stage: a run from an earlier stay there is no evidence about this one."""
    found: str | None = None
    where = EventFilter(types=[TradingSessionStarted], strategy_id=strategy_id)
    for ev in store.iter_query(where, after_seq=after_seq):
        p = ev.typed()
        if isinstance(p, TradingSessionStarted) and p.mode in modes:
            found = p.run_id
    return found


RUN_EVENT_TYPES = (
    TradingSessionStarted,
    TradingSessionEnded,
    TradingEquityMarked,
    TradingOrderFilled,
)


@dataclass
class _RunSoFar:
    started: TradingSessionStarted | None = None
    marks: dict[int, Decimal] = field(default_factory=dict)  # bar ms -> its latest mark
    fills: list[TradingOrderFilled] = field(default_factory=list)
    ended: bool = False
    seq: int = 0  # the last event read


class RunReader:
    """Runs read from the log and kept: each `read` reads only the events appended since the
    last one (an evaluator's pass over a month-long run costs its new bars, not the month)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._runs: dict[str, _RunSoFar] = {}

    def read(self, run_id: str) -> RunRecord | None:
        """The run's record; None when it never started."""
        run = self._runs.setdefault(run_id, _RunSoFar())
        where = EventFilter(types=RUN_EVENT_TYPES, correlation_id=run_id)
        for ev in self.store.iter_query(where, after_seq=run.seq):
            p = ev.typed()
            if isinstance(p, TradingSessionStarted):
                run.started = run.started or p
                run.ended = False  # resumed: the run trades again
            elif isinstance(p, TradingEquityMarked):
                run.marks[p.bar_ms] = p.equity
            elif isinstance(p, TradingOrderFilled):
                run.fills.append(p)
            elif isinstance(p, TradingSessionEnded):
                run.ended = p.reason == "feed_ended"
            run.seq = ev.seq
        if run.started is None:
            return None
        bar_ms, equity = metrics.curve(run.marks.items())
        interval = Timeframe.parse(run.started.timeframe).ms
        fills = run.fills
        if len(bar_ms):
            # a fill at the next bar's open is journaled before that bar is marked
            upto = int(bar_ms[-1]) + interval
            fills = [f for f in fills if f.filled_ms < upto]
        return RunRecord(run.started, bar_ms, equity, paper_trades(fills, interval), run.ended)

    def forget(self, keep: set[str]) -> None:
        """Drop the runs not in `keep` (strategies that left the trading stages)."""
        self._runs = {k: v for k, v in self._runs.items() if k in keep}


def read_run(store: EventStore, run_id: str) -> RunRecord | None:
    """The run's record from its events; None when it never started."""
    return RunReader(store).read(run_id)


@dataclass(frozen=True)
class SameBarsBacktest:
    """The backtest over a run's marked bars: its equity at each of them and its trades."""

    bar_ms: npt.NDArray[np.int64]
    equity: npt.NDArray[np.float64]
    trades: list[RoundTrip]


def strategy_of(home: Home, path: str) -> tuple[StrategySource, dict[str, Any] | None]:
    """A run's strategy from the path its start event names (absolute, or relative to the
    home), else by name through the registry; and the params it trades with: its manifest's
    (a promoted strategy's, as the daemon deploys it), else None (the strategy's defaults)."""
    p = Path(path)
    if not p.is_absolute():
        p = home.root / p
    source = resolve_strategy(str(p) if p.is_file() else path, Registry(home))
    try:
        params: dict[str, Any] | None = dict(read_manifest(source.path.parent).params)
    except RaraError:
        params = None
    return source, params


def backtest_over_run(home: Home, settings: Settings, run: RunRecord) -> SameBarsBacktest | None:
    """Backtest the run's strategy over the bars the run marked, from the home's candles, with
    the same warm-up its first evaluation saw; None when the candles do not cover those bars.
    A run still trading holds its position: the backtest's closing sale at the last bar
    (``end``) is no trade of the run yet, so it is left out, and so is that bar's equity."""
    from rara.trading.report import backtest_same_bars

    s = run.started
    if len(run.bar_ms) < 2:
        return None
    tf = Timeframe.parse(s.timeframe)
    inst = Instrument(exchange=s.exchange, symbol=s.symbol, timeframe=tf)
    catalog = Catalog(home.data_dir)
    first, last = int(run.bar_ms[0]), int(run.bar_ms[-1])
    try:
        replayed = catalog.load(inst, first, last + tf.ms)
    except RaraError:
        return None
    warm_bars = s.trailing_window + HISTORY_BARS
    try:  # the bars before the run's first (a gap-free market needs warm_bars of them)
        warm_all = catalog.load(inst, first - warm_bars * tf.ms * 4, first)
    except RaraError:
        warm_all = replayed.slice(0, 0)  # the run started where the candles start
    if len(replayed) != len(run.bar_ms) or not np.array_equal(replayed.ts, run.bar_ms):
        return None
    warm = warm_all.slice(max(0, len(warm_all) - warm_bars), len(warm_all))
    sb = settings.sandbox
    costs = BacktestConfig.from_settings(s.exchange, settings.backtest)
    with open_sandbox(
        sb.backend, sb.wall_timeout_s, sb.memory_mb, sb.proof_us_per_bar, sb.cpus, sb.image
    ) as sandbox:
        strategy, params = strategy_of(home, s.strategy_path)
        result = backtest_same_bars(sandbox, strategy, params, warm, replayed, costs)
    trades = backtest_trades(result.trades, replayed.ts)
    bar_ms, equity = replayed.ts, np.asarray(result.equity, dtype=np.float64)
    if not run.ended:
        trades = [t for t in trades if t.exit_reason != "end"]
    return SameBarsBacktest(np.asarray(bar_ms, dtype=np.int64), equity, trades)
