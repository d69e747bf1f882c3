"""The trading engine: one deployed strategy on one instrument and account, bar by bar.

For every bar the feed says has closed, in order:

1. the venue sees the bar (a paper venue fills what was pending at its open, then the stops
   inside it; a live venue did that on its own);
2. new fills are journaled and booked in the ledger, once each;
3. an entry that filled gets its stop-loss and take-profit orders (rule 4: placed when the entry
   bar has closed);
4. the kill switch and locks are read again (another process may have set them);
5. the account is marked at the bar's close (a ``trading_equity_marked`` event: the equity curve,
   and the drawdown guard's running peak);
6. the strategy's signal for the bar (computed in the sandbox on its trailing window, a batch of
   bars at a time when replaying fast) becomes at most one order intent; the risk gate judges it;
   an allowed intent is journaled, then sent.

When the feed ends, what is still pending is canceled (rule 1: signals on the last bar are
dropped) and an open position is sold at the last close (rule 5), so a replay ends flat, as the
backtest does. A restart resumes after the last bar that was marked: the order manager finds the
intents it already journaled by their deterministic ids and sends nothing twice; the venue and
the ledger ignore what they have already seen.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import (
    IntentReason,
    TradingEquityMarked,
    TradingFeedStale,
    TradingMode,
    TradingOrderFilled,
    TradingSignalDivergence,
)
from rara.domain.market import Candles
from rara.domain.orders import OrderIntent, OrderRequest, base_and_quote
from rara.events import EventStore
from rara.ledger import Ledger
from rara.trading.control import Control
from rara.trading.feed import ClosedBar, Feed
from rara.trading.orders import OrderManager
from rara.trading.risk import AccountView, Deny, judge
from rara.trading.rules import BarSignal, action, protective_levels
from rara.trading.signals import SignalPath
from rara.trading.venue import Venue
from rara.trading_settings import RiskSettings

log = logging.getLogger(__name__)
SOURCE = "trading"


class Deployment(BaseModel):
    """Who trades what, where, at which costs: fixed for the life of a run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(min_length=1)
    strategy_id: str = Field(min_length=1)
    strategy_name: str
    strategy_path: str
    account: str
    exchange: str
    symbol: str
    timeframe: str
    interval_ms: int = Field(gt=0)
    mode: TradingMode
    feed: str
    size_fraction: float = Field(gt=0, le=1)

    @property
    def quote(self) -> str:
        return base_and_quote(self.symbol)[1]

    @property
    def base(self) -> str:
        return base_and_quote(self.symbol)[0]


