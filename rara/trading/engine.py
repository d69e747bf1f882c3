"""The trading engine: one deployed strategy on one instrument and account, bar by bar. Its two
helpers: `rara.trading.intents.IntentPath` (a wish to a journaled order: numbered, conformed to
the market's rules, judged, sent) and `rara.trading.protection.Protector` (step 3).

For every bar the feed says has closed, in order:

1. a simulated venue sees the bar (the paper venue fills what was pending at its open, then the
   stops inside it; a live venue did that on its own);
2. new fills are journaled and booked in the ledger, once each (`OrderManager.sync`);
3. an entry that has filled gets its stop-loss and take-profit orders (rule 4 of the backtest:
   placed when the entry bar has closed, so first checked on the next bar). On an exchange (a
   venue with market rules: spot, where a resting sell locks what it sells) only the stop-loss
   can rest; a take-profit beside it is journaled as refused by the market's rules
   (``take_profit_beside_stop_loss``) and never sent. A trigger the venue refuses as already
   passed (``would_trigger_immediately``: the entry bar closed beyond it) becomes a market
   sell after step 5 (unless an exit sells first), filling where a simulated venue fills a
   trigger the open gapped past;
4. the kill switch is read again (another process may have set it): HALTED cancels every open
   order once and, with ``--flatten``, sells the position;
5. the strategy's signal for the bar (computed in the sandbox on its trailing window, a batch of
   bars per evaluation when replaying fast) becomes at most one order intent (`rules.action`);
   the risk gate judges it on the account as the ledger has it; a denial is journaled, an allowed
   intent is journaled and then sent;
6. the account is marked at the bar's close (``trading_equity_marked``): the equity curve, the
   drawdown guard's running peak, and the record that the bar is done, which a restart resumes
   after.

On a live account, a dead man's switch that fired while the engine was stalled canceled the
position's protective orders at the exchange. Told so (`protection_lost`, from the switch, and at
start-up from the journal's ``trading_deadman_fired`` events), the engine places each again at
once, between bars: the same trigger, for what is held, as a new intent (a fresh sequence number,
so a deterministic client id) with no signal bar; it answers the firing, not a bar. Only the
newest protective order of each kind counts, so a restart finds the re-placed one and places
nothing twice; a HALTED account gets none (the kill canceled them on purpose).

When the feed ends, what is still pending is canceled (rule 1: signals on the last bar are
dropped) and an open position is sold at the last close (rule 5), as the backtest does. A restart
resumes after the last marked bar: the order manager finds the intents it already journaled by
their deterministic keys and sends nothing twice; the venue and the ledger ignore what they have
seen.

A strategy whose trailing-window signal differs from its full-history one (checked on every
evaluation against the longer history the engine keeps) is reported (``trading_signal_divergence``)
and locked: it may still exit, never enter again in this run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from rara.domain.events import IntentReason, TradingFeedStale
from rara.domain.market import Candles
from rara.domain.money import exact, from_float
from rara.errors import Refused
from rara.events import EventStore
from rara.ledger import Ledger
from rara.trading.account import AccountBook, AccountKey
from rara.trading.control import Control, set_lock
from rara.trading.deployment import BarTimings, Deployment, EngineProgress
from rara.trading.feed import ClosedBar, Feed, appended
from rara.trading.guards.model import EquityPoint
from rara.trading.intents import IntentPath
from rara.trading.orders import OrderManager
from rara.trading.protection import Protector
from rara.trading.rules import action
from rara.trading.signals import BarSignal, DivergenceReport, SignalFailure, SignalPath
from rara.trading.venue import RuledVenue, SimulatedVenue, Venue, VenueUnavailable
from rara.trading_settings import RiskSettings

log = logging.getLogger(__name__)
SOURCE = "trading"
HISTORY_BARS = 1_000  # bars of history kept beyond the trailing window, for the divergence check


class TradingEngine:
    """Drives one deployment from a feed. Collaborators come in built (`rara.trading.session`
    wires them), so a test or the daemon swaps any of them."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        store: EventStore,
        feed: Feed,
        venue: Venue,
        signals: SignalPath,
        orders: OrderManager,
        ledger: Ledger,
        control: Control,
        risk: RiskSettings,
        history: Candles,
        peak_equity: Decimal,
        batch_bars: int = 64,
        timings: BarTimings | None = None,
        last_bar: ClosedBar | None = None,
        marks: Sequence[EquityPoint] = (),
        submits_ms: Sequence[int] = (),
        unmarked_submits: int = 0,
        upkeep: Callable[[], None] | None = None,
        on_outage: Callable[[VenueUnavailable], None] | None = None,
        protection_lost: Iterable[str] = (),
    ) -> None:
        """`upkeep()` is called from the loop between bars as well as after them (at least every
        `run`'s `timeout_s`): a live account re-arms its dead man's switch, reconciles and looks
        up orders whose outcome is unknown there, so a stalled loop stops all of it at once. With
        `on_outage`, a venue that does not answer while the engine syncs its orders is reported
        there and the bar goes on (its fills are found on a later sync); without it, the
        outage is raised. `protection_lost`: client ids a dead man's switch canceled (the
        journal's firings), whose protective orders are placed again."""
        self.dep = deployment
        self.upkeep = upkeep
        self.on_outage = on_outage
        self.store = store
        self.feed = feed
        self.venue = venue
        self.signals = signals
        self.orders = orders
        self.ledger = ledger
        self.control = control
        self.risk = risk
        self.batch_bars = max(1, batch_bars)
        self.timings = timings
        self.progress = EngineProgress()
        self._window = history
        key = AccountKey(
            deployment.account,
            deployment.symbol,
            deployment.base,
            deployment.quote,
            deployment.interval_ms,
            deployment.fee,
        )
        self.account = AccountBook(
            key,
            ledger,
            risk,
            peak_equity=peak_equity,
            marks=marks,
            submits_ms=submits_ms,
            unmarked_submits=unmarked_submits,
        )
        # A resumed run whose feed has ended still closes on its last marked bar.
        self._last_bar: ClosedBar | None = last_bar
        self._halt_seen: int | None = None
        self._diverged = False
        # a runtime Protocol check walks the class's attributes: once, not per bar
        self._simulated = venue if isinstance(venue, SimulatedVenue) else None
        self.intents = IntentPath(
            deployment,
            orders,
            control,
            self.account,
            risk,
            self.progress,
            venue if isinstance(venue, RuledVenue) else None,
            self._now_ms,
            self._feed_state,
        )
        self.protector = Protector(self.intents, self.account, control, protection_lost)

    @property
    def window(self) -> Candles:
        """The bars the strategy was last evaluated on, newest last (the sentinel reads them)."""
        return self._window

    @property
    def last_bar(self) -> ClosedBar | None:
        """The last bar processed (None before the first)."""
        return self._last_bar

    def book_fills(self) -> None:
        """Journal and book what the venue filled (a wind-down between bars)."""
        self._sync()

    def sell_position(self, reason: IntentReason, bar: ClosedBar) -> None:
        """Sell what is held through the reduce path, keyed on `bar` (see `_sell_all`)."""
        self._sell_all(reason, bar)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False, timeout_s: float = 5.0) -> str:
        """Process bars until the feed ends ("feed_ended") or `should_stop()` says so
        ("stopped")."""
        while not should_stop():
            if self.upkeep is not None:
                self.upkeep()
                # upkeep's reconciliation may have booked fills (ours, or external): holdings
                # are read from the ledger afresh, or the engine trades on a stale position
                self.account.fills_booked()
                self._sync()  # a live venue fills between bars: book what it filled
                if self.protector.lost_any and self._last_bar is not None:
                    self.protector.protect(self._last_bar)  # a firing canceled the stop
            batch = self.feed.next_batch(self.batch_bars, timeout_s)
            self._note_staleness(batch.stale_since_ms)
            if batch.bars:
                self._process(batch.bars, should_stop)
            if should_stop():
                return "stopped"
            if batch.ended:
                self._finish()
                return "feed_ended"
        return "stopped"

    def _process(self, bars: tuple[ClosedBar, ...], should_stop: Callable[[], bool]) -> None:
        keep = self.signals.trailing_window + HISTORY_BARS
        window = appended(self._window, bars, keep)
        t0 = time.perf_counter()
        batch = self.signals.evaluate(window, len(window) - len(bars))
        if self.timings is not None:
            self.timings.sandbox_ms.append(((time.perf_counter() - t0) * 1000, len(bars)))
        if isinstance(batch, SignalFailure):
            raise Refused(
                f"strategy_{batch.code}",
                f"{self.dep.strategy_name} failed on the bar opening at {bars[0].open_ms}: "
                f"{batch.message}",
                "the run stopped at the last bar it marked; fix the strategy and deploy again",
            )
        self._window = window
        if batch.divergence.diverges:
            self._report_divergence(batch.divergence)
        for bar, signal in zip(bars, batch.bars, strict=True):
            t1, c1 = time.perf_counter(), time.thread_time()
            self._step(bar, signal)
            if self.timings is not None:
                self.timings.other_ms.append((time.perf_counter() - t1) * 1000)
                self.timings.other_cpu_ms.append((time.thread_time() - c1) * 1000)
            if should_stop():
                return

    def _step(self, bar: ClosedBar, signal: BarSignal) -> None:
        self._last_bar = bar
        self.account.bar_started(self._now_ms())
        if self._simulated is not None:
            self._simulated.on_bar(bar, self.dep.symbol)
        self._sync()
        self.protector.protect(bar)
        self._obey_kill(bar)
        self._decide(bar, signal)
        self.protector.sell_passed(bar)
        self._mark(bar)
        self.progress.bars += 1
        self.progress.last_bar_ms = bar.open_ms

    # -- fills, stops, the kill switch --------------------------------------------------------

    def _sync(self) -> None:
        try:
            fills = self.orders.sync()
        except VenueUnavailable as exc:
            if self.on_outage is None:
                raise
            self.on_outage(exc)
            return
        for fill in fills:
            self.ledger.book_fill(fill)
        if fills:
            self.account.fills_booked()
        self.progress.fills += len(fills)

    def protection_lost(self, client_order_ids: Sequence[str]) -> None:
        """A dead man's switch canceled these orders: the position's protective orders among
        them are placed again (from the loop, between bars)."""
        self.protector.lost(client_order_ids)

    def _obey_kill(self, bar: ClosedBar) -> None:
        """HALTED: cancel every open order once per kill, and sell the position if the kill
        asked to flatten (the gate lets only those sells through)."""
        self.control.refresh()
        if self.control.state != "HALTED":
            self._halt_seen = None
            return
        kill = self.control.kill_seq
        if self._halt_seen == kill:
            return
        self._halt_seen = kill
        self.progress.halted_at_seq = kill
        self.orders.cancel_all()
        if self.control.flatten:
            self._sell_all("flatten", bar)

    # -- deciding -----------------------------------------------------------------------------

    def _decide(self, bar: ClosedBar, signal: BarSignal) -> None:
        cash, held = self.account.holdings()
        entry_pending = any(o.reason == "entry" for o in self.orders.open_orders())
        todo = action(signal, long=held > 0, entry_pending=entry_pending)
        if todo == "enter":
            with exact():
                cost = cash * from_float(self.dep.size_fraction)
            if cost <= 0:
                return
            self.intents.intend(
                "entry",
                bar.open_ms,
                from_float(bar.close),
                side="buy",
                order_type="market",
                cost=cost,
                stop_loss_fraction=_fraction(signal.stop_loss),
                take_profit_fraction=_fraction(signal.take_profit),
            )
        elif todo == "exit":
            self._sell_all("exit", bar)

    def _sell_all(self, reason: IntentReason, bar: ClosedBar) -> None:
        """Sell the whole position at the next open; its protective orders go first (rule 4:
        the exit at the open comes before any stop)."""
        self.protector.passed = None  # this sale is the one a passed stop would have made
        for o in self.orders.open_orders():
            if o.reason in ("stop_loss", "take_profit"):
                self.orders.cancel(o.client_order_id)
        _, held = self.account.holdings()
        if held <= 0:
            return
        self.intents.sell_at_market(reason, bar.open_ms, from_float(bar.close), held)

    def _now_ms(self) -> int:
        """The engine's clock: the close of the last closed bar (a replay is deterministic)."""
        bar = self._last_bar
        return 0 if bar is None else bar.open_ms + self.dep.interval_ms

    def _feed_state(self) -> tuple[int | None, bool]:
        last = self._last_bar
        return (None if last is None else last.open_ms), self.progress.stale

    # -- marking, the end, staleness, divergence ----------------------------------------------

    def _mark(self, bar: ClosedBar) -> None:
        self.store.append(
            self.account.mark(bar.open_ms, bar.close),
            source=SOURCE,
            correlation_id=self.dep.run_id,
            strategy_id=self.dep.strategy_id,
        )

    def _finish(self) -> None:
        """Rules 1 and 5: drop what the last bar asked for, sell what is held at its close."""
        bar = self._last_bar
        if bar is None:
            return
        for o in self.orders.open_orders():
            if o.reason != "end":  # a restart finds the sale it journaled before a crash
                self.orders.cancel(o.client_order_id)
        _, held = self.account.holdings()
        if held > 0:
            self._sell_all("end", bar)
            if self._simulated is not None:
                self._simulated.on_feed_end(bar, self.dep.symbol)
        self._sync()
        self._mark(bar)

    def _note_staleness(self, stale_since_ms: int | None) -> None:
        stale = stale_since_ms is not None
        if stale == self.progress.stale:
            return
        self.progress.stale = stale
        last = self._last_bar
        self.store.append(
            TradingFeedStale(
                exchange=self.dep.exchange,
                symbol=self.dep.symbol,
                timeframe=self.dep.timeframe,
                stale=stale,
                last_bar_ms=None if last is None else last.open_ms,
                since_ms=stale_since_ms if stale_since_ms is not None else self._now_ms(),
            ),
            source=SOURCE,
            correlation_id=self.dep.run_id,
            strategy_id=self.dep.strategy_id,
        )

    def _report_divergence(self, report: DivergenceReport) -> None:
        """Say so, and lock the strategy out of new exposure (it may still exit)."""
        self.progress.divergent_bars += report.bars_differing
        self.store.append(
            report.event(self.dep.strategy_id, self.dep.symbol, self.dep.timeframe),
            source=SOURCE,
            correlation_id=self.dep.run_id,
            strategy_id=self.dep.strategy_id,
        )
        if self._diverged:
            return
        self._diverged = True
        log.warning("%s: %s", self.dep.strategy_name, report.detail)
        set_lock(
            self.store,
            "strategy",
            self.dep.strategy_id,
            until_ms=None,
            reason=f"signal divergence: {report.detail}"[:500],
            by="engine",
            lock_id=f"divergence:{self.dep.run_id}",
            source=SOURCE,
        )


def _fraction(level: float) -> float | None:
    return None if level != level else level  # NaN: no such order
