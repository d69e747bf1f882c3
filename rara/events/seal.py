"""Seals: the rows users read (experiments, trials) are covered by the event log.

Whoever writes such a row writes, in the same SQLite transaction, a ``state_row_recorded`` event
(`rara.domain.events.StateRowRecorded`) holding the row's digest: a sha256 over every column as
SQLite stored it, plus a short digest per column. `rara events verify` re-hashes each row and
compares, so an experiment's outcome or a trial's Sharpe edited in SQLite is reported with its
table, id and column; a sealed row that is gone, a row nobody sealed and a row sealed twice are
reported too. Seals are bookkeeping of the state tables, not part of what a run did: they carry
no correlation id, so a run's hash (`rara.research.trace`) never sees them.

A writer may add the events that go with its rows to the same transaction (the research loop's
``research_experiment_completed`` with the experiment row): one commit instead of two, and the
row and its events exist together or not at all.

A home written before seals existed has rows without any: the first store to open it for writing
seals them as they are (``adopted``), so they are covered from then on; what was edited before
that cannot be told.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from rara.domain.events import StateRowRecorded
from rara.errors import BadInput
from rara.events.chain import append_prepared, appending, unsent, utcnow
from rara.events.model import EventDraft, Prepared, RowProblem, VerifyReport, prepare_draft
from rara.events.schema import Row, ensure_schema
from rara.state import state_db_error

SEAL_TYPE = StateRowRecorded.event_type
SOURCE = "state"
# The sealed tables and the column that names a row in each.
COVERED: dict[str, str] = {"experiments": "experiment_id", "trials": "trial_id"}
_SHORT = 16  # hex digits per column: enough to name the column that changed
_MAX_LISTED = 20  # row problems listed in a report; the count is always exact


def _value_bytes(v: object) -> bytes:
    # typed, so 1, 1.0, "1" and b"1" differ; floats exactly (hex), blobs as they are
    if v is None:
        return b"n"
    if isinstance(v, bool | int):
        return b"i" + str(int(v)).encode()
    if isinstance(v, float):
        return b"f" + v.hex().encode()
    if isinstance(v, str):
        return b"s" + v.encode("utf-8", "surrogatepass")
    if isinstance(v, bytes | bytearray | memoryview):
        return b"b" + bytes(v)
    raise TypeError(f"unexpected SQLite value of type {type(v).__name__}")


def row_digest(columns: Sequence[str], values: Sequence[object]) -> tuple[str, dict[str, str]]:
    """(sha256 of the whole row, short sha256 of each column) for a row as SQLite returns it."""
    full = {
        c: hashlib.sha256(_value_bytes(v)).hexdigest() for c, v in zip(columns, values, strict=True)
    }
    text = "\n".join(f"{c}={full[c]}" for c in sorted(full))
    return hashlib.sha256(text.encode()).hexdigest(), {c: h[:_SHORT] for c, h in full.items()}


def _seal_draft(conn: sqlite3.Connection, table: str, row_id: str, *, adopted: bool) -> Prepared:
    cur = conn.execute(f"SELECT * FROM {table} WHERE {COVERED[table]} = ?", (row_id,))
    row = cur.fetchone()
    if row is None:
        raise KeyError(f"{table} has no row {row_id!r} to seal")
    columns = [d[0] for d in cur.description]
    digest, per_column = row_digest(columns, row)
    seal = StateRowRecorded(
        table=table, row_id=row_id, row_sha256=digest, columns=per_column, adopted=adopted
    )
    return prepare_draft(EventDraft(payload=seal, source=SOURCE))


def _has_seal(conn: sqlite3.Connection, table: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM events WHERE type = ? AND json_extract(payload, '$.table') = ? LIMIT 1",
            (SEAL_TYPE, table),
        ).fetchone()
        is not None
    )


def _seal(
    conn: sqlite3.Connection, db: Path, table: str, ids: list[str], *, adopted: bool
) -> list[Row]:
    """Append a seal of each row `ids` of `table`, inside the caller's write transaction."""
    drafts = [_seal_draft(conn, table, i, adopted=adopted) for i in ids]
    return append_prepared(conn, db, drafts, set(), utcnow)[0] if drafts else []


