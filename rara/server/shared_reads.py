"""The event log's reads, shared by the streams of one server.

Ten clients following the log (ten TUIs, or ten catching up from the same seq) would otherwise
read, and build messages for, the same events ten times over. Each stream asks for the events
matching its filter after its cursor and up to a head it has read from the log (at most `limit`):
on an append-only log that answer never changes, so streams asking the same question get the same
read, made once (the first asker's worker-thread read; the others await it) and its batch
messages, built once. Only the last `KEEP` answers are kept: memory stays a few batches however
many clients there are, and a stream that has fallen behind the others just reads for itself.

Likewise the head: appends by other processes ring no bell here (`rara.events.wake`), so
someone must look at the log's head every ``poll_s``; `HeadWatch` does it once for all the
server's streams, while any is open, and tells them when it moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rara.errors import RaraError
from rara.events import EventFilter, EventStore
from rara.events.model import ChainedEvent
from rara.v1 import rara_pb2 as pb

log = logging.getLogger(__name__)
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


class HeadWatch:
    """The log's head, read every `poll_s` on the server's event loop while anyone watches;
    each watcher is called with the new head whenever it has moved."""

    def __init__(self, store: EventStore, poll_s: float) -> None:
        self.store = store
        self.poll_s = poll_s
        self.head = -1  # the last head seen (-1: none yet)
        self.looks = 0  # how many times the log was asked
        self._watchers: list[Callable[[int], None]] = []
        self._task: asyncio.Task[None] | None = None

    @contextmanager
    def watching(self, callback: Callable[[int], None]) -> Iterator[None]:
        self._watchers.append(callback)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._watch())
        try:
            yield
        finally:
            self._watchers.remove(callback)
            if not self._watchers and self._task is not None:
                self._task.cancel()
                self._task = None

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            self.looks += 1
            try:
                head = await asyncio.to_thread(self.store.last_seq)
            except RaraError as exc:  # the streams still read the head at each heartbeat
                log.warning("cannot read the event log's head: %s", exc.message)
                continue
            if head > self.head:
                self.head = head
                for callback in list(self._watchers):
                    callback(head)


class SharedReads:
    """Reads of `store` for the streams of one server, on its event loop, and its `HeadWatch`
    (every `poll_s`)."""

    def __init__(self, store: EventStore, poll_s: float = 0.05, keep: int = KEEP) -> None:
        self.store = store
        self.watch = HeadWatch(store, poll_s)
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
