"""StreamEvents: the event log from a seq on, then new events as they are appended, with a
heartbeat while there are none.

The log is read in batches of ``[server] stream_batch`` events, and the next batch only once the
last one has been handed to grpc (whose writes wait for the client under HTTP/2 flow control):
a slow client holds the server to one batch, never to the log. Streams at the same place share
their reads (`rara.server.shared_reads`), which run in a worker thread so SQLite never blocks
the event loop. A client that asks for ``batched`` gets each read as one message (or a few,
about `StreamSettings.message_bytes` each), which spares grpc's per-message cost per event;
others get one message per event.

A caught-up stream waits for the next append: appends in this process (the daemon's) ring the
state DB's bell (`rara.events.wake`) and wake it at once; appends by another process (under
``rara serve``, or the CLI's beside the daemon) are seen at the server's next look at the head,
every ``[server] poll_s`` (`rara.server.shared_reads.HeadWatch`, one for all streams).
Resuming with ``after_seq`` = the last seq received gives no gap and no duplicate, across
reconnects and server restarts alike: the cursor is the client's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rara.events import EventFilter
from rara.events.model import ChainedEvent, format_ts
from rara.events.wake import listening
from rara.server.shared_reads import SharedReads
from rara.v1 import rara_pb2 as pb

EVENT_OVERHEAD_BYTES = 256  # an event's fields besides its canonical JSON, generously


@dataclass(frozen=True)
class StreamSettings:
    batch: int = 500
    heartbeat_s: float = 5.0
    poll_s: float = 0.02
    message_bytes: int = 1 << 20  # a batched message's size, about (grpc's default cap: 4 MiB)


def _event_fields(ev: ChainedEvent) -> dict[str, Any]:
    """An `Event` message's fields (one place for the single and the batched message)."""
    return {
        "seq": ev.seq,
        "event_id": ev.event_id,
        "type": ev.type,
        "ts": ev.ts,
        "source": ev.source,
        "strategy_id": ev.strategy_id or "",
        "correlation_id": ev.correlation_id or "",
        "canonical_json": ev.envelope,
        "prev_hash": ev.prev_hash,
        "hash": ev.hash,
    }


def event_message(ev: ChainedEvent) -> pb.Event:
    return pb.Event(**_event_fields(ev))


def batch_messages(
    events: Sequence[ChainedEvent], message_bytes: int
) -> Iterator[pb.StreamEventsResponse]:
    """`events` (not empty) as `batch` items in order, each at least one event and, past its
    first, no more than about `message_bytes`."""
    item = pb.StreamEventsResponse()
    size = 0
    for ev in events:
        cost = len(ev.envelope) + EVENT_OVERHEAD_BYTES
        if size and size + cost > message_bytes:
            yield item
            item, size = pb.StreamEventsResponse(), 0
        size += cost
        # built in place: constructing an Event and copying it in costs twice as much
        item.batch.events.add(**_event_fields(ev))
    if size:
        yield item


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
    reads: SharedReads, request: pb.StreamEventsRequest, settings: StreamSettings
) -> AsyncGenerator[pb.StreamEventsResponse, None]:
    """Every event matching `request` after its ``after_seq``, forever (the caller cancels)."""
    store = reads.store

    def batched(events: list[ChainedEvent]) -> list[pb.StreamEventsResponse]:
        return list(batch_messages(events, settings.message_bytes))

    where = request_filter(request)
    heartbeat_s = request.heartbeat_ms / 1000 if request.heartbeat_ms > 0 else settings.heartbeat_s
    cursor = max(0, request.after_seq)  # the last seq sent or known not to match
    scanned = -1  # the head up to which every event has been looked at (-1: not yet)
    last_sent = time.monotonic()
    loop = asyncio.get_running_loop()
    appended = asyncio.Event()
    rung_head = -1  # the highest head a ring or the head watch announced (-1: none yet)

    def note(head_seq: int) -> None:
        nonlocal rung_head
        rung_head = max(rung_head, head_seq)
        appended.set()

    def rung(head_seq: int) -> None:  # on the appender's thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: the stream is over
            loop.call_soon_threadsafe(note, head_seq)

    with listening(store.path, rung), reads.watch.watching(note):
        while True:
            appended.clear()  # before reading: an append after the read rings again
            # a ring or the watch names a committed head: no need to ask the log for it
            head = rung_head if rung_head > scanned else await asyncio.to_thread(store.last_seq)
            if head > scanned:
                # bounded by `head`: the same answer for every stream that asks, made once
                read = await reads.read(where, cursor, head, settings.batch)
                batch = read.events
                if request.batched and batch:
                    for item in read.messages(batched):
                        yield item
                else:
                    for ev in batch:
                        yield pb.StreamEventsResponse(event=event_message(ev))
                if batch:
                    cursor = batch[-1].seq
                    last_sent = time.monotonic()
                if len(batch) < settings.batch:
                    # every match after the cursor up to `head` was read: none is left unseen
                    scanned = head
                    cursor = max(cursor, head)
                else:
                    continue  # more to catch up on: no pause
            if time.monotonic() - last_sent >= heartbeat_s:
                yield pb.StreamEventsResponse(heartbeat=pb.Heartbeat(head_seq=head, ts=_now_ts()))
                last_sent = time.monotonic()
            # until an append (the bell, or the head watch for other processes') or the heartbeat
            wait_s = max(0.0, heartbeat_s - (time.monotonic() - last_sent))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await appended.wait()
