"""DDL of the event log: the chain table, its append-only triggers and consumer offsets."""

from __future__ import annotations

import sqlite3

from rara.events.model import GENESIS_HASH

COLUMNS = "seq, event_id, type, ts, source, correlation_id, strategy_id, payload, prev_hash, hash"
Row = tuple[int, str, str, str, str, str | None, str | None, str, str, str]

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    ts TEXT NOT NULL,
    source TEXT NOT NULL,
    correlation_id TEXT,
    strategy_id TEXT,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type_idx ON events(type);
CREATE INDEX IF NOT EXISTS events_correlation_idx ON events(correlation_id);
CREATE INDEX IF NOT EXISTS events_ts_idx ON events(ts);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
-- INSERT OR REPLACE would delete a row without firing the DELETE trigger, so inserts must
-- extend the chain at its head, with a fresh event_id.
CREATE TRIGGER IF NOT EXISTS events_insert_at_head BEFORE INSERT ON events
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM events)
  OR NEW.prev_hash IS NOT coalesce(
       (SELECT hash FROM events ORDER BY seq DESC LIMIT 1), '{GENESIS_HASH}')
  OR EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
BEGIN SELECT RAISE(ABORT, 'events are append-only: an insert must extend the chain head'); END;
-- Set once, by the first append that finds the anchor file (rara.events.anchor) in place: from
-- then on a missing anchor file means a deleted one.
CREATE TABLE IF NOT EXISTS chain_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    since_seq INTEGER NOT NULL
);
-- Bookkeeping, not history: consumers move their offsets, so this table is mutable.
CREATE TABLE IF NOT EXISTS consumer_offsets (
    consumer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    updated_ts TEXT NOT NULL
);
"""
TRIGGERS = ("events_no_update", "events_no_delete", "events_insert_at_head")


def split_sql(script: str) -> list[str]:
    """The statements of a script; triggers hold inner ';', so ask SQLite where each ends."""
    out: list[str] = []
    buf: list[str] = []
    for line in script.strip().splitlines():
        if line.startswith("--"):
            continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            out.append(text)
            buf = []
    return out


def has_schema(conn: sqlite3.Connection) -> bool:
    wanted = ("events", "consumer_offsets", "chain_anchor", *TRIGGERS)
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(f"SELECT name FROM sqlite_master WHERE name IN ({marks})", wanted)
    return len({r[0] for r in rows}) == len(wanted)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create what is missing, in one write transaction (several processes may open at once)."""
    if has_schema(conn):  # the common case takes no write lock, so readers never wait here
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for stmt in split_sql(SCHEMA):
            conn.execute(stmt)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (I/O errors, full disk)
            conn.execute("ROLLBACK")
        raise