def sealed_write(
    conn: sqlite3.Connection,
    db: Path,
    table: str,
    write: Callable[[sqlite3.Connection], list[str]],
    events: Sequence[EventDraft] = (),
) -> list[str]:
    """Run `write` (which inserts rows of `table` and returns the ids it inserted) and seal each
    of those rows, in one write transaction: a row and its seal exist together or not at all.
    `events` are appended in that transaction too, before the seals, each unless its event id is
    already in the log (a resumed writer re-sends its deterministic ids). Returns the ids
    sealed."""
    ids: list[str] = []
    # serialised before the write lock is taken, like `EventStore.append_many`
    prepared = [prepare_draft(d) for d in events]
    explicit = [p[5] for p in prepared if p[5] is not None]
    if len(set(explicit)) < len(explicit):
        raise BadInput("event_duplicate_id", "an event_id appears twice among the events")

    def write_and_seal() -> list[Row]:
        ids.extend(write(conn))
        fresh = unsent(conn, prepared)
        rows = append_prepared(conn, db, fresh, set(), utcnow)[0] if fresh else []
        return rows + _seal(conn, db, table, ids, adopted=False)

    appending(conn, db, write_and_seal)
    return ids


def prepare_sealing(conn: sqlite3.Connection, db: Path, table: str, what: str) -> None:
    """At a store's opening: create the event log if needed, and seal the rows of a `table`
    written before seals existed. On failure the connection is closed and the error says what
    could not be opened (`read_only_home` when that is why)."""
    try:
        _adopt(conn, db, table)
    except sqlite3.Error as exc:
        conn.close()
        raise state_db_error(db, f"cannot open {what}", exc) from exc


def _adopt(conn: sqlite3.Connection, db: Path, table: str) -> None:
    """Seal the rows of `table` as they are, while the log holds no seal of that table."""
    ensure_schema(conn)
    if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
        return  # nothing to adopt (the common case of a fresh home: no scan of the log)
    if _has_seal(conn, table):
        return

    def adopt() -> list[Row]:
        if _has_seal(conn, table):  # another process adopted them meanwhile
            return []
        ids = [r[0] for r in conn.execute(f"SELECT {COVERED[table]} FROM {table} ORDER BY seq")]
        return _seal(conn, db, table, ids, adopted=True)

    appending(conn, db, adopt)


class Seals:
    """The seals met while walking the chain: (table, row id) -> (seq, digest, column digests)."""

    def __init__(self) -> None:
        self.by_row: dict[tuple[str, str], tuple[int, str, dict[str, str]]] = {}
        self.tables: set[str] = set()
        self.twice: list[RowProblem] = []

    def add(self, seq: int, payload: str) -> None:
        seal = StateRowRecorded.model_validate_json(payload)
        key = (seal.table, seal.row_id)
        self.tables.add(seal.table)
        if key in self.by_row:  # a second seal would let an edited row be sealed afresh
            self.twice.append(
                RowProblem(
                    table=seal.table,
                    row_id=seal.row_id,
                    problem="row_sealed_twice",
                    seal_seq=seq,
                    columns=[],
                )
            )
            return
        self.by_row[key] = (seq, seal.row_sha256, dict(seal.columns))


def check_rows(conn: sqlite3.Connection, seals: Seals, report: VerifyReport) -> VerifyReport:
    """Re-hash every row of the covered tables against its seal, inside the caller's snapshot."""
    problems: list[RowProblem] = list(seals.twice)
    checked = 0
    not_covered = 0
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, id_col in COVERED.items():
        seen: set[str] = set()
        if table in names:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY seq")
            columns = [d[0] for d in cur.description]
            at = columns.index(id_col)
            while rows := cur.fetchmany(500):
                for row in rows:
                    row_id = str(row[at])
                    seen.add(row_id)
                    seal = seals.by_row.get((table, row_id))
                    if seal is None:
                        if table in seals.tables:
                            problems.append(
                                RowProblem(table=table, row_id=row_id, problem="row_unsealed")
                            )
                        else:
                            not_covered += 1  # written before seals, never opened since
                        continue
                    checked += 1
                    seq, digest, per_column = seal
                    got, got_columns = row_digest(columns, row)
                    if got != digest:
                        changed = sorted(
                            c
                            for c in {*got_columns, *per_column}
                            if got_columns.get(c) != per_column.get(c)
                        )
                        problems.append(
                            RowProblem(
                                table=table,
                                row_id=row_id,
                                problem="row_changed",
                                seal_seq=seq,
                                columns=changed,
                            )
                        )
        for (t, row_id), (seq, _, _) in seals.by_row.items():
            if t == table and row_id not in seen:
                problems.append(
                    RowProblem(table=table, row_id=row_id, problem="row_missing", seal_seq=seq)
                )
    update: dict[str, object] = {"rows_checked": checked, "rows_not_covered": not_covered}
    if problems:
        update.update(
            ok=False,
            problem=problems[0].problem,
            reason=f"{len(problems)} row(s) differ from their seals: "
            + "; ".join(p.describe() for p in problems[:3]),
            row_problems=problems[:_MAX_LISTED],
            row_problem_count=len(problems),
        )
    return report.with_changes(**update)
