"""The persistent, hash-chained, append-only event log in the state DB (`Home.state_db`).

SQLite in WAL mode lets one writer and many readers (in any process) work at once; appends take
the write lock up front (BEGIN IMMEDIATE) and read the chain head inside that transaction, so
writers in different processes serialise and the chain never forks. Triggers refuse UPDATE and
DELETE, and refuse any INSERT that does not extend the chain at its head, so even a raw sqlite3
connection cannot rewrite history through SQL; editing the file itself is caught by verify(),
and deleting the newest events by the head's anchor file (`rara.events.anchor`), rewritten after
every append batch.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rara.closing import Closing
from rara.domain.events import EventPayload
from rara.errors import BadInput, RaraError
from rara.events.anchor import AnchorUnreadable, anchor_path, read_anchor
from rara.events.chain import Clock, append_prepared, appending, utcnow
from rara.events.filter import EVERYTHING, EventFilter
from rara.events.model import (
    GENESIS_HASH,
    ChainedEvent,
    Event,
    EventDraft,
    Prepared,
    VerifyReport,
    check_text,
    envelope_json,
    format_ts,
    prepare_draft,
)
from rara.events.schema import COLUMNS, Row, ensure_schema
from rara.events.verify import verify_log
from rara.state import DEFAULT_BUSY_TIMEOUT_MS, connect, is_read_only_fault, read_only_home


def _store_error(action: str, exc: sqlite3.Error | OSError, path: Path) -> RaraError:
    if is_read_only_fault(exc, path):  # an environment fault, not a damaged log
        return read_only_home(path.parent, action)
    text = str(exc)
    if "locked" in text or "busy" in text:
        return RaraError(
            "event_store_busy",
            f"{action}: {text}",
            "another process held the database longer than the busy timeout; retry",
        )
    return RaraError(
        "event_store_error",
        f"{action}: {type(exc).__name__}: {text}",
        "run `rara events verify` to check the event log",
    )


class EventStore(Closing):
    """One connection to the event log. Thread-safe; use one store per process or thread group.

    ``clock`` returns an aware datetime; tests and replays inject a fixed one so the same inputs
    give the same chain (ids default to a function of (prev_hash, seq), so they repeat too).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        readonly: bool = False,
    ) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._clock: Clock = clock or utcnow
        self._lock = threading.RLock()
        try:
            conn = connect(self.path, readonly=readonly, busy_timeout_ms=busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:  # OSError: the home's directory cannot be made
            raise _store_error(f"cannot open {self.path}", exc, self.path) from exc
        self._conn = conn
        try:
            if not readonly:
                ensure_schema(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise _store_error(f"cannot open the event log at {self.path}", exc, self.path) from exc

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _has_events_table(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'"
        ).fetchone()
        return row is not None

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise _store_error(action, exc, self.path) from exc

    # -- writing -----------------------------------------------------------------------------

    def append(
        self,
        payload: EventPayload,
        *,
        source: str,
        correlation_id: str | None = None,
        strategy_id: str | None = None,
        event_id: str | None = None,
    ) -> Event:
        """Append one event; its type is the payload model's ``event_type``."""
        draft = EventDraft(
            payload=payload,
            source=source,
            correlation_id=correlation_id,
            strategy_id=strategy_id,
            event_id=event_id,
        )
        return self.append_many([draft])[0]

    def append_many(self, drafts: Iterable[EventDraft]) -> list[Event]:
        """Append every draft in one transaction: all are written, or none."""
        # Validate and serialise everything before taking the write lock: a bad draft costs
        # other writers nothing, and nothing is written.
        prepared: list[Prepared] = []
        explicit_ids: set[str] = set()
        for raw in drafts:
            p = prepare_draft(raw)
            eid = p[5]
            if eid is not None:
                if eid in explicit_ids:
                    raise BadInput("event_duplicate_id", f"event_id {eid!r} appears twice")
                explicit_ids.add(eid)
            prepared.append(p)
        if not prepared:
            return []
        envelopes: list[str] = []

        def append() -> list[Row]:
            rows, envs = append_prepared(self._conn, self.path, prepared, explicit_ids, self._clock)
            envelopes.extend(envs)
            return rows

        with self._lock, self._errors("appending events"):
            rows = appending(self._conn, self.path, append)
        return [_event_from(env, row[8], row[9]) for env, row in zip(envelopes, rows, strict=True)]

    # -- reading -----------------------------------------------------------------------------

    def query(
        self,
        where: EventFilter = EVERYTHING,
        *,
        after_seq: int | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events matching `where`, in seq order; ``after_seq`` is exclusive."""
        if limit is not None and int(limit) < 1:
            raise BadInput("event_bad_limit", f"limit must be at least 1, got {limit}")
        return [_to_event(r) for r in self._rows(where, after_seq, limit)]

    def _rows(
        self,
        where: EventFilter,
        after_seq: int | None,
        limit: int | None,
        upto_seq: int | None = None,
    ) -> list[tuple[Any, ...]]:
        """The stored rows (`COLUMNS`) matching `where` after `after_seq` (and up to `upto_seq`
        when given), in seq order."""
        conds, args = where.where()
        if after_seq is not None:
            conds.append("seq > ?")
            args.append(int(after_seq))
        if upto_seq is not None:
            conds.append("seq <= ?")
            args.append(int(upto_seq))
        sql = f"SELECT {COLUMNS} FROM events"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock, self._errors("reading events"):
            if self.readonly and not self._has_events_table():
                return []
            rows: list[tuple[Any, ...]] = self._conn.execute(sql, args).fetchall()
        return rows

    def query_chained(
        self,
        where: EventFilter = EVERYTHING,
        *,
        after_seq: int | None = None,
        limit: int | None = None,
        upto_seq: int | None = None,
    ) -> list[ChainedEvent]:
        """Like query(), but each event as the chain holds it: the canonical envelope text it
        hashes, byte for byte, and its hashes, unparsed (what a remote reader re-verifies).
        ``upto_seq`` (inclusive) bounds the read at a head already reached, so the answer is
        the same whenever it is asked (what lets the server share it between streams)."""
        limit = None if limit is None else max(1, int(limit))
        rows = self._rows(where, after_seq, limit, upto_seq)
        return [
            ChainedEvent(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                envelope_json(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]),
                r[8],
                r[9],
            )
            for r in rows
        ]

    def iter_query(
        self,
        where: EventFilter = EVERYTHING,
        *,
        after_seq: int | None = None,
        limit: int | None = None,
        chunk: int = 1000,
    ) -> Iterator[Event]:
        """Like query() but pages through the log, so a long log never sits in memory."""
        cursor = after_seq
        left = limit
        while left is None or left > 0:
            n = chunk if left is None else min(chunk, left)
            page = self.query(where, after_seq=cursor, limit=n)
            yield from page
            if len(page) < n:
                return
            cursor = page[-1].seq
            if left is not None:
                left -= len(page)

    def has_event(self, event_id: str) -> bool:
        """Whether an event with this id is stored: lets a resumed producer publish each of its
        deterministic ids exactly once."""
        with self._lock, self._errors("read the event log"):
            if not self._has_events_table():
                return False
            row = self._conn.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,))
            return row.fetchone() is not None

    def get(self, seq: int) -> Event | None:
        found = self.query(after_seq=seq - 1, limit=1)
        return found[0] if found and found[0].seq == seq else None

    def head(self) -> tuple[int, str]:
        """(last seq, its hash); (0, 64 zeros) for an empty log."""
        with self._lock, self._errors("reading the chain head"):
            if self.readonly and not self._has_events_table():
                return 0, GENESIS_HASH
            row = self._conn.execute(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    def last_seq(self) -> int:
        return self.head()[0]

    # -- consumer offsets (bookkeeping for the bus) ------------------------------------------

    def ack(self, consumer: str, seq: int) -> None:
        """Record that `consumer` has handled everything up to `seq`; offsets only move forward."""
        check_text("consumer", consumer, optional=False)
        last = self.last_seq()
        if not 0 <= seq <= last:
            raise BadInput("event_bad_ack", f"cannot ack seq {seq}: the log holds seqs 1..{last}")
        # Wall clock on purpose: offsets are not part of the chain and must not consume ticks of
        # an injected deterministic clock.
        now = format_ts(utcnow())
        with self._lock, self._errors("saving a consumer offset"):
            self._conn.execute(
                "INSERT INTO consumer_offsets (consumer, seq, updated_ts) VALUES (?, ?, ?) "
                "ON CONFLICT(consumer) DO UPDATE SET seq = max(seq, excluded.seq), "
                "updated_ts = excluded.updated_ts",
                (consumer, int(seq), now),
            )

    def reset_offset(self, consumer: str, seq: int = 0) -> None:
        """Move a consumer's offset anywhere, backwards included, to replay on purpose."""
        check_text("consumer", consumer, optional=False)
        with self._lock, self._errors("resetting a consumer offset"):
            self._conn.execute(
                "INSERT OR REPLACE INTO consumer_offsets (consumer, seq, updated_ts) "
                "VALUES (?, ?, ?)",
                (consumer, max(0, int(seq)), format_ts(utcnow())),
            )

    def offset(self, consumer: str) -> int:
        """The last seq `consumer` acked, 0 if it never did."""
        with self._lock, self._errors("reading a consumer offset"):
            row = self._conn.execute(
                "SELECT seq FROM consumer_offsets WHERE consumer = ?", (consumer,)
            ).fetchone()
        return int(row[0]) if row else 0

    def offsets(self) -> dict[str, int]:
        with self._lock, self._errors("reading consumer offsets"):
            rows = self._conn.execute("SELECT consumer, seq FROM consumer_offsets").fetchall()
        return {str(c): int(s) for c, s in rows}

    # -- health and verification ---------------------------------------------------------

    def health(self, quick_check: bool = True) -> dict[str, Any]:
        """Is the database usable: WAL on, SQLite's own page check, counts. Never raises."""
        info: dict[str, Any] = {"path": str(self.path), "readonly": self.readonly}
        try:
            with self._lock:
                conn = self._conn
                info["journal_mode"] = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
                info["events"] = self.last_seq()
                info["consumers"] = len(self.offsets()) if not self.readonly else None
                problems = ["not in WAL mode"] if info["journal_mode"] != "wal" else []
                if quick_check:  # reads every page: seconds on a large file, so optional
                    rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
                    info["quick_check"] = rows[0] if rows == ["ok"] else rows[:5]
                    if rows != ["ok"]:
                        problems.append("quick_check: " + "; ".join(rows[:3]))
        except (sqlite3.Error, RaraError) as exc:
            problems = [str(exc)]
        info["ok"] = not problems
        info["detail"] = (
            f"{self.path}: {info.get('journal_mode')} mode, {info.get('events')} events"
            if not problems
            else f"{self.path}: " + "; ".join(problems)
        )
        return info

    def verify(self) -> VerifyReport:
        """Walk the chain in seq order; never raises for a damaged file, reports it instead."""
        with self._lock:
            return verify_log(self._conn, self.path)


def _event_from(envelope: str, prev_hash: str, hash_: str) -> Event:
    # One JSON document parsed by pydantic-core is about twice as fast as json.loads on the
    # payload plus model_validate on a dict (and 3x model_construct): reads and appends both
    # return Events, so this is on every hot path.
    doc = f'{envelope[:-1]},"prev_hash":"{prev_hash}","hash":"{hash_}"}}'
    return Event.model_validate_json(doc)


def _to_event(r: Sequence[Any]) -> Event:
    try:
        env = envelope_json(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
        return _event_from(env, _json_text(r[8]), _json_text(r[9]))
    except (TypeError, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise RaraError(
            "event_row_corrupt",
            f"event seq {r[0]} cannot be read: {exc}",
            "run `rara events verify`",
        ) from exc


def _json_text(v: object) -> str:
    """A hash column as it may sit inside a JSON string; anything odd is a corrupt row."""
    if not isinstance(v, str) or not v.isalnum():
        raise ValueError(f"hash column {v!r} is not hex text")
    return v


def open_event_store(
    path: Path | str, *, clock: Clock | None = None, readonly: bool = False
) -> EventStore:
    """The event store in the state DB at `path` (`Home.state_db`)."""
    return EventStore(path, clock=clock, readonly=readonly)


def verify_path(path: Path | str) -> VerifyReport:
    """Verify the log in a file without creating or changing it; a missing file is intact."""
    p = Path(path)
    if not p.exists():  # no log: intact, unless its anchor says it had events
        try:
            anchor = read_anchor(p)
        except AnchorUnreadable as exc:
            return VerifyReport(
                ok=False, events_checked=0, problem="anchor_unreadable", reason=str(exc)
            )
        if anchor is None or anchor.seq == 0:
            return VerifyReport(ok=True, events_checked=0)
        return VerifyReport(
            ok=False,
            events_checked=0,
            problem="tail_truncated",
            reason=f"{p} is gone but its anchor {anchor_path(p)} records seq {anchor.seq}: "
            f"events 1..{anchor.seq} were deleted",
            anchor_seq=anchor.seq,
        )
    try:
        store = EventStore(p, readonly=True)
    except RaraError as exc:
        if exc.code == "read_only_home":  # the environment, not the log: say so, never "damaged"
            raise
        return VerifyReport(
            ok=False,
            events_checked=0,
            first_bad_seq=None,
            reason=exc.message,
            problem="sqlite_error",
        )
    try:
        return store.verify()
    finally:
        store.close()
