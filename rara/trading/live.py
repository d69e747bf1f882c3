"""The composition root of a live or testnet trading run (`rara trade run STRATEGY --account
NAME [--live]`): one strategy on one symbol of one configured account (`[trading.accounts.NAME]`),
through the same engine, order manager, risk gate, kill switch and ledger as paper trading, with a
`CcxtVenue` instead of the paper venue and closed bars from the exchange as they close.

Start-up, in order, and nothing is sent until every step passed:

1. the account's venue is opened (testnet by default; live only with ``trading.live_enabled``,
   keys and ``--live``: `rara.trading.accounts.open_account_venue` refuses otherwise);
2. the run's orders are rebuilt from the journal and every order whose outcome is not known is
   looked up at the venue;
3. the account is reconciled (journal, venue open orders, trades, balances); a failed query or a
   difference stops the start with the reason (`rara.trading.reconcile.startup_check`);
4. the dead man's switch is armed (the exchange's cancel-all-after, or rara's watchdog).

While it runs, `LiveUpkeep` is called from the engine's loop between bars: it re-arms the switch,
reconciles periodically and after the venue comes back from an outage, and looks up unknown
orders. So a stalled loop stops re-arming, and the exchange (or the watchdog) cancels.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rara.closing import Closing, close_all
from rara.config import Settings, load_settings
from rara.domain.events import ReconcileTrigger
from rara.domain.market import Candles, Instrument, Timeframe
from rara.domain.money import exact, from_float
from rara.errors import BadInput
from rara.events import EventStore, open_event_store
from rara.home import Home
from rara.ledger import Ledger, catch_up, open_ledger
from rara.registry import Registry
from rara.runner.sandbox import Sandbox
from rara.runner.strategy_source import StrategySource, resolve_strategy
from rara.trading.accounts import open_account_venue, watchdog_venue_spec
from rara.trading.control import Control
from rara.trading.deadman import DeadmanSwitch
from rara.trading.deadman_choice import canceled_by_firings, choose_deadman
from rara.trading.deployment import Deployment
from rara.trading.engine import HISTORY_BARS, TradingEngine
from rara.trading.feed import Feed, candles_of
from rara.trading.feeds import open_live_feed
from rara.trading.feeds.poll import wall_clock_ms
from rara.trading.orders import OrderManager
from rara.trading.reconcile import Reconciler, ReconcileReport, startup_check
from rara.trading.resume import run_past, run_state, unless_halted
from rara.trading.session import open_signals
from rara.trading.venue import VenueUnavailable
from rara.trading.venues.ccxt import CcxtVenue
from rara.trading_settings import AccountSettings, ledger_account_of

log = logging.getLogger(__name__)


class ExchangeClock:
    """The exchange's time in UTC ms: its server time, re-read every `resync_ms` and carried
    forward on this machine's clock in between (a failed read keeps the last offset). Bars are
    closed by the clock of the venue that makes them, whatever this machine's drift."""

    def __init__(
        self,
        fetch_ms: Callable[[], int],
        resync_ms: int,
        wall: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self._fetch = fetch_ms
        self._resync_ms = resync_ms
        self._wall = wall
        self._offset = 0
        self._synced_at: int | None = None

    def __call__(self) -> int:
        now = self._wall()
        if self._synced_at is None or now - self._synced_at >= self._resync_ms:
            try:
                self._offset = self._fetch() - self._wall()
                self._synced_at = now
            except VenueUnavailable:
                log.debug("the exchange's time could not be read; keeping the last offset")
        return self._wall() + self._offset


def live_run_id(strategy_id: str, account: str, mode: str, inst: Instrument, params: Any) -> str:
    """The same strategy and params on the same account and market is the same run: running
    the command again resumes it."""
    text = "\x1f".join([strategy_id, account, mode, inst.key, json.dumps(params, sort_keys=True)])
    return f"{mode}_" + hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class LiveUpkeep:
    """What the engine's loop does between bars on a live account: re-arm the dead man's
    switch, reconcile every `reconcile_interval_s` and after an outage, and say when the venue
    stops answering (never taken as "nothing open"). While it does not answer, reconciliation
    is tried again after 1 s, then 2, 4, ... up to the interval: each try is a journaled
    ``trading_reconciled`` (ok=false), so an outage of hours writes a few dozen, not one per
    loop."""

    deadman: DeadmanSwitch | None  # None: off (testnet only)
    reconciler: Reconciler
    interval_ms: int
    clock: Callable[[], int]
    next_reconcile_ms: int = 0
    down_since_ms: int | None = None
    last_report: ReconcileReport | None = None
    outages: int = 0
    retry_ms: int = 0  # the wait before the next reconnect try; 0 while the venue answers

    def __call__(self) -> None:
        now = self.clock()
        try:
            if self.deadman is not None:
                self.deadman.refresh(now)
            if now >= self.next_reconcile_ms:
                self._reconcile("periodic" if self.down_since_ms is None else "reconnect", now)
        except VenueUnavailable as exc:
            self.outage(exc)

    def outage(self, exc: VenueUnavailable) -> None:
        """The venue did not answer (here or in the engine's order sync): reconcile once it
        does again."""
        if self.down_since_ms is None:
            self.down_since_ms = now = self.clock()
            self.outages += 1
            self.next_reconcile_ms = now  # reconcile as soon as it answers again
            log.warning("the venue does not answer (%s); orders are kept as they are", exc.message)

    def _reconcile(self, trigger: ReconcileTrigger, now: int) -> None:
        report = self.reconciler.run(trigger)
        self.last_report = report
        if report.error is None:
            self.down_since_ms, self.retry_ms = None, 0
            self.next_reconcile_ms = now + self.interval_ms
            return
        if self.down_since_ms is None:
            self.down_since_ms = now
            self.outages += 1
        self.retry_ms = min(max(2 * self.retry_ms, 1_000), self.interval_ms)
        self.next_reconcile_ms = now + self.retry_ms


@dataclass
class LiveSession(Closing):
    """One live (or testnet) run, wired, reconciled and armed; `run()` drives it."""

    home: Home
    settings: Settings
    account_settings: AccountSettings
    strategy: StrategySource
    inst: Instrument
    deployment: Deployment
    store: EventStore
    ledger: Ledger
    sandbox: Sandbox
    feed: Feed
    venue: CcxtVenue
    engine: TradingEngine
    upkeep: LiveUpkeep
    startup: ReconcileReport
    resumed: bool
    parts: list[Any] = field(default_factory=list)

    def close(self) -> None:
        close_all(reversed(self.parts))

    def run(
        self,
        should_stop: Callable[[], bool] = lambda: False,
        timeout_s: float = 1.0,
        *,
        disarm: bool = True,
        wind_down: Callable[[], bool] | None = None,
    ) -> str:
        """Trade until `should_stop()` (a live feed does not end). On the way out the dead man's
        switch is disarmed and resting orders (the position's stop-loss) stay at the venue;
        `disarm=False` leaves the switch armed, so the exchange cancels them if no process
        refreshes it in time (the daemon's ``stop_orders = "leave_under_deadman"``).
        `wind_down()` runs once the engine stopped, with the switch still armed (a strategy
        that left stage live sells its position, `rara.trading.wind_down`); when it says it
        wound down, the switch is disarmed whatever `disarm` says: nothing refreshes it later,
        and what it leaves resting must stay."""
        ended = "stopped"
        try:
            ended = self.engine.run(should_stop, timeout_s)
            if wind_down is not None and wind_down():
                disarm = True
        finally:
            try:
                if disarm and self.upkeep.deadman is not None:
                    self.upkeep.deadman.disarm()
            finally:
                self.deployment.record(
                    self.store, self.engine.progress.ended(ended, self.deployment)
                )
        return ended


def open_live_session(
    home: Home,
    strategy: str,
    *,
    account: str,
    symbol: str,
    timeframe: Timeframe | str,
    live_flag: bool = False,
    params: dict[str, Any] | None = None,
    backend: str | None = None,
    clock: Callable[[], int] | None = None,
) -> LiveSession:
    """Wire, reconcile and arm a run of `strategy` on `symbol` of account `account`."""
    settings = load_settings(home)
    acct = settings.trading.accounts.get(account)
    if acct is None:
        known = ", ".join(sorted(settings.trading.accounts)) or "none"
        raise BadInput(
            "unknown_account",
            f"no account {account!r} in config (configured: {known})",
            f"add [trading.accounts.{account}] with exchange = ... (mode testnet by default)",
        )
    wall = clock or wall_clock_ms  # timeouts, the dead man's switch, reconciliation intervals
    source = resolve_strategy(strategy, Registry(home))
    inst = Instrument(
        exchange=acct.exchange, symbol=symbol, timeframe=Timeframe.parse(str(timeframe))
    )
    if acct.symbols is not None and symbol not in acct.symbols:
        raise BadInput(
            "symbol_not_in_account",
            f"account {account!r} trades {', '.join(acct.symbols)}, not {symbol}",
            f"add {symbol} to trading.accounts.{account}.symbols",
        )
    parts: list[Any] = []
    try:
        venue = open_account_venue(home, settings, account, live_flag=live_flag)
        parts.append(venue)
        sandbox, signals = open_signals(settings, source, params, backend, inst.timeframe)
        parts.append(sandbox)
        mode = venue.mode
        ledger_account = ledger_account_of(mode, account)
        rid = live_run_id(signals.strategy_id, account, mode, inst, signals.params)
        store = open_event_store(home.state_db)
        parts.append(store)
        ledger = open_ledger(home.state_db)
        parts.append(ledger)
        feed_settings = settings.trading.feed
        market_clock = wall  # when bars close: the exchange's time unless told otherwise
        if clock is None and feed_settings.clock == "exchange":
            market_clock = ExchangeClock(
                venue.exchange_time_ms, int(feed_settings.clock_resync_s * 1000)
            )
        rules = venue.market_rules(symbol)
        costs_fee = float(rules.taker_fee) if rules.taker_fee is not None else 0.0
        dep = Deployment(
            run_id=rid,
            strategy_id=signals.strategy_id,
            account=ledger_account,
            exchange=acct.exchange,
            mode=mode,
            symbol=symbol,
            strategy_name=source.name,
            strategy_path=str(source.path),
            timeframe=str(inst.timeframe),
            interval_ms=inst.timeframe.ms,
            feed="live",
            fee=costs_fee,
            size_fraction=settings.backtest.size_fraction,
        )
        _funded, started, _finished = run_state(store, rid)
        past = run_past(store, rid, inst.timeframe.ms)
        control = Control(store)
        orders = OrderManager(
            store,
            venue,
            dep,
            may_resend=unless_halted(control),
            unknown_timeout_ms=int(acct.unknown_order_timeout_s * 1000),
            stale_entry_ms=inst.timeframe.ms,
            clock=wall,
        )
        orders.restore()
        catch_up(ledger, store)  # fills journaled before a crash but not yet booked
        reconciler = Reconciler(
            store,
            ledger,
            venue,
            account=ledger_account,
            exchange=acct.exchange,
            mode=mode,
            symbols=[symbol],
            managers=[orders],
            lookback_ms=int(acct.trades_lookback_h * 3_600_000),
            clock=market_clock,  # the trades window is on the venue's clock, as its trades are
        )
        report = reconciler.run("startup")
        startup_check(report)
        feed = open_live_feed(
            inst, settings.data, feed_settings, after_ms=past.last_ms, clock=market_clock
        )
        parts.append(feed)
        history = candles_of(feed.history(signals.trailing_window + HISTORY_BARS))
        dep.record(store, dep.started(signals.trailing_window, started))
        deadman = choose_deadman(
            acct,
            venue,
            store=store,
            home=home,
            account=ledger_account,
            symbols=[symbol],
            managers=[orders],
            venue_spec=watchdog_venue_spec(account, live_flag),
        )
        if deadman is not None:
            deadman.arm(wall())
        upkeep = LiveUpkeep(
            deadman,
            reconciler,
            int(acct.reconcile_interval_s * 1000),
            wall,
            next_reconcile_ms=wall() + int(acct.reconcile_interval_s * 1000),
            last_report=report,
        )
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
            history=history,
            peak_equity=past.peak if past.peak is not None else _equity(ledger, dep, history),
            batch_bars=1,
            marks=past.curve,
            submits_ms=past.submits_ms,
            unmarked_submits=past.unmarked_submits,
            upkeep=upkeep,
            on_outage=upkeep.outage,
            protection_lost=canceled_by_firings(store, ledger_account),
        )
        if deadman is not None:  # a firing canceled the stop: the engine places it again
            deadman.on_fired = engine.protection_lost
    except BaseException:
        for part in reversed(parts):
            part.close()
        raise
    return LiveSession(
        home,
        settings,
        acct,
        source,
        inst,
        dep,
        store,
        ledger,
        sandbox,
        feed,
        venue,
        engine,
        upkeep,
        report,
        started,
        parts,
    )