@dataclass
class EngineProgress:
    """What the engine has done in this run (the CLI's progress line and summary read it)."""

    bars: int = 0
    last_bar_ms: int | None = None
    intents: int = 0
    denied: int = 0
    fills: int = 0
    halted_at_seq: int | None = None
    stale: bool = False
    divergent_bars: int = 0
    denials: dict[str, int] = field(default_factory=dict)


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
    ) -> None:
        self.dep = deployment
        self.store = store
        self.feed = feed
        self.venue = venue
        self.signals = signals
        self.orders = orders
        self.ledger = ledger
        self.control = control
        self.risk = risk
        self.batch_bars = batch_bars
        self.progress = EngineProgress()
        self._window = history  # the trailing bars the next evaluation needs
        self._peak = peak_equity
        self._pending_levels: tuple[float, float] | None = None  # (sl, tp) of a pending entry
        self._protected_for: str | None = None  # entry order whose stops are placed
        self._marks: list[tuple[int, Decimal]] = []  # (bar close ms, equity) for loss windows
        self._submits: list[int] = []
        self._last_bar: ClosedBar | None = None
        self._halt_handled = False

    # -- the loop -----------------------------------------------------------------------------

    def run(self, should_stop: Callable[[], bool] = lambda: False, timeout_s: float = 5.0) -> str:
        """Process bars until the feed ends (returns "feed_ended") or `should_stop()` says so
        ("stopped"). Each batch's signals come from one sandbox evaluation."""
        while not should_stop():
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
        window = _appended(self._window, bars, self.signals.trailing_window)
        decide_from = len(window) - len(bars)
        batch = self.signals.evaluate(window, decide_from)
        if batch.divergence is not None and batch.divergence.bars_differing:
            self._diverged(batch.divergence)
        self._window = window
        for bar, signal in zip(bars, batch.signals, strict=True):
            self._step(bar, signal)
            if should_stop():
                return

    def _step(self, bar: ClosedBar, signal: BarSignal) -> None:
        self._last_bar = bar
        on_bar = getattr(self.venue, "on_bar", None)
        if on_bar is not None:  # a simulated venue moves with the bars
            on_bar(bar)
        self._sync()
        self._protect()
        self.control.refresh()
        self._obey_control(bar)
        equity = self._mark(bar)
        self._decide(bar, signal, equity)
        self.progress.bars += 1
        self.progress.last_bar_ms = bar.open_ms

    # -- fills, stops, control ----------------------------------------------------------------

    def _sync(self) -> list[TradingOrderFilled]:
        fills = self.orders.sync()
        for fill in fills:
            self.ledger.book_fill(fill)
        self.progress.fills += len(fills)
        return fills

    def _position(self) -> Decimal:
        return self.ledger.balances(self.dep.account).get(self.dep.base, Decimal(0))

    def _cash(self) -> Decimal:
        return self.ledger.balances(self.dep.account).get(self.dep.quote, Decimal(0))

    def _protect(self) -> None:
        """Place the stop-loss / take-profit of an entry that has filled (rule 4)."""
        entry = self.orders.last_filled_entry()
        if entry is None or entry.client_order_id == self._protected_for:
            return
        self._protected_for = entry.client_order_id
        levels = self._pending_levels
        self._pending_levels = None
        held = self._position()
        if levels is None or held <= 0 or entry.average_price is None:
            return
        sl, tp = protective_levels(float(entry.average_price), levels[0], levels[1])
        for reason, kind, trigger in (
            ("stop_loss", "stop_market", sl),
            ("take_profit", "take_profit_market", tp),
        ):
            if trigger is not None:
                req = OrderRequest(
                    client_order_id="",  # set by the order manager
                    symbol=self.dep.symbol,
                    side="sell",
                    order_type=kind,  # type: ignore[arg-type]
                    quantity=held,
                    trigger_price=trigger,
                    reduce_only=True,
                )
                self._intend(req, reason, entry.signal_bar_ms, trigger)  # type: ignore[arg-type]

    def _obey_control(self, bar: ClosedBar) -> None:
        """HALTED: cancel everything open once, and flatten if the kill asked for it."""
        if self.control.state != "HALTED":
            self._halt_handled = False
            return
        if self._halt_handled:
            return
        self._halt_handled = True
        self.progress.halted_at_seq = self.control.changed_at_seq
        self.orders.cancel_all()
        if self.control.flatten and self._position() > 0:
            self._sell_all("flatten", bar, Decimal(repr(bar.close)))

    # -- marking and deciding -----------------------------------------------------------------

    def _mark(self, bar: ClosedBar) -> Decimal:
        mark = Decimal(repr(bar.close))
        cash, position = self._cash(), self._position()
        equity = cash + position * mark
        self._peak = max(self._peak, equity)
        close_ms = bar.open_ms + self.dep.interval_ms
        self._marks.append((close_ms, equity))
        self.store.append(
            TradingEquityMarked(
                account=self.dep.account,
                symbol=self.dep.symbol,
                bar_ms=bar.open_ms,
                mark=mark,
                cash=cash,
                position=position,
                equity=equity,
                peak_equity=self._peak,
            ),
            source=SOURCE,
            correlation_id=self.dep.run_id,
            strategy_id=self.dep.strategy_id,
        )
        return equity

    def _decide(self, bar: ClosedBar, signal: BarSignal, equity: Decimal) -> None:
        held = self._position()
        todo = action(signal, long=held > 0, entry_pending=self.orders.has_open_entry())
        if todo == "enter":
            self._pending_levels = (signal.stop_loss, signal.take_profit)
            cost = self._cash() * Decimal(repr(self.dep.size_fraction))
            if cost <= 0:
                return
            req = OrderRequest(
                client_order_id="",
                symbol=self.dep.symbol,
                side="buy",
                order_type="market",
                cost=cost,
            )
            self._intend(req, "entry", bar.open_ms, Decimal(repr(bar.close)))
        elif todo == "exit":
            self._sell_all("exit", bar, Decimal(repr(bar.close)))

    def _sell_all(self, reason: IntentReason, bar: ClosedBar, mark: Decimal) -> None:
        self.orders.cancel_protective()  # the exit at the open comes first (rule 4)
        held = self._position()
        if held <= 0:
            return
        req = OrderRequest(
            client_order_id="",
            symbol=self.dep.symbol,
            side="sell",
            order_type="market",
            quantity=held,
            reduce_only=True,
        )
        self._intend(req, reason, bar.open_ms, mark)

    def _intend(
        self, req: OrderRequest, reason: IntentReason, bar_ms: int | None, mark: Decimal
    ) -> None:
        intent = self.orders.intent(req, reason=reason, signal_bar_ms=bar_ms, mark_price=mark)
        self.control.refresh()  # a kill from another process takes effect before this order
        verdict = judge(self.control.snapshot(), self._account(mark), intent, self.risk)
        self.progress.intents += 1
        if isinstance(verdict, Deny):
            self.progress.denied += 1
            self.progress.denials[verdict.code] = self.progress.denials.get(verdict.code, 0) + 1
            self.orders.reject(intent, verdict.code, verdict.message, verdict.context)
            return
        self.orders.submit(intent)
        self._submits.append(self._now_ms())

    def _now_ms(self) -> int:
        bar = self._last_bar
        return 0 if bar is None else bar.open_ms + self.dep.interval_ms

    def _account(self, mark: Decimal) -> AccountView:
        now = self._now_ms()
        return AccountView.from_marks(
            now_ms=now,
            symbol=self.dep.symbol,
            quote=self.dep.quote,
            cash=self._cash(),
            position=self._position(),
            mark=mark,
            peak_equity=self._peak,
            marks=self._marks,
            submits_ms=self._submits,
            last_bar_close_ms=now,
            feed_stale=self.progress.stale,
        )

    # -- the end, staleness, divergence -------------------------------------------------------

    def _finish(self) -> None:
        """Rules 1 and 5: drop what the last bar asked for, sell what is held at its close."""
        bar = self._last_bar
        self.orders.cancel_all()
        if bar is None:
            return
        if self._position() > 0:
            self._sell_all("end", bar, Decimal(repr(bar.close)))
            on_end = getattr(self.venue, "on_feed_end", None)
            if on_end is not None:
                on_end(bar)
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

    def _diverged(self, report: DivergenceLike) -> None:
        self.progress.divergent_bars += report.bars_differing
        self.store.append(
            TradingSignalDivergence(
                strategy_id=self.dep.strategy_id,
                symbol=self.dep.symbol,
                timeframe=self.dep.timeframe,
                trailing_window=self.signals.trailing_window,
                bars_checked=report.bars_checked,
                bars_differing=report.bars_differing,
                first_bar_ms=report.first_bar_ms,
                detail=report.detail,
            ),
            source=SOURCE,
            correlation_id=self.dep.run_id,
            strategy_id=self.dep.strategy_id,
        )


class DivergenceLike:  # placeholder until the signal path's report type lands
    bars_checked: int
    bars_differing: int
    first_bar_ms: int | None
    detail: str


def _appended(window: Candles, bars: tuple[ClosedBar, ...], keep: int) -> Candles:
    """`window` with `bars` appended, cut to the last `keep` + len(bars) - 1 bars (what the
    evaluation of every new bar's trailing window needs)."""
    import numpy as np

    new = Candles(
        np.fromiter((b.open_ms for b in bars), np.int64, len(bars)),
        np.fromiter((b.open for b in bars), np.float64, len(bars)),
        np.fromiter((b.high for b in bars), np.float64, len(bars)),
        np.fromiter((b.low for b in bars), np.float64, len(bars)),
        np.fromiter((b.close for b in bars), np.float64, len(bars)),
        np.fromiter((b.volume for b in bars), np.float64, len(bars)),
    )
    need = keep + len(bars) - 1
    joined = Candles(
        *(np.concatenate([getattr(window, c), getattr(new, c)]) for c in Candles.COLUMNS)
    )
    start = max(0, len(joined) - need)
    return joined.slice(start, len(joined))


_ = math  # NaN levels are floats from the sandbox
