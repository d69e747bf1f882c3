"""Appending to the chain on a connection already inside a write transaction.

`EventStore.append_many` uses it, and so do the stores whose rows must be sealed in the same
transaction as the event that seals them (`rara.events.seal`): a row and its seal are written
together or not at all, whichever connection to the state DB writes them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rara.errors import BadInput
from rara.events.anchor import anchor_after_commit, mark_anchored
from rara.events.model import (
    GENESIS_HASH,
    Prepared,
    chain_hash,
    default_event_id,
    envelope_json,
    format_ts,
)
from rara.events.schema import COLUMNS, Row
from rara.events.wake import bell_key, ring

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The default clock of appends."""
    return datetime.now(UTC)


def appending(conn: sqlite3.Connection, db: Path, work: Callable[[], list[Row]]) -> list[Row]:
    """Run `work` (inserts that extend the chain through `append_prepared`, returning its rows)
    in one write transaction, then anchor the new head. BEGIN IMMEDIATE takes the write lock up
    front, so writers in every process serialise and the head read inside `work` stays the
    head."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = work()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (I/O, full disk)
            conn.execute("ROLLBACK")
        raise
    anchor_head(db, rows)
    if rows:  # readers in this process wake now, not at their next poll
        ring(bell_key(db), rows[-1][0])
    return rows


def append_prepared(
    conn: sqlite3.Connection,
    db: Path,
    prepared: list[Prepared],
    explicit_ids: set[str],
    clock: Clock,
) -> tuple[list[Row], list[str]]:
    """Number, hash and insert the drafts at the head read inside the caller's transaction.

    Returns the rows and each envelope's JSON (which the store reuses to build its Events).
    Called inside `appending`, which commits and anchors.
    """
    if explicit_ids:
        ids = list(explicit_ids)
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i : i + 500]
            hit = conn.execute(
                f"SELECT event_id FROM events WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchone()
            if hit:
                raise BadInput(
                    "event_duplicate_id",
                    f"event_id {hit[0]!r} is already in the log",
                    "omit event_id to get a fresh one, or treat the event as already sent",
                )
    head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
    rows: list[Row] = []
    envelopes: list[str] = []
    for type_, payload, source, cid, sid, eid in prepared:
        seq += 1
        # The clock is read under the write lock, so ts order follows seq order.
        ts = format_ts(clock())
        event_id = eid if eid is not None else default_event_id(prev, seq)
        env = envelope_json(seq, event_id, type_, ts, source, cid, sid, payload)
        h = chain_hash(prev, env)
        rows.append((seq, event_id, type_, ts, source, cid, sid, payload, prev, h))
        envelopes.append(env)
        prev = h
    conn.executemany(f"INSERT INTO events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    mark_anchored(conn, db)
    return rows, envelopes


def unsent(conn: sqlite3.Connection, prepared: list[Prepared]) -> list[Prepared]:
    """The drafts whose event id is not in the log yet, read inside the caller's write
    transaction: a writer that re-sends deterministic ids (a resumed run) writes each once."""
    return [
        p
        for p in prepared
        if p[5] is None
        or conn.execute("SELECT 1 FROM events WHERE event_id = ?", (p[5],)).fetchone() is None
    ]


def anchor_head(db: Path, rows: list[Row]) -> None:
    """After the commit: anchor the new head, now or at the end of a deferring scope (see
    `rara.events.anchor`)."""
    if rows:
        anchor_after_commit(db, rows[-1][0], rows[-1][9])
