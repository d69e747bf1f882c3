"""The hash-chained, append-only event log (SQLite, WAL) and its in-process bus.

Typical use::

    store = open_event_store()                       # $RARA_HOME/rara.db
    store.append("research_hypothesis_created", {"idea": "..."}, source="research")
    report = store.verify()                          # VerifyReport(ok=True, ...)

    bus = EventBus(store)
    async for ev in bus.subscribe("ledger", types=["trading_order_filled"]):
        ...
        bus.ack("ledger", ev.seq)
"""

from rara.events.bus import EventBus, Subscription, tail
from rara.events.model import (
    EVENT_TYPE_RE,
    GENESIS_HASH,
    Event,
    EventDraft,
    VerifyReport,
    canonical_json,
)
from rara.events.store import EventStore, open_event_store, verify_path
from rara.state import default_db_path

__all__ = [
    "EVENT_TYPE_RE",
    "GENESIS_HASH",
    "Event",
    "EventBus",
    "EventDraft",
    "EventStore",
    "Subscription",
    "VerifyReport",
    "canonical_json",
    "default_db_path",
    "open_event_store",
    "tail",
    "verify_path",
]
