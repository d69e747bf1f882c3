"""What a restarted paper run takes over from its journal (`rara.trading.session` reads it
before wiring the engine): whether the run was funded, started and finished; the last bar it
marked and whether the feed's end was handled on it; the equity curve and the submit times its
guards look back on; and the rule for orders journaled before a crash but never sent (not while
a kill is in force)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from rara.domain.events import (
    TradingAccountFunded,
    TradingEquityMarked,
    TradingOrderSubmitted,
    TradingSessionEnded,
    TradingSessionStarted,
)
from rara.events import EventFilter, EventStore
from rara.trading.control import Control
from rara.trading.guards.model import EquityPoint
from rara.trading.journal import ManagedOrder


@dataclass
class RunPast:
    """What a resumed run takes over from its journal: the last bar it marked, its running
    equity peak, whether that bar was marked again at the feed's end (the end's sale done), the
    equity curve and the submit times (what the loss and rate guards look back on), and how
    many orders it submitted on the bar it had not marked yet."""

    last_ms: int | None = None
    peak: Decimal | None = None
    closed: bool = False
    curve: list[EquityPoint] = field(default_factory=list)
    submits_ms: list[int] = field(default_factory=list)
    unmarked_submits: int = 0


def run_past(store: EventStore, run_id: str, interval_ms: int) -> RunPast:
    """The journal's past of run `run_id` (bars of `interval_ms`)."""
    past = RunPast()
    types = [TradingEquityMarked, TradingOrderSubmitted]
    for ev in store.iter_query(EventFilter(types=types, correlation_id=run_id)):
        mark = ev.typed()
        if not isinstance(mark, TradingEquityMarked):
            past.unmarked_submits += 1  # sent while the bar the next mark closes was processed
            continue
        at_ms = mark.bar_ms + interval_ms
        past.closed = past.last_ms == mark.bar_ms
        past.last_ms, past.peak = mark.bar_ms, mark.peak_equity
        past.curve.append(EquityPoint(at_ms=at_ms, equity=mark.equity))
        past.submits_ms.extend([at_ms] * past.unmarked_submits)
        past.unmarked_submits = 0
    return past


def run_state(store: EventStore, run_id: str) -> tuple[bool, bool, bool]:
    """(funded before, started before, finished with the feed's end)."""
    funded = started = finished = False
    types = [TradingAccountFunded, TradingSessionStarted, TradingSessionEnded]
    for ev in store.iter_query(EventFilter(types=types, correlation_id=run_id)):
        payload = ev.typed()
        if isinstance(payload, TradingAccountFunded):
            funded = True  # a start cut between funding and starting funds it once
        elif isinstance(payload, TradingSessionStarted):
            started = True
        elif isinstance(payload, TradingSessionEnded) and payload.reason == "feed_ended":
            finished = True
    return funded, started, finished


def unless_halted(control: Control) -> Callable[[ManagedOrder], bool]:
    """Whether an order journaled before a crash and never sent may go now: not while a kill
    is in force (the flatten sales of a ``kill --flatten`` excepted)."""

    def may_resend(order: ManagedOrder) -> bool:
        control.refresh()
        return control.kill_seq is None or (control.flatten and order.reason == "flatten")

    return may_resend
