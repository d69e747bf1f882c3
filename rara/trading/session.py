"""The composition root of a paper trading run (`rara paper run`, and the daemon's paper
deployments): resolve the strategy and the market, wire feed, sandbox, signal path, venue, order
manager, ledger, risk gate and kill switch into a `TradingEngine`, run it, and summarise the run
with its comparison against the backtest over the same bars.

A run is identified by its run id (by default a hash of strategy, market and range, so the same
command resumes the same run after a crash: `rara paper run` again continues after the last bar
it marked; a finished run answers with its summary).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from rara.backtest.engine import BacktestConfig
from rara.closing import Closing, close_all
from rara.config import Settings, load_settings
from rara.data.catalog import Catalog
from rara.domain.events import TradingAccountFunded
from rara.domain.market import Instrument, Timeframe
from rara.domain.money import from_float
from rara.errors import BadInput
from rara.events import EventStore, anchoring_deferred, open_event_store
from rara.home import Home
from rara.ledger import Ledger, catch_up, open_ledger
from rara.registry import Registry
from rara.runner.sandbox import Sandbox, open_sandbox
from rara.runner.strategy_source import StrategySource, resolve_strategy
from rara.state import BackgroundCheckpoints
from rara.trading.control import Control
from rara.trading.deployment import BarTimings, Deployment
from rara.trading.engine import HISTORY_BARS, SOURCE, TradingEngine
from rara.trading.feed import ClosedBar, Feed, candles_of
from rara.trading.feeds.replay import ReplayFeed
from rara.trading.orders import OrderManager
from rara.trading.resume import run_past, run_state, unless_halted
from rara.trading.signals import SignalPath
from rara.trading.venues.paper import PaperVenue

log = logging.getLogger(__name__)
FeedKind = Literal["replay", "poll"]


def default_run_id(
    strategy_id: str,
    inst: Instrument,
    feed: str,
    start_ms: int | None,
    end_ms: int | None,
    params: Mapping[str, Any],
) -> str:
    """The same strategy with the same effective params on the same market and range is the
    same run (resumable); other params are another run."""
    text = "\x1f".join(
        [
            strategy_id,
            inst.key,
            feed,
            str(start_ms),
            str(end_ms),
            json.dumps(params, sort_keys=True),
        ]
    )
    return "paper_" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class PaperSession(Closing):
    """One paper run, wired and ready; `run()` drives it, `summary()` describes it."""

    home: Home
    settings: Settings
    strategy: StrategySource
    inst: Instrument
    deployment: Deployment
    store: EventStore
    ledger: Ledger
    sandbox: Sandbox
    feed: Feed
    venue: PaperVenue
    engine: TradingEngine
    costs: BacktestConfig
    resumed: bool
    finished: bool

    def close(self) -> None:
        close_all((self.feed, self.venue, self.sandbox, self.ledger, self.store))

    def run(self, should_stop: Callable[[], bool] = lambda: False, timeout_s: float = 5.0) -> str:
        """Drive the engine until the feed ends or `should_stop()` says so; `should_stop` is
        asked at least every `timeout_s` while a live feed has no new bar."""
        if self.finished:
            return "already_finished"
        ended = "stopped"
        try:
            # the anchor's fsync and the WAL's checkpoints off the bar's path, in threads
            with (
                anchoring_deferred(self.store.path, in_background=True),
                BackgroundCheckpoints(self.store.path),
            ):
                ended = self.engine.run(should_stop, timeout_s)
        finally:
            self.deployment.record(self.store, self.engine.progress.ended(ended, self.deployment))
        return ended


def open_signals(
    settings: Settings,
    source: StrategySource,
    params: dict[str, Any] | None,
    backend: str | None,
    timeframe: Timeframe,
) -> tuple[Sandbox, SignalPath]:
    """The strategy's sandbox and signal path, checked against the market's timeframe."""
    sb = settings.sandbox
    sandbox = open_sandbox(
        backend or sb.backend,
        sb.wall_timeout_s,
        sb.memory_mb,
        sb.proof_us_per_bar,
        sb.cpus,
        sb.image,
    )
    try:
        signals = SignalPath.open(sandbox, source.source, params, settings.trading.lookback_margin)
        if signals.meta.timeframe != str(timeframe):
            raise BadInput(
                "timeframe_mismatch",
                f"{source.name} declares timeframe {signals.meta.timeframe}; the market is "
                f"{timeframe}",
                f"trade it with --timeframe {signals.meta.timeframe}",
            )
    except BaseException:
        sandbox.close()
        raise
    return sandbox, signals


def open_paper_session(
    home: Home,
    strategy: str,
    *,
    symbol: str,
    timeframe: Timeframe | str,
    exchange: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    speed: float | None = None,
    params: dict[str, Any] | None = None,
    backend: str | None = None,
    run_id: str | None = None,
    batch_bars: int = 64,
    timings: BarTimings | None = None,
    feed_kind: FeedKind = "replay",
    clock: Callable[[], int] | None = None,
) -> PaperSession:
    """Wire a paper run on a replay of stored candles (`feed_kind` "replay"), or on closed bars
    polled from the exchange as they close ("poll"; `clock` in UTC ms, for tests). Resumes
    `run_id` (by default derived from strategy, market, feed and range) when it was started
    before."""
    settings = load_settings(home)
    source = resolve_strategy(strategy, Registry(home))
    catalog = Catalog(home.data_dir)
    if feed_kind == "replay":
        inst = catalog.resolve(symbol, timeframe, exchange)
    else:
        inst = Instrument(
            exchange=exchange or settings.data.default_exchange,
            symbol=symbol,
            timeframe=Timeframe.parse(str(timeframe)),
        )
    sandbox, signals = open_signals(settings, source, params, backend, inst.timeframe)
    parts: list[Any] = [sandbox]
    try:
        rid = run_id or default_run_id(
            signals.strategy_id, inst, feed_kind, start_ms, end_ms, signals.params
        )
        store = open_event_store(home.state_db)
        parts.append(store)
        funded, started, finished = run_state(store, rid)
        past = run_past(store, rid, inst.timeframe.ms)
        last_ms, peak, closed = past.last_ms, past.peak, past.closed
        feed: Feed
        last_bar: ClosedBar | None = None
        if feed_kind == "replay":
            replay = ReplayFeed(catalog, inst, start_ms, end_ms, speed=speed, after_ms=last_ms)
            # Cut between its last bar and the feed's end: the end is handled on that bar.
            tail = replay.history(1) if last_ms is not None and not closed else ()
            last_bar = tail[-1] if tail else None
            if replay.total == 0 and not started:
                raise BadInput(
                    "no_bars",
                    f"no {inst.key} bars to replay in that range",
                    "`rara data info` shows the stored range; widen --start/--end",
                )
            feed = replay
        else:
            from rara.trading.feeds.poll import PollingFeed, wall_clock_ms

            feed = PollingFeed(
                inst,
                settings.data,
                settings.trading.feed,
                after_ms=last_ms,
                clock=clock or wall_clock_ms,
            )
        parts.append(feed)
        costs = BacktestConfig.from_settings(inst.exchange, settings.backtest)
        dep = Deployment(
            run_id=rid,
            strategy_id=signals.strategy_id,
            account=f"paper:{rid}",
            exchange=inst.exchange,
            mode="paper",
            symbol=inst.symbol,
            strategy_name=source.name,
            strategy_path=str(source.path),
            timeframe=str(inst.timeframe),
            interval_ms=inst.timeframe.ms,
            feed=feed_kind,
            fee=costs.fee,
            size_fraction=costs.size_fraction,
        )
        init = from_float(costs.init_cash)
        ledger = open_ledger(home.state_db)
        parts.append(ledger)
        venue = PaperVenue(
            home.state_db,
            dep.account,
            exchange=dep.exchange,
            symbols=[dep.symbol],
            fee=costs.fee,
            slippage=costs.slippage,
            initial_balances={dep.quote: init},
            settings=settings.trading.paper,
        )
        parts.append(venue)
        if not funded:
            funding = TradingAccountFunded(
                account=dep.account,
                currency=dep.quote,
                amount=init,
                tx_id=f"fund:{rid}",
                mode="paper",
            )
            store.append(funding, source=SOURCE, correlation_id=rid, strategy_id=dep.strategy_id)
        if not finished:
            dep.record(store, dep.started(signals.trailing_window, started))
        control = Control(store)
        orders = OrderManager(store, venue, dep, may_resend=unless_halted(control))
        orders.restore()
        orders.sync()
        catch_up(ledger, store)  # fills journaled before a crash but not yet booked
        engine = TradingEngine(
            dep,
            store=store,
            feed=feed,
            venue=venue,
            signals=signals,
            orders=orders,
            ledger=ledger,
            control=control,
            risk=settings.trading.risk,
            history=candles_of(feed.history(signals.trailing_window + HISTORY_BARS)),
            peak_equity=peak if peak is not None else init,
            batch_bars=batch_bars,
            timings=timings,
            last_bar=last_bar,
            marks=past.curve,
            submits_ms=past.submits_ms,
            unmarked_submits=past.unmarked_submits,
        )
    except BaseException:
        for part in reversed(parts):
            part.close()
        raise
    return PaperSession(
        home,
        settings,
        source,
        inst,
        dep,
        store,
        ledger,
        sandbox,
        feed,
        venue,
        engine,
        costs,
        started,
        finished,
    )
