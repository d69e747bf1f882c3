"""Walking the hash chain: recompute every hash, check every link and that seqs are contiguous."""

from __future__ import annotations

import contextlib
import sqlite3

from rara.events.model import GENESIS_HASH, VerifyReport, chain_hash, envelope_json
from rara.events.schema import COLUMNS, TRIGGERS


def walk_chain(conn: sqlite3.Connection) -> VerifyReport:
    """The report for the log behind `conn`; a damaged file is reported, never raised."""
    checked = 0
    expected = 1
    prev = GENESIS_HASH

    def bad(seq: int | None, problem: str, reason: str) -> VerifyReport:
        return VerifyReport(
            ok=False,
            events_checked=checked,
            first_bad_seq=seq,
            reason=reason,
            problem=problem,
            last_seq=expected - 1,
            head_hash=prev,
        )

    try:
        conn.execute("BEGIN")  # one read snapshot for the whole walk
        try:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "events" not in names:
                return VerifyReport(ok=True, events_checked=0)
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
                    prev = h
                    expected += 1
                    checked += 1
            missing = [t for t in TRIGGERS if t not in names]
            if missing:
                return bad(
                    None,
                    "triggers_missing",
                    f"append-only trigger(s) dropped: {', '.join(missing)}",
                )
        finally:
            conn.execute("COMMIT")
    except (sqlite3.Error, UnicodeError) as exc:  # UnicodeError: bytes edited into bad UTF-8
        with contextlib.suppress(sqlite3.Error):  # the connection may be unusable by now
            conn.execute("ROLLBACK")
        return bad(expected, "sqlite_error", f"SQLite cannot read the event log: {exc}")
    return VerifyReport(ok=True, events_checked=checked, last_seq=checked, head_hash=prev)
