"""Winding down a live strategy that left stage live (demoted, retired): flat, then stopped.

Its component stops taking signals, then, on the engine it ran (its journal, its ledger, its
armed dead man's switch), `flatten`:

1. books what the venue filled meanwhile (the live upkeep's reconciliation, the order sync);
2. cancels its orders but the sales already under way: the entries, and the position's
   stop-loss and take-profit (on spot a resting sell locks what it would sell), and books what
   they filled before the cancel;
3. sells what the ledger holds through the engine's reduce path, the one ``rara kill
   --flatten`` uses: a ``flatten`` intent, reduce-only, journaled before it is sent with its
   deterministic client order id, which the risk gate lets through (a sale shrinks exposure);
4. syncs until the sale is filled and booked and nothing is held, or `timeout_s` runs out.

One sale per bar at most: the intent's key is (the last closed bar, ``flatten``, sell), so a
restarted daemon re-deriving it finds the sale it journaled before it was killed and resolves
it instead of selling again; and it sells only what the ledger (reconciled with the exchange at
start-up) still holds. A kill without ``--flatten`` in force wins over the wind-down: nothing is
canceled or sold, and the outcome says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from rara.domain.events import WindDownStep
from rara.domain.money import ZERO
from rara.trading.engine import TradingEngine
from rara.trading.feed import ClosedBar

UNDER_WAY = ("exit", "end", "flatten")  # sales that already close the position: waited for


@dataclass
class FlattenOutcome:
    """How a wind-down ended: ``flat``, ``still_open`` (timed out, refused, interrupted)."""

    step: WindDownStep
    held: Decimal
    open_orders: list[str]
    sales: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    polls: int = 0
    interrupted: bool = False
    detail: str = ""


def last_bar(engine: TradingEngine) -> ClosedBar | None:
    """The bar the sale is priced and keyed on: the last the engine processed, else the last of
    its history (a wind-down right after a restart, before a bar closed)."""
    bar = engine.last_bar
    if bar is not None:
        return bar
    w = engine.window
    if not len(w):
        return None
    i = len(w) - 1
    return ClosedBar(
        open_ms=int(w.ts[i]),
        open=float(w.open[i]),
        high=float(w.high[i]),
        low=float(w.low[i]),
        close=float(w.close[i]),
        volume=float(w.volume[i]),
    )


def book(engine: TradingEngine) -> None:
    """Re-arm, reconcile when due, and journal and book what the venue filled."""
    if engine.upkeep is not None:
        engine.upkeep()
    engine.account.fills_booked()
    engine.book_fills()
    engine.account.fills_booked()


def cancel_for_exit(engine: TradingEngine, *, keep_protective: bool) -> list[str]:
    """Cancel the strategy's open orders but the sales under way (and, with `keep_protective`,
    its stop-loss and take-profit): the client ids canceled."""
    keep = (*UNDER_WAY, "stop_loss", "take_profit") if keep_protective else UNDER_WAY
    canceled: list[str] = []
    for o in engine.orders.open_orders():
        if o.side == "sell" and o.reason in keep:
            continue
        engine.orders.cancel(o.client_order_id)
        canceled.append(o.client_order_id)
    return canceled


def flatten(
    engine: TradingEngine,
    *,
    timeout_s: float,
    poll_s: float = 0.2,
    interrupted: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> FlattenOutcome:
    """Cancel, sell and wait (see the module) until flat, `timeout_s` or `interrupted()`."""
    deadline = clock() + timeout_s
    book(engine)
    engine.control.refresh()
    if engine.control.state == "HALTED" and not engine.control.flatten:
        return _outcome(
            engine,
            "still_open",
            detail="trading is HALTED by a kill without --flatten: nothing was canceled or sold "
            "(`rara kill --flatten` sells it)",
        )
    # the entries and the protective orders first, then what they filled meanwhile is booked:
    # a stop that fired just before its cancel leaves nothing to sell
    canceled = cancel_for_exit(engine, keep_protective=False)
    book(engine)
    sales: list[str] = []
    polls = 0
    refused = ""
    while True:
        _, held = engine.account.holdings()
        selling = _selling(engine)
        if held <= ZERO and not selling:
            return _outcome(engine, "flat", sales, canceled, polls)
        if not selling and held > ZERO and not refused:
            bar = last_bar(engine)
            if bar is None:
                refused = "no bar to price the sale on"
            else:
                before = {o.client_order_id for o in engine.orders.orders()}
                engine.sell_position("flatten", bar)  # its stop-loss and take-profit go first
                made = [o for o in engine.orders.orders() if o.reason == "flatten"]
                for o in made:
                    if o.client_order_id not in sales:
                        sales.append(o.client_order_id)
                new = [o for o in made if o.client_order_id not in before]
                if new and new[-1].state == "rejected":
                    refused = f"the sale was refused: {new[-1].reject_code} {new[-1].detail}"
                elif not new and not any(o.is_open for o in made):
                    # this bar's sale is done (one per bar) and something is still held
                    refused = f"{held} still held after the flatten sale (below a lot?)"
        if refused:  # a refusal may be the venue seeing it sold already: look once more
            book(engine)
            _, held = engine.account.holdings()
            if held <= ZERO and not _selling(engine):
                return _outcome(engine, "flat", sales, canceled, polls)
        if clock() >= deadline or interrupted() or refused:
            why = (
                refused
                or ("the daemon is stopping" if interrupted() else "")
                or f"not flat within {timeout_s:g} s"
            )
            out = _outcome(engine, "still_open", sales, canceled, polls, detail=why)
            out.interrupted = interrupted() and not refused
            return out
        time.sleep(poll_s)
        polls += 1
        book(engine)


def _selling(engine: TradingEngine) -> list[str]:
    """The open sales that close the position (not a resting stop-loss or take-profit)."""
    return [
        o.client_order_id
        for o in engine.orders.open_orders()
        if o.side == "sell" and o.reason in UNDER_WAY
    ]


def _outcome(
    engine: TradingEngine,
    step: WindDownStep,
    sales: list[str] | None = None,
    canceled: list[str] | None = None,
    polls: int = 0,
    *,
    detail: str = "",
) -> FlattenOutcome:
    _, held = engine.account.holdings()
    open_ids = [o.client_order_id for o in engine.orders.open_orders()]
    # the run's flatten sales, those journaled before a restart included
    made = [o.client_order_id for o in engine.orders.orders() if o.reason == "flatten"]
    sales = [*made, *(c for c in sales or [] if c not in made)]
    return FlattenOutcome(step, held, open_ids, sales, canceled or [], polls, detail=detail)
