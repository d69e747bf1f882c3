"""The hash-chained, append-only event log (SQLite, WAL) and its in-process bus.

`verify()` also covers what users read: the chain head is anchored in a file beside the database
(`anchor`), and experiment and trial rows are sealed in the log as they are written (`seal`).

Payloads are the typed models of `rara.domain.events` (schema v1); the event type is the
model's, so nothing is appended from a bare dict. Typical use::

    store = open_event_store(home.state_db)          # home = Home.from_env() at the edge
    ev = store.append(ResearchHypothesisCreated(...), source="research", correlation_id=run)
    ev.typed()                                       # the ResearchHypothesisCreated again
    for ev in store.iter_query(EventFilter(types=[TradingOrderFilled], strategy_id=sid)):
        fill = ev.typed()                            # a RawPayload if the type is unknown here
    report = store.verify()                          # VerifyReport(ok=True, ...)

    bus = EventBus(store)
    await bus.publish(EventDraft(payload=TradingOrderFilled(...), source="trading"))
    async for ev in bus.subscribe("ledger", types=[TradingOrderFilled]):
        ...
        bus.ack("ledger", ev.seq)
"""

from rara.events.anchor import anchoring_deferred, wait_for_anchor
from rara.events.bus import EventBus, Subscription, tail
from rara.events.filter import EVERYTHING, EventFilter
from rara.events.model import (
    EVENT_TYPE_RE,
    GENESIS_HASH,
    Event,
    EventDraft,
    VerifyReport,
    canonical_json,
)
from rara.events.store import EventStore, open_event_store, verify_path

__all__ = [
    "EVENT_TYPE_RE",
    "EVERYTHING",
    "GENESIS_HASH",
    "Event",
    "EventBus",
    "EventDraft",
    "EventFilter",
    "EventStore",
    "Subscription",
    "VerifyReport",
    "anchoring_deferred",
    "canonical_json",
    "open_event_store",
    "tail",
    "verify_path",
    "wait_for_anchor",
]
