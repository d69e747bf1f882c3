"""Verifying the log: recompute every hash, check every link and that seqs are contiguous; check
the head against its anchor file (`rara.events.anchor`); re-hash every sealed row of the tables
users read against its seal (`rara.events.seal`). All in one read snapshot."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from rara.events.anchor import Anchor, AnchorUnreadable, anchor_path, anchored_since, read_anchor
from rara.events.model import GENESIS_HASH, VerifyReport, chain_hash, envelope_json
from rara.events.schema import COLUMNS, TRIGGERS
from rara.events.seal import SEAL_TYPE, Seals, check_rows


def verify_log(conn: sqlite3.Connection, db: Path) -> VerifyReport:
    """The report for the log behind `conn` (the state DB at `db`); never raises for damage."""
    # The anchor is read before the snapshot: writers anchor after they commit, so the snapshot
    # reaches at least as far as any anchor read before it.
    try:
        anchor = read_anchor(db)
    except AnchorUnreadable as exc:
        return VerifyReport(
            ok=False, events_checked=0, problem="anchor_unreadable", reason=str(exc)
        )
    seals = Seals()
    try:
        conn.execute("BEGIN")  # one read snapshot for the whole walk
        try:
            report, anchored_hash = _walk(conn, anchor, seals)
            if report.ok:
                report = _check_anchor(conn, db, anchor, anchored_hash, report)
            if report.ok:
                report = check_rows(conn, seals, report)
        finally:
            conn.execute("COMMIT")
    except (sqlite3.Error, UnicodeError) as exc:  # UnicodeError: bytes edited into bad UTF-8
        with contextlib.suppress(sqlite3.Error):  # the connection may be unusable by now
            conn.execute("ROLLBACK")
        return VerifyReport(
            ok=False,
            events_checked=0,
            problem="sqlite_error",
            reason=f"SQLite cannot read the event log: {exc}",
        )
    return report


def _walk(
    conn: sqlite3.Connection, anchor: Anchor | None, seals: Seals
) -> tuple[VerifyReport, str | None]:
    """The chain's report, and the hash of the event at the anchor's seq (None if not reached)."""
    checked = 0
    expected = 1
    prev = GENESIS_HASH
    anchored_hash: str | None = None

    def bad(seq: int | None, problem: str, reason: str) -> tuple[VerifyReport, None]:
        report = VerifyReport(
            ok=False,
            events_checked=checked,
            first_bad_seq=seq,
            reason=reason,
            problem=problem,
            last_seq=expected - 1,
            head_hash=prev,
        )
        return report, None

    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "events" not in names:
            return VerifyReport(ok=True, events_checked=0), None
        cur = conn.execute(f"SELECT {COLUMNS} FROM events ORDER BY seq")
        while rows := cur.fetchmany(2000):
            for seq, eid, typ, ts, src, cid, sid, payload, prev_hash, h in rows:
                if seq != expected:
                    return bad(
                        expected,
                        "seq_gap",
                        f"expected seq {expected}, found {seq}: events are missing",
                    )
                texts = (eid, typ, ts, src, payload, prev_hash, h)
                if not all(isinstance(v, str) for v in texts) or not all(
                    v is None or isinstance(v, str) for v in (cid, sid)
                ):
                    return bad(seq, "bad_row", f"seq {seq} has a column of the wrong type")
                if prev_hash != prev:
                    return bad(
                        seq,
                        "prev_hash_mismatch",
                        f"seq {seq} does not link to the hash of seq {seq - 1}",
                    )
                env = envelope_json(seq, eid, typ, ts, src, cid, sid, payload)
                if chain_hash(prev_hash, env) != h:
                    return bad(
                        seq,
                        "hash_mismatch",
                        f"seq {seq}'s content does not match its hash: it was altered",
                    )
                if typ == SEAL_TYPE:
                    seals.add(seq, payload)
                if anchor is not None and seq == anchor.seq:
                    anchored_hash = h
                prev = h
                expected += 1
                checked += 1
    except (TypeError, ValueError) as exc:  # a seal that hashes right yet cannot be read
        return bad(expected, "bad_row", f"seq {expected} cannot be read: {exc}")
    missing = [t for t in TRIGGERS if t not in names]
    if missing:
        return bad(
            None,
            "triggers_missing",
            f"append-only trigger(s) dropped: {', '.join(missing)}",
        )
    report = VerifyReport(
        ok=True,
        events_checked=checked,
        last_seq=checked,
        head_hash=prev,
        anchor_seq=anchor.seq if anchor is not None else None,
    )
    return report, anchored_hash


def _check_anchor(
    conn: sqlite3.Connection,
    db: Path,
    anchor: Anchor | None,
    anchored_hash: str | None,
    report: VerifyReport,
) -> VerifyReport:
    """A log behind its anchor lost its tail; another hash at the anchored seq means another log;
    a log anchored once whose anchor file is gone had it deleted."""
    where = anchor_path(db)

    def bad(problem: str, reason: str) -> VerifyReport:
        return report.with_changes(ok=False, problem=problem, reason=reason)

    if anchor is None:
        since = anchored_since(conn)
        if since is None:
            # never anchored: a log written before anchoring existed (the next append anchors
            # it), or an empty one
            return report.with_changes(anchor="none")
        with contextlib.suppress(AnchorUnreadable):
            if read_anchor(db) is not None:  # written since we looked: a first anchoring raced us
                return report.with_changes(anchor="none")
        return bad(
            "anchor_missing",
            f"the anchor file {where} is missing, but this log has been anchored since seq "
            f"{since}: it was deleted (or rara.db was copied without it), so deleting the log's "
            "newest events would go unnoticed",
        )
    if anchor.seq > report.last_seq:
        return bad(
            "tail_truncated",
            f"the log ends at seq {report.last_seq} but its anchor {where} records seq "
            f"{anchor.seq}: events {report.last_seq + 1}..{anchor.seq} were deleted",
        )
    if anchor.seq > 0 and anchored_hash != anchor.hash:
        return bad(
            "anchor_mismatch",
            f"seq {anchor.seq} has another hash than its anchor {where} records: the log was "
            "rewritten or replaced",
        )
    return report.with_changes(anchor="checked")
