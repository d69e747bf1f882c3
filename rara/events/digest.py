"""A run's content hash: its events in order (type, strategy id, payload), not their wall-clock
timestamps or storage ids, so the same inputs (and the same recorded LLM replies) give the same
hash on any machine and day. Research runs and paper runs are both identified this way."""

from __future__ import annotations

import hashlib
import json

from rara.events.filter import EventFilter
from rara.events.store import EventStore


def run_hash(events: EventStore, run_id: str) -> str:
    h = hashlib.sha256()
    for e in events.iter_query(EventFilter(correlation_id=run_id)):
        h.update(
            json.dumps(
                {"type": e.type, "strategy_id": e.strategy_id, "payload": e.payload},
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
        )
        h.update(b"\n")
    return h.hexdigest()
