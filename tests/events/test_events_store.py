"""The store: appending, reading, validation, the hash formula and the append-only triggers."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rara.errors import BadInput, RaraError
from rara.events import GENESIS_HASH, EventFilter, EventStore, canonical_json, verify_path
from rara.events.model import default_event_id
from tests.events.payloads import drafts, make, probe


def _raw(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(db, isolation_level=None)


def test_pragmas_and_schema(store: EventStore, db_path: Path) -> None:
    conn = _raw(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    cols = [r[1] for r in conn.execute("PRAGMA table_info(events)")]
    assert cols == [
        "seq", "event_id", "type", "ts", "source", "correlation_id", "strategy_id",
        "payload", "prev_hash", "hash",
    ]  # fmt: skip
    indexed = {
        conn.execute(f"PRAGMA index_info({name})").fetchone()[2]
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"type", "correlation_id", "ts", "event_id"} <= indexed
    conn.close()


def test_append_and_read_back(store: EventStore) -> None:
    e1 = store.append(
        probe("research_hypothesis_created", {"idea": "momentum", "k": [1, 2]}), source="research"
    )
    e2 = store.append(
        probe("trading_order_filled", {"px": 64000.5, "note": "zwölf 🚀"}),
        source="trading",
        correlation_id="run-1",
        strategy_id="strat-abc",
    )
    assert (e1.seq, e2.seq) == (1, 2)
    assert e1.prev_hash == GENESIS_HASH and e2.prev_hash == e1.hash
    assert e1.ts == "2024-05-01T00:00:00.000000Z" and e2.ts == "2024-05-01T00:00:00.001000Z"
    assert e2.timestamp == datetime(2024, 5, 1, 0, 0, 0, 1000, tzinfo=UTC)
    assert store.query() == [e1, e2]
    assert store.last_seq() == 2 and store.head() == (2, e2.hash)
    assert store.get(2) == e2 and store.get(3) is None
    assert store.verify().ok


def test_query_filters(store: EventStore) -> None:
    for i in range(30):
        store.append(
            probe("trading_order_filled" if i % 3 else "research_experiment_completed", {"i": i}),
            source="t",
            correlation_id=f"run-{i % 2}",
            strategy_id="s1" if i < 10 else None,
        )
    assert [e.seq for e in store.query(EventFilter(types="research_experiment_completed"))] == list(
        range(1, 31, 3)
    )
    assert all(
        e.correlation_id == "run-1" for e in store.query(EventFilter(correlation_id="run-1"))
    )
    assert len(store.query(EventFilter(correlation_id="run-1"))) == 15
    assert len(store.query(EventFilter(strategy_id="s1"))) == 10
    assert [e.seq for e in store.query(after_seq=27)] == [28, 29, 30]
    assert [e.seq for e in store.query(after_seq=5, limit=2)] == [6, 7]
    # the clock steps 1 ms per event from 2024-05-01T00:00:00Z; since is inclusive
    assert store.query(EventFilter(since="2024-05-01T00:00:00.020Z"))[0].seq == 21
    plus_two = timezone(timedelta(hours=2))
    assert (
        store.query(EventFilter(since=datetime(2024, 5, 1, 2, 0, 0, 20_000, tzinfo=plus_two)))[
            0
        ].seq
        == 21
    )
    assert len(store.query(EventFilter(since="2024-05-01"))) == 30
    assert store.query(EventFilter(since="2024-05-02")) == []
    assert (
        len(
            store.query(
                EventFilter(types=["research_experiment_completed", "trading_order_filled"])
            )
        )
        == 30
    )
    assert store.query(EventFilter(types=[])) == []
    assert [e.seq for e in store.iter_query(chunk=7)] == list(range(1, 31))
    assert [e.seq for e in store.iter_query(after_seq=3, limit=9, chunk=4)] == list(range(4, 13))


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"type": "Trading-Order"}, "event_type_invalid"),
        ({"type": ""}, "event_type_invalid"),
        ({"type": "_leading"}, "event_type_invalid"),
        ({"payload": {"x": float("nan")}}, "event_payload_invalid"),
        ({"payload": {"x": float("inf")}}, "event_payload_invalid"),
        ({"payload": {"x": {1, 2}}}, "event_payload_invalid"),
        ({"payload": {"when": datetime(2024, 1, 1)}}, "event_payload_invalid"),
        ({"payload": {"s": "\ud800"}}, "event_payload_invalid"),
        ({"payload": [1, 2]}, "event_payload_invalid"),
        ({"source": ""}, "event_field_invalid"),
        ({"correlation_id": 7}, "event_field_invalid"),
        ({"event_id": ""}, "event_field_invalid"),
    ],
)
def test_bad_input_writes_nothing(store: EventStore, kwargs: dict, code: str) -> None:
    store.append(probe("ok_event", {}), source="t")
    args = {"type": "ok_event", "payload": {}, "source": "t", **kwargs}
    with pytest.raises(BadInput) as info:
        body, type_ = args.pop("payload"), args.pop("type")
        # a non-mapping reaches the store as is, to be refused there
        payload = probe(type_, body) if isinstance(body, dict) else body
        store.append(payload, **args)
    assert info.value.code == code and info.value.message
    assert store.last_seq() == 1


def test_append_many_is_one_transaction(store: EventStore) -> None:
    good = make("a_b", {"i": 1})
    with pytest.raises(BadInput):
        store.append_many([good, good, make("a_b", {"x": float("nan")})])
    assert store.last_seq() == 0
    with pytest.raises(BadInput, match="must be an EventDraft"):
        store.append_many([good, {"type": "a_b", "payload": {"i": 1}, "source": "t"}])  # type: ignore[list-item]
    events = store.append_many([good, make("c_d"), good])
    assert [e.seq for e in events] == [1, 2, 3] and events[1].payload == {}
    assert store.append_many([]) == []
    assert store.query() == events


def test_explicit_event_ids_are_unique(store: EventStore) -> None:
    store.append(probe("a_b", {}), source="t", event_id="order-42-filled")
    with pytest.raises(BadInput) as info:
        store.append(probe("a_b", {}), source="t", event_id="order-42-filled")
    assert info.value.code == "event_duplicate_id"
    with pytest.raises(BadInput):
        store.append_many([make("a_b", event_id="x")] * 2)
    assert store.last_seq() == 1


def test_hash_follows_the_documented_formula(store: EventStore) -> None:
    events = store.append_many(
        drafts(
            [
                {"type": "a_b", "payload": {"z": 1, "a": [1.5, None, "é"]}, "source": "s"},
                {
                    "type": "c_d",
                    "payload": {},
                    "source": "s",
                    "correlation_id": "r",
                    "strategy_id": "x",
                },
            ]
        )
    )
    prev = GENESIS_HASH
    for ev in events:
        envelope = {
            "seq": ev.seq,
            "event_id": ev.event_id,
            "type": ev.type,
            "ts": ev.ts,
            "source": ev.source,
            "correlation_id": ev.correlation_id,
            "strategy_id": ev.strategy_id,
            "payload": ev.payload,
        }
        text = json.dumps(
            envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        assert text == canonical_json(envelope)
        assert ev.prev_hash == prev
        assert ev.hash == hashlib.sha256((prev + text).encode()).hexdigest() == ev.computed_hash()
        assert ev.event_id == default_event_id(prev, ev.seq)
        prev = ev.hash


def test_default_event_ids_are_uuid8_ordered_like_seq(store: EventStore) -> None:
    events = store.append_many([make("a_b")] * 300)
    prev = GENESIS_HASH
    for ev in events:
        u = uuid.UUID(ev.event_id)
        assert str(u) == ev.event_id
        assert (u.version, u.variant) == (8, uuid.RFC_4122)
        assert u.int >> 80 == ev.seq  # the top 48 bits
        digest = hashlib.sha256(f"{prev}:{ev.seq}".encode()).hexdigest()
        assert ev.event_id.replace("-", "")[13:16] == digest[:3]
        prev = ev.hash
    ids = [e.event_id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_naive_clock_is_refused(db_path: Path) -> None:
    with EventStore(db_path, clock=lambda: datetime(2024, 1, 1)) as s:
        with pytest.raises(BadInput, match="time zone"):
            s.append(probe("a_b", {}), source="t")
        assert s.last_seq() == 0


def test_bad_since_and_limit(store: EventStore) -> None:
    with pytest.raises(BadInput) as info:
        EventFilter(since="yesterday")
    assert info.value.code == "event_bad_since"
    with pytest.raises(BadInput):
        store.query(limit=0)
    with pytest.raises(BadInput):
        EventFilter(types="Not A Type")


def test_update_and_delete_are_refused(store: EventStore, db_path: Path) -> None:
    for i in range(5):
        store.append(probe("a_b", {"i": i}), source="t")
    before = _raw(db_path).execute("SELECT * FROM events ORDER BY seq").fetchall()
    conn = _raw(db_path)
    for sql in (
        "UPDATE events SET payload = '{}' WHERE seq = 3",
        "UPDATE events SET hash = 'x'",
        "DELETE FROM events WHERE seq = 3",
        "DELETE FROM events",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    # INSERT OR REPLACE would delete without firing the DELETE trigger; the insert trigger stops it
    row = list(before[2])
    row[7] = '{"i":99}'
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", row)
    forged = [
        6,
        "forged",
        "a_b",
        "2024-01-01T00:00:00.000000Z",
        "t",
        None,
        None,
        "{}",
        "0" * 64,
        "h",
    ]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", forged)  # wrong prev
    forged[1], forged[8] = before[1][1], before[4][9]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?)", forged)  # reused id
    conn.close()
    assert _raw(db_path).execute("SELECT * FROM events ORDER BY seq").fetchall() == before
    assert store.verify().ok


def test_offsets_table_is_mutable_bookkeeping(store: EventStore) -> None:
    for _ in range(3):
        store.append(probe("a_b", {}), source="t")
    assert store.offset("c") == 0
    store.ack("c", 2)
    store.ack("c", 1)  # acks only move forward
    assert store.offset("c") == 2
    store.reset_offset("c", 0)
    assert store.offset("c") == 0 and store.offsets() == {"c": 0}
    with pytest.raises(BadInput):
        store.ack("c", 4)
    assert store.verify().ok


def test_readonly_store_and_missing_file(tmp_path: Path, db_path: Path) -> None:
    assert verify_path(tmp_path / "nope.db").ok
    assert not (tmp_path / "nope.db").exists()
    db_path.parent.mkdir(parents=True)
    sqlite3.connect(db_path).execute("CREATE TABLE other (x)").connection.close()
    with EventStore(db_path, readonly=True) as ro:  # a db made by someone else, no events table
        assert ro.query() == [] and ro.last_seq() == 0 and ro.verify().ok
    with EventStore(db_path) as rw:
        rw.append(probe("a_b", {}), source="t")
    with EventStore(db_path, readonly=True) as ro:
        assert [e.seq for e in ro.query()] == [1]
        with pytest.raises(RaraError):
            ro.append(probe("a_b", {}), source="t")


def test_two_connections_share_one_chain(db_path: Path) -> None:
    a, b = EventStore(db_path), EventStore(db_path)
    for i in range(50):
        (a if i % 3 else b).append(probe("a_b", {"i": i}), source="t")
    assert a.last_seq() == b.last_seq() == 50
    assert a.verify().ok and b.verify().events_checked == 50
    a.close()
    b.close()
