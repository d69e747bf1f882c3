"""Tampering below SQL: bytes edited in the file, rows removed, pages wrecked, triggers dropped."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from rara.errors import RaraError
from rara.events import EventStore, verify_path
from tests.events.payloads import draft

MARKER = b"MARKER-57-qwertyuiop"


def _fill(db: Path, n: int = 100) -> None:
    with EventStore(db) as s:
        s.append_many(
            draft(
                {
                    "type": "trading_order_filled",
                    "payload": {"note": MARKER.decode() if i == 57 else f"note {i}", "i": i},
                    "source": "test",
                }
            )
            for i in range(1, n + 1)
        )
    _checkpoint(db)


def _checkpoint(db: Path) -> None:
    """Move every WAL page into the main file, so editing the file edits the data."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def test_byte_edited_in_file_names_the_seq(db_path: Path, cli: Callable) -> None:
    _fill(db_path)
    data = bytearray(db_path.read_bytes())
    assert data.count(MARKER) == 1
    at = data.index(MARKER) + len(b"MARKER-57-")
    data[at] = ord("Q")  # one character: 'q' -> 'Q'
    db_path.write_bytes(bytes(data))

    report = verify_path(db_path)
    assert not report.ok
    assert report.first_bad_seq == 57 and report.problem == "hash_mismatch"
    assert report.events_checked == 56
    with EventStore(db_path) as s:  # the store's own verify() says the same
        assert s.verify().first_bad_seq == 57

    r = cli("events", "verify")
    assert r.code == 3, r.stdout + r.stderr
    assert r.error["code"] == "event_chain_broken"
    assert "seq 57" in r.error["message"]
    assert r.json["report"]["first_bad_seq"] == 57
    assert "Traceback" not in r.stderr


def test_removed_row_is_a_gap(db_path: Path) -> None:
    _fill(db_path)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_delete")  # what an attacker with the file can do
    conn.execute("DELETE FROM events WHERE seq = 57")
    conn.close()
    report = verify_path(db_path)
    assert not report.ok and report.first_bad_seq == 57 and report.problem == "seq_gap"
    EventStore(db_path).close()  # reopening restores the trigger; the gap stays
    report = verify_path(db_path)
    assert report.first_bad_seq == 57 and report.problem == "seq_gap"


def test_dropped_trigger_is_reported(db_path: Path, cli: Callable) -> None:
    _fill(db_path, 10)
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.close()
    report = verify_path(db_path)
    assert not report.ok and report.problem == "triggers_missing"
    assert report.events_checked == 10
    r = cli("events", "verify")
    assert r.code == 3 and r.error["code"] == "event_chain_broken"


def test_rewritten_hash_breaks_the_next_link(db_path: Path) -> None:
    _fill(db_path, 10)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute('UPDATE events SET payload = \'{"i":5,"note":"forged"}\' WHERE seq = 5')
    conn.close()
    assert verify_path(db_path).first_bad_seq == 5


def test_malformed_file_is_reported_not_raised(db_path: Path, cli: Callable) -> None:
    _fill(db_path, 2000)
    data = bytearray(db_path.read_bytes())
    page = 4096
    assert len(data) > 12 * page
    data[page : 12 * page] = b"\xa5" * (11 * page)  # b-tree pages after the header page
    db_path.write_bytes(bytes(data))

    report = verify_path(db_path)
    assert not report.ok and report.problem == "sqlite_error"
    assert "SQLite" in (report.reason or "")

    r = cli("events", "verify")
    assert r.code == 3, r.stdout + r.stderr
    assert r.error["code"] == "event_store_damaged"
    assert "Traceback" not in r.stderr + r.stdout

    r = cli("events", "query")
    assert r.code == 1 and r.error["code"].startswith("event_")


def test_file_that_is_not_a_database(db_path: Path, cli: Callable) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not sqlite at all\n" * 500)
    report = verify_path(db_path)
    assert not report.ok and report.problem == "sqlite_error"
    with pytest.raises(RaraError):
        EventStore(db_path)
    r = cli("events", "verify")
    assert r.code == 3 and r.error["code"] == "event_store_damaged"
    hold = '{"strategy_id": "st_1", "stage": "paper", "reason": "too few trades yet"}'
    r = cli("events", "append", "--type", "feedback_strategy_hold", "--payload", hold)
    assert r.code == 1 and "error" in r.json
