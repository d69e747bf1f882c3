"""StreamEvents: the event log from a seq on, then new events as they are appended, with a
heartbeat while there are none.

The log is read in batches of ``[server] stream_batch`` events, and the next batch only once the
last one has been handed to grpc (whose writes wait for the client under HTTP/2 flow control):
a slow client holds the server to one batch, never to the log. Reads run in a worker thread so
SQLite never blocks the event loop. Resuming with ``after_seq`` = the last seq received gives no
gap and no duplicate, across reconnects and server restarts alike: the cursor is the client's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from rara.events import EventFilter, EventStore
from rara.events.model import ChainedEvent, format_ts
from rara.v1 import rara_pb2 as pb


@dataclass(frozen=True)
class StreamSettings:
    batch: int = 500
    heartbeat_s: float = 5.0
    poll_s: float = 0.025


def event_message(ev: ChainedEvent) -> pb.Event:
    return pb.Event(
        seq=ev.seq,
        event_id=ev.event_id,
        type=ev.type,
        ts=ev.ts,
        source=ev.source,
        strategy_id=ev.strategy_id or "",
        correlation_id=ev.correlation_id or "",
        canonical_json=ev.envelope,
        prev_hash=ev.prev_hash,
        hash=ev.hash,
    )


def request_filter(request: pb.StreamEventsRequest) -> EventFilter:
    """The request's criteria (`BadInput` for a malformed type name)."""
    return EventFilter(
        types=list(request.types) or None,
        strategy_id=request.strategy_id or None,
        correlation_id=request.correlation_id or None,
    )


def _now_ts() -> str:
    return format_ts(datetime.now(UTC))


async def stream_events(
    store: EventStore, request: pb.StreamEventsRequest, settings: StreamSettings
) -> AsyncIterator[pb.StreamEventsResponse]:
    """Every event matching `request` after its ``after_seq``, forever (the caller cancels)."""
    where = request_filter(request)
    heartbeat_s = request.heartbeat_ms / 1000 if request.heartbeat_ms > 0 else settings.heartbeat_s
    cursor = max(0, request.after_seq)  # the last seq sent or known not to match
    scanned = -1  # the head up to which every event has been looked at (-1: not yet)
    last_sent = time.monotonic()
    while True:
        head = await asyncio.to_thread(store.last_seq)
        if head > scanned:
            batch = await asyncio.to_thread(
                store.query_chained, where, after_seq=cursor, limit=settings.batch
            )
            for ev in batch:
                yield pb.StreamEventsResponse(event=event_message(ev))
            if batch:
                cursor = batch[-1].seq
                last_sent = time.monotonic()
            if len(batch) < settings.batch:
                # the query began after `head` was read and found every match after the cursor:
                # nothing up to `head` is left unseen
                scanned = head
                cursor = max(cursor, head)
            else:
                continue  # more to catch up on: no pause
        if time.monotonic() - last_sent >= heartbeat_s:
            yield pb.StreamEventsResponse(heartbeat=pb.Heartbeat(head_seq=head, ts=_now_ts()))
            last_sent = time.monotonic()
        await asyncio.sleep(settings.poll_s)