def _equity(ledger: Ledger, dep: Deployment, history: Candles) -> Decimal:
    """The account's equity at the last close: its quote plus its base at that close."""
    balances = ledger.balances(dep.account)
    cash = balances.get(dep.quote, Decimal(0))
    held = balances.get(dep.base, Decimal(0))
    close = from_float(float(history.close[-1])) if len(history) else Decimal(0)
    with exact():
        return cash + held * close


def live_summary(session: LiveSession, ended: str) -> dict[str, Any]:
    """What a live run did, for people and scripts (the CLI's JSON)."""
    dep, p = session.deployment, session.engine.progress
    orders = session.engine.orders
    balances = session.ledger.balances(dep.account)
    startup = session.startup
    last = session.upkeep.last_report
    return {
        "run_id": dep.run_id,
        "strategy": dep.strategy_name,
        "strategy_id": dep.strategy_id,
        "account": dep.account,
        "exchange": dep.exchange,
        "mode": dep.mode,
        "symbol": dep.symbol,
        "timeframe": dep.timeframe,
        "ended": ended,
        "resumed": session.resumed,
        "bars": p.bars,
        "last_bar_ms": p.last_bar_ms,
        "orders": {
            "intents": p.intents,
            "denied": p.denied,
            "denials": p.denials,
            "open": [o.client_order_id for o in orders.open_orders()],
        },
        "fills": p.fills,
        "balances": {k: str(v) for k, v in sorted(balances.items())},
        "reconciliation": {
            "startup_ok": startup.ok,
            "last_ok": None if last is None else last.ok,
            "last_trigger": None if last is None else last.trigger,
            "outages": session.upkeep.outages,
        },
        "deadman": None if session.upkeep.deadman is None else session.upkeep.deadman.label,
    }
