"""In-process publish/subscribe on top of the event store, plus a polling tail for other processes.

Every delivery is read back from the store, never handed over in memory: a subscriber sees
exactly what was committed, in seq order, and the same code path serves replay (after a saved
offset) and live delivery. publish() wakes subscribers so live events arrive without polling.

publish() appends synchronously on the event loop's thread. That keeps the log order equal to
the order of publish() calls (the project wants same inputs, same log), at the price of blocking
the loop for one SQLite commit, which in WAL mode with synchronous=NORMAL is well under a
millisecond unless another process holds the write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from types import TracebackType

from rara.events.filter import EventFilter, TypeSpec
from rara.events.model import Event, EventDraft, check_text
from rara.events.store import EventStore

DEFAULT_BATCH = 500


class Subscription:
    """An async iterator of events for one consumer: stored ones after its offset, then live.

    Delivery is at-least-once: the offset only moves when the consumer calls ack(), so a
    consumer that crashes before acking sees the unacked events again after a restart.
    """

    def __init__(
        self,
        bus: EventBus,
        consumer: str,
        where: EventFilter,
        *,
        start_after: int,
        batch: int,
        poll_s: float | None,
    ) -> None:
        self._bus = bus
        self.consumer = consumer
        self.where = where
        self.position = start_after  # last seq delivered (not necessarily acked)
        self._batch = batch
        self._poll_s = poll_s
        self._buffer: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._buffer:
                ev = self._buffer.popleft()
                self.position = ev.seq
                return ev
            if self._closed:
                raise StopAsyncIteration
            # Clear before reading: a publish after the read sets the flag again, so no wake-up
            # is lost between the read and the wait.
            self._wake.clear()
            page = self._bus.store.query(self.where, after_seq=self.position, limit=self._batch)
            if page:
                self._buffer.extend(page)
                continue
            if self._poll_s is None:
                await self._wake.wait()
            else:
                # Polling also picks up events appended by other processes.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_s)

    def _notify(self) -> None:
        self._wake.set()

    def ack(self, seq: int | None = None) -> None:
        """Persist this consumer's offset (default: the last event delivered)."""
        self._bus.ack(self.consumer, self.position if seq is None else seq)

    def close(self) -> None:
        """End iteration once buffered events are drained."""
        self._closed = True
        self._wake.set()
        self._bus._forget(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Publish to the log and fan out to subscribers in this process."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        # Weak: a subscription dropped without close() must not keep being woken forever.
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()

    async def publish(self, draft: EventDraft) -> Event:
        """Append one draft and wake the subscribers."""
        ev = self.store.append_many([draft])[0]
        self.notify()
        return ev

    async def publish_many(self, drafts: Iterable[EventDraft]) -> list[Event]:
        """Append every draft in one transaction (all or none) and wake the subscribers."""
        events = self.store.append_many(drafts)
        if events:
            self.notify()
        return events

    def notify(self) -> None:
        """Wake every subscriber; call it after appending through the store directly."""
        for sub in list(self._subs):
            sub._notify()

    def subscribe(
        self,
        consumer: str,
        types: TypeSpec | Iterable[TypeSpec] | None = None,
        *,
        from_seq: int | None = None,
        batch: int = DEFAULT_BATCH,
        poll_s: float | None = None,
    ) -> Subscription:
        """Events after `consumer`'s saved offset (or after `from_seq`), filtered by type (names
        or payload models).

        ``poll_s`` also re-reads the log every so often, to see other processes' appends.
        """
        check_text("consumer", consumer, optional=False)
        where = EventFilter(types=types)
        start = self.store.offset(consumer) if from_seq is None else max(0, from_seq)
        sub = Subscription(self, consumer, where, start_after=start, batch=batch, poll_s=poll_s)
        self._subs.add(sub)
        return sub

    def ack(self, consumer: str, seq: int) -> None:
        self.store.ack(consumer, seq)

    def offset(self, consumer: str) -> int:
        return self.store.offset(consumer)

    def close(self) -> None:
        """End every subscription; the store stays open (its owner closes it)."""
        for sub in list(self._subs):
            sub.close()

    def _forget(self, sub: Subscription) -> None:
        self._subs.discard(sub)


async def tail(
    store: EventStore,
    after_seq: int = 0,
    types: TypeSpec | Iterable[TypeSpec] | None = None,
    poll_s: float = 0.2,
    batch: int = DEFAULT_BATCH,
) -> AsyncGenerator[Event, None]:
    """Follow the log from another process: WAL readers see each commit as it lands.

    Runs until the caller stops iterating (``break``, ``aclose()`` or cancelling the task).
    """
    where = EventFilter(types=types)
    cursor = after_seq
    while True:
        page = store.query(where, after_seq=cursor, limit=batch)
        for ev in page:
            cursor = ev.seq
            yield ev
        if len(page) < batch:
            await asyncio.sleep(poll_s)
