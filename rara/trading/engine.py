"""The trading engine: one deployed strategy on one instrument and account, bar by bar.

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
from rara.domain.money import ZERO, exact, from_float
from rara.domain.orders import OrderIntent, OrderRequest
from rara.errors import Refused
from rara.events import EventStore
from rara.ledger import Ledger
from rara.trading.account import AccountBook, AccountKey
from rara.trading.control import Control, set_lock
from rara.trading.deployment import BarTimings, Deployment, EngineProgress
from rara.trading.feed import ClosedBar, Feed, appended
from rara.trading.guards.model import AccountView, EquityPoint
from rara.trading.journal import ManagedOrder
from rara.trading.market_rules import MarketRules, RuleRefusal, conform
from rara.trading.orders import OrderManager
from rara.trading.protection import lost_to_switch, newest_filled_entry, unprotected_entry
from rara.trading.risk import Deny, judge
from rara.trading.rules import action, protective_levels
from rara.trading.signals import BarSignal, DivergenceReport, SignalFailure, SignalPath
from rara.trading.venue import RuledVenue, SimulatedVenue, Venue, VenueUnavailable
from rara.trading_settings import RiskSettings

log = logging.getLogger(__name__)
SOURCE = "trading"
HISTORY_BARS = 1_000  # bars of history kept beyond the trailing window, for the divergence check
# Why a take-profit beside a stop-loss is not sent to an exchange (see `_refuse_second_sell`)
SECOND_SELL = "take_profit_beside_stop_loss"
PAST_TRIGGER = "would_trigger_immediately"  # the venue's code for a trigger already passed


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
        self._ruled = venue if isinstance(venue, RuledVenue) else None
        self._rules: MarketRules | None = None  # read from the venue's markets on first use
        # Stops are looked for only after the orders changed (`OrderManager.changes`), the only
        # way an entry can newly need them.
        self._protected_at: int | None = None
        self._switch_canceled: set[str] = set(protection_lost)
        # A protective order the venue refused as already passed on this bar: sold at market
        # after the strategy's decision, unless an exit sells first (rule 4)
        self._passed: IntentReason | None = None

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
                if self._switch_canceled and self._last_bar is not None:
                    self._protect()  # a firing canceled the stop: protect again now
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
        self._protect()
        self._obey_kill(bar)
        self._decide(bar, signal)
        self._sell_passed(bar)
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
        self._switch_canceled.update(client_order_ids)
        self._protected_at = None

    def _protect(self) -> None:
        """Rule 4: once the entry has filled, its stop-loss and take-profit orders, at fractions
        of its fill price (journaled with the entry, so a restart places the same ones); and
        again, once, for each one a dead man's switch canceled."""
        if self._protected_at == self.orders.changes:
            return  # no order changed since the last look: no entry newly filled
        self._protected_at = self.orders.changes
        entry = unprotected_entry(self.orders.orders())
        replace: set[str] = set()
        if entry is None:
            entry = newest_filled_entry(self.orders.orders())
            replace = self._lost_protection(entry)
            if not replace:
                return
        if entry is None or entry.average_price is None:
            return
        _, held = self.account.holdings()
        if held <= 0:
            return
        sl = entry.stop_loss_fraction
        tp = entry.take_profit_fraction
        levels = protective_levels(
            float(entry.average_price),
            float("nan") if sl is None else sl,
            float("nan") if tp is None else tp,
        )
        bar = self._last_bar
        assert bar is not None
        for reason, trigger in (
            ("stop_loss", levels.stop_loss),
            ("take_profit", levels.take_profit),
        ):
            if trigger is None:
                continue
            if replace and reason not in replace:
                continue
            kind = "stop_market" if reason == "stop_loss" else "take_profit_market"
            if reason == "take_profit" and levels.stop_loss is not None and self._ruled is not None:
                self._refuse_second_sell(entry, trigger, levels.stop_loss, held, bar)
                continue
            placed = self._intend(
                reason,  # type: ignore[arg-type]
                None if replace else entry.signal_bar_ms,  # a re-placement answers no bar
                from_float(bar.close),
                side="sell",
                order_type=kind,
                quantity=held,
                trigger_price=trigger,
                reduce_only=True,
            )
            if placed.reject_code == PAST_TRIGGER:
                self._passed = reason  # type: ignore[assignment]

    def _sell_passed(self, bar: ClosedBar) -> None:
        """The exchange refused a trigger the market is already past (the entry bar closed
        beyond it): the order would fire at once, so the position is sold at market now, as a
        simulated venue fills a trigger the open gapped past. After the decision: an exit on
        this bar sells first, and then this sells nothing. Keyed on this bar, since the refused
        order holds the entry's key."""
        reason, self._passed = self._passed, None
        if reason is None:
            return
        _, held = self.account.holdings()
        if held <= 0:
            return
        self._intend(
            reason,
            bar.open_ms,
            from_float(bar.close),
            side="sell",
            order_type="market",
            quantity=held,
            reduce_only=True,
        )

    def _refuse_second_sell(
        self,
        entry: ManagedOrder,
        take_profit: Decimal,
        stop_loss: Decimal,
        held: Decimal,
        bar: ClosedBar,
    ) -> None:
        """An exchange's spot account locks what a resting sell order would sell, so the
        stop-loss, placed first, holds the whole position and a take-profit beside it would be
        refused for want of funds. It is journaled as refused by the market's rules, with its
        levels, and never sent: the position leaves at the stop-loss or on an exit signal. (The
        paper venue rests both, one cancelling the other, as the backtest does.)"""
        intent = self._intent_of(
            "take_profit",
            entry.signal_bar_ms,
            from_float(bar.close),
            side="sell",
            order_type="take_profit_market",
            quantity=held,
            trigger_price=take_profit,
            reduce_only=True,
        )
        if self.orders.find(intent) is None:
            self._count_denial(SECOND_SELL)
        self.orders.reject(
            intent,
            SECOND_SELL,
            f"{self.dep.symbol}: the stop-loss at {stop_loss} holds the whole position; a spot "
            f"account cannot also rest the take-profit at {take_profit}, so it is not sent",
            {
                "stop_loss": format(stop_loss, "f"),
                "take_profit": format(take_profit, "f"),
                "quantity": format(held, "f"),
            },
            by="market_rules",
        )

    def _lost_protection(self, entry: ManagedOrder | None) -> set[str]:
        """The kinds of protective order a dead man's switch canceled, to place again (none
        while HALTED: a kill cancels them on purpose)."""
        if entry is None or not self._switch_canceled:
            return set()
        self.control.refresh()
        if self.control.state == "HALTED":
            return set()
        return lost_to_switch(self.orders.orders(), entry, self._switch_canceled)

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
            self._intend(
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
        self._passed = None  # this sale is the one a passed stop would have made
        for o in self.orders.open_orders():
            if o.reason in ("stop_loss", "take_profit"):
                self.orders.cancel(o.client_order_id)
        _, held = self.account.holdings()
        if held <= 0:
            return
        self._intend(
            reason,
            bar.open_ms,
            from_float(bar.close),
            side="sell",
            order_type="market",
            quantity=held,
            reduce_only=True,
        )

    def _intend(
        self,
        reason: IntentReason,
        bar_ms: int | None,
        mark: Decimal,
        *,
        stop_loss_fraction: float | None = None,
        take_profit_fraction: float | None = None,
        **request: object,
    ) -> ManagedOrder:
        """One order intent: judged by the risk gate, journaled, sent (or journaled as
        denied); the order it made."""
        intent = self._intent_of(
            reason,
            bar_ms,
            mark,
            stop_loss_fraction=stop_loss_fraction,
            take_profit_fraction=take_profit_fraction,
            **request,
        )
        if self.orders.find(intent) is not None:  # journaled before a restart: resolve, not redo
            return self.orders.submit(intent)
        if self._ruled is not None:  # the exchange's precision and minimums, before the gate
            conformed = self._conform(intent)
            if isinstance(conformed, RuleRefusal):
                self._count_denial(conformed.code)
                return self.orders.reject(
                    intent, conformed.code, conformed.message, conformed.context, by="market_rules"
                )
            intent = conformed
        self.control.refresh()  # a kill from another process takes effect before this order
        now = self._now_ms()
        verdict = judge(self.control.snapshot(now), self._account(mark), intent, self.risk)
        if isinstance(verdict, Deny):
            self._count_denial(verdict.code)
            return self.orders.reject(intent, verdict.code, verdict.message, verdict.context)
        self.progress.intents += 1
        order = self.orders.submit(
            intent, may_send=lambda at: not self.control.halted_before(at, reason=reason)
        )
        self.account.submitted(now)
        return order

    def _count_denial(self, code: str) -> None:
        self.progress.intents += 1
        self.progress.denied += 1
        self.progress.denials[code] = self.progress.denials.get(code, 0) + 1

    def _intent_of(
        self,
        reason: IntentReason,
        bar_ms: int | None,
        mark: Decimal,
        *,
        stop_loss_fraction: float | None = None,
        take_profit_fraction: float | None = None,
        **request: object,
    ) -> OrderIntent:
        """The intent with the deployment's next sequence number and its client order id."""
        seq = self.orders.next_seq()
        return OrderIntent(
            seq=seq,
            strategy_id=self.dep.strategy_id,
            correlation_id=self.dep.run_id,
            request=OrderRequest(
                client_order_id=self.orders.client_order_id(seq),
                symbol=self.dep.symbol,
                **request,
            ),
            reason=reason,
            signal_bar_ms=bar_ms,
            mark_price=mark,
            stop_loss_fraction=stop_loss_fraction,
            take_profit_fraction=take_profit_fraction,
        )

    def _conform(self, intent: OrderIntent) -> OrderIntent | RuleRefusal:
        assert self._ruled is not None
        if self._rules is None:
            self._rules = self._ruled.market_rules(self.dep.symbol)
        request = conform(self._rules, intent.request, intent.mark_price)
        if isinstance(request, RuleRefusal):
            return request
        return OrderIntent.model_validate({**intent.model_dump(), "request": request})

    def _now_ms(self) -> int:
        """The engine's clock: the close of the last closed bar (a replay is deterministic)."""
        bar = self._last_bar
        return 0 if bar is None else bar.open_ms + self.dep.interval_ms

    def _account(self, mark: Decimal) -> AccountView:
        with exact():
            reserved = sum(
                (o.cost or ZERO for o in self.orders.open_orders() if o.side == "buy"), ZERO
            )
        last = self._last_bar
        return self.account.view(
            self._now_ms(),
            mark,
            reserved,
            None if last is None else last.open_ms,
            self.progress.stale,
        )

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
