"""StreamEvents against a real server while a writer appends: resuming from the last seq
received gives no gap and no duplicate, across a server restart mid-stream; filters; heartbeats
carry the head when there is nothing new."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

from rara.domain.events import SentinelSignalDetected
from rara.events import EventDraft, open_event_store
from rara.home import Home
from rara.server.verify import ChainBroken, ChainCheck
from rara.v1 import rara_pb2 as pb
from tests.kit.server import served

pytestmark = pytest.mark.slow


def signal(i: int, strategy_id: str | None = None) -> EventDraft:
    payload = SentinelSignalDetected(
        signal="test", severity="info", strategy_id=strategy_id, symbol=None, value=float(i),
        threshold=None, detail=f"event {i}",
    )  # fmt: skip
    return EventDraft(payload=payload, source="test")


def append(home: Home, n: int, strategy_id: str | None = None) -> int:
    with open_event_store(home.state_db) as store:
        return store.append_many([signal(i, strategy_id) for i in range(n)])[-1].seq


def test_resume_across_a_server_restart_has_no_gap_and_no_duplicate(rara_home: Path):
    home = Home(root=rara_home)
    append(home, 50)
    received: list[int] = []
    check = ChainCheck()
    stop_writing = threading.Event()

    def writer() -> None:  # appends all along, restart included
        while not stop_writing.wait(0.01):
            append(home, 7)

    with served(home) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for _ in range(3):
                call = stub.StreamEvents(pb.StreamEventsRequest(after_seq=check.last_seq))
                # events already on the wire still arrive after the stop: stop once a round
                target, stopped = len(received) + 200, False
                try:
                    for item in call:
                        if item.WhichOneof("item") != "event":
                            continue
                        ev = item.event
                        check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)
                        received.append(ev.seq)
                        if len(received) >= target and not stopped:
                            srv.stop()  # mid-stream: the client sees the stream end
                            stopped = True
                except grpc.RpcError as exc:
                    assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
                assert stopped  # the stream ended because the server stopped
                srv.start(srv.port)  # a new server process would read the same log
        finally:
            stop_writing.set()
            thread.join()
        head = append(home, 1)
        call = stub.StreamEvents(pb.StreamEventsRequest(after_seq=check.last_seq))
        for item in call:
            if item.WhichOneof("item") == "event":
                ev = item.event
                check.check(ev.seq, ev.canonical_json, ev.prev_hash, ev.hash)
                received.append(ev.seq)
            elif item.heartbeat.head_seq == head and received[-1] == head:
                break
        call.cancel()
    assert received == list(range(1, head + 1))  # no gap, no duplicate, in order
    assert check.checked == head > 600


def test_filters_and_heartbeats(rara_home: Path):
    home = Home(root=rara_home)
    append(home, 5)
    append(home, 3, strategy_id="s-1")
    with served(home) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        req = pb.StreamEventsRequest(strategy_id="s-1", heartbeat_ms=100)
        call = stub.StreamEvents(req)
        it = iter(call)
        got = [next(it).event.seq for _ in range(3)]
        assert got == [6, 7, 8]
        beat = next(it)  # nothing more matches: a heartbeat with the log's head
        assert beat.WhichOneof("item") == "heartbeat" and beat.heartbeat.head_seq == 8
        append(home, 2)  # not this strategy's: only heartbeats, their head moving on
        append(home, 1, strategy_id="s-1")
        while (item := next(it)).WhichOneof("item") == "heartbeat":
            assert item.heartbeat.head_seq in (8, 10, 11)
        assert item.event.seq == 11 and item.event.strategy_id == "s-1"
        call.cancel()
        call = stub.StreamEvents(pb.StreamEventsRequest(types=["no_such_type"], after_seq=0))
        first = next(iter(call))
        assert first.WhichOneof("item") == "heartbeat" and first.heartbeat.head_seq == 11
        call.cancel()
        bad = stub.StreamEvents(pb.StreamEventsRequest(types=["Not A Type"]))
        with pytest.raises(grpc.RpcError) as err:
            next(iter(bad))
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_chain_check_catches_tampering_and_duplicates(rara_home: Path):
    home = Home(root=rara_home)
    append(home, 3)
    with open_event_store(home.state_db, readonly=True) as store:
        events = store.query_chained()
    check = ChainCheck()
    for ev in events:
        check.check(ev.seq, ev.envelope, ev.prev_hash, ev.hash)
    with pytest.raises(ChainBroken, match="duplicate"):
        check.check(events[-1].seq, events[-1].envelope, events[-1].prev_hash, events[-1].hash)
    e = events[1]
    for args in [
        (e.seq, e.envelope.replace("event 1", "event 9"), e.prev_hash, e.hash),  # altered
        (e.seq + 5, e.envelope, e.prev_hash, e.hash),  # not the seq it says
    ]:
        with pytest.raises(ChainBroken):
            ChainCheck(last_seq=1, last_hash=events[0].hash).check(*args)
    with pytest.raises(ChainBroken, match="link"):
        ChainCheck(last_seq=1, last_hash="f" * 64).check(e.seq, e.envelope, e.prev_hash, e.hash)
