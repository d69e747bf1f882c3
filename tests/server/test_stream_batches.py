"""StreamEvents in batches and woken by appends, against a real server on a real state DB.

A ``batched`` request gets each read of the log as `EventBatch` items that unroll to exactly the
events a per-event stream gives, in order, chain-verified, resumable from any seq; a request
without it (an older client) gets only single `event` items. An append in the server's process
wakes a caught-up stream at once: with the poll and the heartbeat an hour apart, only the bell
can deliver the new events before the call's deadline. Streams asking the same question of the
log share one read.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import grpc
import pytest

from rara.daemon_settings import ServerSettings
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.server.shared_reads import SharedReads
from rara.server.stream import EVENT_OVERHEAD_BYTES, batch_messages
from rara.server.verify import ChainCheck
from rara.v1 import rara_pb2 as pb
from tests.kit.server import served
from tests.server.test_stream import append, signal

pytestmark = pytest.mark.slow

HOUR_S = 3600.0
DEADLINE_S = 120.0  # a broken wake-up fails the call long before the hour's poll would save it


def unrolled(items: list[pb.StreamEventsResponse]) -> list[pb.Event]:
    out: list[pb.Event] = []
    for item in items:
        assert item.WhichOneof("item") == "batch"
        assert len(item.batch.events) > 0  # never an empty batch
        out.extend(item.batch.events)
    return out


def test_batches_unroll_to_the_per_event_stream_and_resume_exactly(rara_home: Path):
    home = Home(root=rara_home)
    head = append(home, 1_234)
    settings = ServerSettings(port=0, heartbeat_s=0.5, stream_batch=100)
    with served(home, settings=settings) as srv:
        stub = srv.stub(srv.tokens.get("read").value)

        def take(request: pb.StreamEventsRequest, n_events: int) -> list[pb.StreamEventsResponse]:
            call = stub.StreamEvents(request, timeout=DEADLINE_S)
            items, n = [], 0
            for item in call:
                if item.WhichOneof("item") == "heartbeat":
                    continue
                items.append(item)
                n += len(item.batch.events) if item.WhichOneof("item") == "batch" else 1
                if n >= n_events:
                    break
            call.cancel()
            return items

        batches = take(pb.StreamEventsRequest(after_seq=0, batched=True), head)
        singles = take(pb.StreamEventsRequest(after_seq=0), head)
        assert {i.WhichOneof("item") for i in singles} == {"event"}  # older clients: as before
        events = unrolled(batches)
        assert [e.seq for e in events] == list(range(1, head + 1))
        assert events == [i.event for i in singles]  # the same events, field for field
        assert max(len(i.batch.events) for i in batches) == 100  # one read per batch at most
        check = ChainCheck()
        for e in events:
            check.check(e.seq, e.canonical_json, e.prev_hash, e.hash)
        # resume from the middle of a batch: the rest, once each
        rest = unrolled(take(pb.StreamEventsRequest(after_seq=617, batched=True), head - 617))
        assert [e.seq for e in rest] == list(range(618, head + 1))
        # filters hold in batches too
        append(home, 3, strategy_id="s-1")
        mine = unrolled(take(pb.StreamEventsRequest(strategy_id="s-1", batched=True), 3))
        assert [e.seq for e in mine] == [head + 1, head + 2, head + 3]


def test_a_batch_splits_at_the_message_size_and_keeps_every_event_in_order(rara_home: Path):
    home = Home(root=rara_home)
    with open_event_store(home.state_db) as store:
        store.append_many([signal(i) for i in range(50)])
        events = store.query_chained()

    def cost(e: pb.Event) -> int:
        return len(e.canonical_json) + EVENT_OVERHEAD_BYTES

    cost_of_first = len(events[0].envelope) + EVENT_OVERHEAD_BYTES
    cap = cost_of_first * 7
    items = list(batch_messages(events, message_bytes=cap))
    assert [e.seq for e in unrolled(items)] == list(range(1, 51))
    sizes = [sum(cost(e) for e in i.batch.events) for i in items]
    assert all(size <= cap for size in sizes)
    # each message is as full as the cap allows: the next event would not have fitted
    for size, nxt in zip(sizes, items[1:], strict=False):
        assert size + cost(nxt.batch.events[0]) > cap
    assert len(items) > 50 * cost_of_first // cap
    # an event larger than the cap still goes, alone
    assert [len(i.batch.events) for i in batch_messages(events[:3], message_bytes=1)] == [1, 1, 1]


@pytest.mark.parametrize("batched", [True, False])
def test_an_append_in_the_servers_process_wakes_a_caught_up_stream(rara_home: Path, batched: bool):
    home = Home(root=rara_home)
    append(home, 5)
    # nothing but the bell can bring new events within the deadline: no poll, no heartbeat
    settings = ServerSettings(port=0, heartbeat_s=HOUR_S, poll_s=HOUR_S)
    with served(home, settings=settings) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        call = stub.StreamEvents(
            pb.StreamEventsRequest(after_seq=0, batched=batched), timeout=DEADLINE_S
        )
        it = iter(call)
        got: list[int] = []

        def receive(n: int) -> None:
            while len(got) < n:
                item = next(it)
                kind = item.WhichOneof("item")
                got.extend(
                    [e.seq for e in item.batch.events] if kind == "batch" else [item.event.seq]
                )

        receive(5)  # the log as it was; the stream is now waiting for an append
        done = threading.Event()

        def appender() -> None:  # another thread of this process, like a daemon component
            for k in range(3):
                append(home, 2 + k)
            done.set()

        thread = threading.Thread(target=appender)
        thread.start()
        try:
            receive(5 + 2 + 3 + 4)
        except grpc.RpcError as exc:  # DEADLINE_EXCEEDED: the appends woke nothing
            pytest.fail(f"the appends did not wake the stream: {exc.code()}")
        finally:
            thread.join()
            call.cancel()
        assert done.is_set()
        assert got == list(range(1, 15))  # no gap, no duplicate, in order


def test_streams_asking_the_same_question_share_one_read(rara_home: Path):
    home = Home(root=rara_home)
    head = append(home, 30)

    async def scenario() -> None:
        with open_event_store(home.state_db, readonly=True) as store:
            reads = SharedReads(store, keep=2)
            everything = EventFilter()
            # ten streams at the same place at once: one read, the same answer for each
            answers = await asyncio.gather(
                *(reads.read(everything, 0, head, 10) for _ in range(10))
            )
            assert reads.reads == 1
            assert all(a is answers[0] for a in answers)
            assert [e.seq for e in answers[0].events] == list(range(1, 11))
            # bounded by the head asked for, whatever the log holds now
            upto = await reads.read(everything, 10, 15, 10)
            assert [e.seq for e in upto.events] == list(range(11, 16)) and reads.reads == 2
            # the first asker going away does not cancel the read the others await
            first = asyncio.create_task(reads.read(everything, 20, head, 10))
            second = asyncio.create_task(reads.read(everything, 20, head, 10))
            await asyncio.sleep(0)
            first.cancel()
            assert [e.seq for e in (await second).events] == list(range(21, 31))
            assert reads.reads == 3
            # only the last `keep` answers are kept: an old question is read again
            await reads.read(everything, 0, head, 10)
            assert reads.reads == 4

    asyncio.run(scenario())


def test_one_head_watch_tells_every_stream_when_the_head_moves(rara_home: Path):
    home = Home(root=rara_home)
    append(home, 3)

    async def scenario() -> None:
        with open_event_store(home.state_db, readonly=True) as store:
            reads = SharedReads(store, poll_s=0.01)
            seen: dict[str, list[int]] = {"a": [], "b": []}
            with (
                reads.watch.watching(seen["a"].append),
                reads.watch.watching(seen["b"].append),
            ):
                for _ in range(12_000):  # up to two minutes, in 10 ms looks
                    if seen["a"][-1:] == [3]:
                        break
                    await asyncio.sleep(0.01)
                # what another process appends is found by the watch's look, not a bell
                head = await asyncio.to_thread(append, home, 4)
                for _ in range(12_000):
                    if seen["a"][-1:] == [head] and seen["b"][-1:] == [head]:
                        break
                    await asyncio.sleep(0.01)
                assert seen["a"] == seen["b"] == [3, head]  # each move once, to every watcher
                assert reads.watch.looks >= 2
            assert reads.watch._task is None  # nobody watches: nobody looks

    asyncio.run(scenario())
