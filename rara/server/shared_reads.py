"""The event log's reads, shared by the streams of one server.

Ten clients following the log (ten TUIs, or ten catching up from the same seq) would otherwise
read, and build messages for, the same events ten times over. Each stream asks for the events
matching its filter after its cursor and up to a head it has read from the log (at most `limit`):
on an append-only log that answer never changes, so streams asking the same question get the same
read, made once (the first asker's worker-thread read; the others await it) and its batch
messages, built once. Only the last `KEEP` answers are kept: memory stays a few batches however
many clients there are, and a stream that has fallen behind the others just reads for itself.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable

from rara.events import EventFilter, EventStore
from rara.events.model import ChainedEvent
from rara.v1 import rara_pb2 as pb

KEEP = 4  # answers kept: enough for streams a batch or two apart
Key = tuple[EventFilter, int, int, int]


class Read:
    """One answer: the events, and (built on first use) their `batch` messages."""

    def __init__(self, events: list[ChainedEvent]) -> None:
        self.events = events
        self._messages: list[pb.StreamEventsResponse] | None = None

    def messages(
        self, build: Callable[[list[ChainedEvent]], list[pb.StreamEventsResponse]]
    ) -> list[pb.StreamEventsResponse]:
        if self._messages is None:
            self._messages = build(self.events)
        return self._messages


class SharedReads:
    """Reads of `store` for the streams of one server, on its event loop."""

    def __init__(self, store: EventStore, keep: int = KEEP) -> None:
        self.store = store
        self.keep = keep
        self._answers: OrderedDict[Key, asyncio.Task[Read]] = OrderedDict()
        self.reads = 0  # made against the store (the rest were shared)

    async def read(self, where: EventFilter, after_seq: int, upto_seq: int, limit: int) -> Read:
        """The first `limit` events matching `where` in (`after_seq`, `upto_seq`], in seq order;
        `upto_seq` must be a head the log has reached."""
        key = (where, after_seq, upto_seq, limit)
        task = self._answers.get(key)
        if task is None or (task.done() and task.exception() is not None):
            task = asyncio.create_task(self._read(where, after_seq, upto_seq, limit))
            self._answers[key] = task
            while len(self._answers) > self.keep:
                self._answers.popitem(last=False)
        else:
            self._answers.move_to_end(key)
        # shielded: a stream that goes away does not cancel the read the others await
        return await asyncio.shield(task)

    async def _read(self, where: EventFilter, after_seq: int, upto_seq: int, limit: int) -> Read:
        self.reads += 1
        events = await asyncio.to_thread(
            self.store.query_chained, where, after_seq=after_seq, upto_seq=upto_seq, limit=limit
        )
        return Read(events)
