"""Booking the event log into the ledger: every ``trading_account_funded``,
``trading_order_filled`` and ``trading_external_fill`` event, in log order. Booking is idempotent
by transaction id, so a second pass books nothing, a ledger that fell behind the log (a crash
between logging a fill and booking it) catches up, and a ledger rebuilt into an empty database
from the log equals the one booked live."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from rara.errors import RaraError
from rara.events import EventStore
from rara.ledger.logged import logged_transactions
from rara.ledger.store import Ledger, open_ledger


class CatchUp(BaseModel):
    """What a pass over the log did: ``booked`` new transactions, ``already_booked`` found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    events: int
    booked: int
    already_booked: int
    last_event_seq: int


def catch_up(ledger: Ledger, store: EventStore, *, after_seq: int = 0) -> CatchUp:
    """Book every funding and fill event after `after_seq` (exclusive) into `ledger`; an event
    that cannot be booked raises its error (`ledger_fill_invalid`, `ledger_conflict`...)."""
    events = booked = 0
    last = after_seq
    for seq, tx in logged_transactions(store, after_seq=after_seq):
        if isinstance(tx, RaraError):
            raise tx
        events += 1
        booked += ledger.book(tx)
        last = seq
    return CatchUp(
        events=events, booked=booked, already_booked=events - booked, last_event_seq=last
    )


def rebuild_from_events(store: EventStore, db: Path | str) -> CatchUp:
    """Book the whole event log of `store` into the ledger in the state DB at `db` (an empty one
    to rebuild it; the live one to catch it up)."""
    with open_ledger(db) as ledger:
        return catch_up(ledger, store)
