"""The in-process bus: replay then live delivery, acked offsets that survive a restart, tail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import TypeVar

import pytest

from rara.errors import BadInput
from rara.events import Event, EventBus, EventStore, tail
from tests.events.payloads import make, probe

T = TypeVar("T")
GUARD_S = 30  # a hang guard for awaits that should finish at once, not a timing assertion


async def _guard(aw: Awaitable[T]) -> T:
    return await asyncio.wait_for(aw, GUARD_S)


async def _take(it: AsyncIterator[Event], n: int) -> list[Event]:
    return [await _guard(anext(it)) for _ in range(n)]


def test_replay_then_live(db_path: Path) -> None:
    async def main() -> None:
        store = EventStore(db_path)
        bus = EventBus(store)
        for i in range(3):
            await bus.publish(make("research_hypothesis_created", {"i": i}, "research"))
        sub = bus.subscribe("ledger")
        replayed = await _take(sub, 3)
        assert [e.seq for e in replayed] == [1, 2, 3]

        waiting = asyncio.create_task(_take(sub, 2))
        await asyncio.sleep(0)  # let the subscriber block on an empty log
        assert not waiting.done()
        published = [
            await bus.publish(make("trading_order_filled", {"i": 3}, "trading")),
            *await bus.publish_many([make("trading_order_filled", source="trading")]),
        ]
        assert await _guard(waiting) == published
        sub.close()
        store.close()

    asyncio.run(main())


def test_restart_resumes_after_acked_offset(db_path: Path) -> None:
    async def first_run() -> None:
        store = EventStore(db_path)
        bus = EventBus(store)
        await bus.publish_many([make("a_b", {"i": i}) for i in range(5)])
        sub = bus.subscribe("worker")
        await _take(sub, 3)
        sub.ack()  # everything delivered so far: seq 3
        assert bus.offset("worker") == 3
        await _take(sub, 1)  # seq 4 delivered but never acked: it must come again
        store.close()

    async def second_run() -> list[int]:
        store = EventStore(db_path)  # a new process would do exactly this
        bus = EventBus(store)
        assert bus.offset("worker") == 3
        sub = bus.subscribe("worker")
        got = await _take(sub, 2)
        await bus.publish(make("a_b", {"i": 5}, "t"))
        got += await _take(sub, 1)
        bus.ack("worker", got[-1].seq)
        store.close()
        return [e.seq for e in got]

    asyncio.run(first_run())
    assert asyncio.run(second_run()) == [4, 5, 6]
    with EventStore(db_path) as s:
        assert s.offset("worker") == 6 and s.verify().ok


def test_type_filter_and_independent_consumers(db_path: Path) -> None:
    async def main() -> None:
        store = EventStore(db_path)
        bus = EventBus(store)
        for i in range(6):
            await bus.publish(
                make("trading_order_filled" if i % 2 else "sentinel_signal_detected", source="x")
            )
        fills = bus.subscribe("fills", types="trading_order_filled")
        signals = bus.subscribe("signals", types=["sentinel_signal_detected"])
        assert [e.seq for e in await _take(fills, 3)] == [2, 4, 6]
        assert [e.seq for e in await _take(signals, 3)] == [1, 3, 5]
        fills.ack()
        assert bus.offset("fills") == 6 and bus.offset("signals") == 0
        with pytest.raises(BadInput):
            bus.subscribe("x", types="Not-A-Type")
        store.close()

    asyncio.run(main())


def test_close_ends_iteration(db_path: Path) -> None:
    async def main() -> None:
        store = EventStore(db_path)
        bus = EventBus(store)
        await bus.publish(make("a_b", {}, "t"))
        async with bus.subscribe("c") as sub:
            seen: list[int] = []

            async def consume() -> None:
                async for ev in sub:
                    seen.append(ev.seq)

            task = asyncio.create_task(consume())
            while not seen:
                await asyncio.sleep(0)
        await _guard(task)  # leaving the block closed the subscription
        assert seen == [1]
        other = bus.subscribe("d")
        bus.close()
        assert [e async for e in other] == []
        store.close()

    asyncio.run(main())


def test_from_seq_and_poll_sees_other_connections(db_path: Path) -> None:
    async def main() -> None:
        store = EventStore(db_path)
        other = EventStore(db_path)  # another writer the bus is not told about
        bus = EventBus(store)
        other.append_many([make("a_b")] * 4)
        sub = bus.subscribe("c", from_seq=2, poll_s=0.01)
        assert [e.seq for e in await _take(sub, 2)] == [3, 4]
        later = asyncio.create_task(_take(sub, 1))
        await asyncio.sleep(0)
        other.append(probe("a_b", {}), source="t")  # no notify(): only polling can find it
        assert [e.seq for e in await _guard(later)] == [5]
        store.close()
        other.close()

    asyncio.run(main())


def test_tail_follows_the_log(db_path: Path) -> None:
    async def main() -> None:
        writer = EventStore(db_path)
        reader = EventStore(db_path, readonly=True)
        writer.append_many([make("a_b"), make("c_d")] * 3)
        it = tail(reader, after_seq=1, types="a_b", poll_s=0.01, batch=2)
        assert [e.seq for e in await _take(it, 2)] == [3, 5]
        nxt = asyncio.create_task(_take(it, 1))
        writer.append(probe("c_d", {}), source="t")
        writer.append(probe("a_b", {}), source="t")
        assert [e.seq for e in await _guard(nxt)] == [8]
        await it.aclose()
        writer.close()
        reader.close()

    asyncio.run(main())
