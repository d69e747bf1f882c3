"""The lessons table of the state DB: its schema, the migrations of rows written by older
versions, and how a stored row reads back as a `Lesson` (`rara.research.memory` ranks and
recalls them)."""

from __future__ import annotations

import sqlite3
from typing import Any

from rara.domain.gate import HOLDOUT_CHECKS
from rara.research.models import PASSED_CHECKS, Lesson, gate_check_of, learnable_failure

FTS_COLUMNS = ("hypothesis", "family", "insight", "failed_check", "outcome")

# stored columns, in SELECT order; the last three came with structured lessons (see _MIGRATIONS)
FIELDS = (
    "experiment_id",
    "run_id",
    "hypothesis",
    "family",
    "symbol",
    "timeframe",
    "regime",
    "outcome",
    "failed_check",
    "validation_sharpe",
    "insight",
    "created_at",
    "iteration",
    "failure",
    "validation_trades",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lessons (
    id INTEGER PRIMARY KEY,
    experiment_id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    hypothesis TEXT NOT NULL,
    family TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    regime TEXT NOT NULL,
    outcome TEXT NOT NULL,
    failed_check TEXT,
    validation_sharpe REAL,
    insight TEXT NOT NULL,
    created_at TEXT NOT NULL,
    iteration INTEGER,
    failure TEXT,
    validation_trades INTEGER
);
CREATE INDEX IF NOT EXISTS lessons_market ON lessons (timeframe, symbol);
CREATE TRIGGER IF NOT EXISTS lessons_no_update BEFORE UPDATE ON lessons
BEGIN SELECT RAISE(ABORT, 'lessons are append-only'); END;
CREATE TRIGGER IF NOT EXISTS lessons_no_delete BEFORE DELETE ON lessons
BEGIN SELECT RAISE(ABORT, 'lessons are append-only'); END;
"""

# Columns added since the table was first shipped. A database written before them is migrated by
# adding them (NULL in its rows); reading such a row derives what it can (see `_lesson`).
_MIGRATIONS = (
    ("iteration", "INTEGER"),
    ("failure", "TEXT"),
    ("validation_trades", "INTEGER"),
)
# A lesson's iteration. Rows written before the column have NULL there; their experiment id is
# "<run id>-<iteration>" (the only format ever written), so the number is read back from it.
ITERATION_SQL = (
    "coalesce({t}iteration, CAST(substr({t}experiment_id, length({t}run_id) + 2) AS INTEGER))"
)

# Lessons that still hold the decision taken on the holdout, from before lessons had their own
# outcome vocabulary (`rara.research.models.LearnableOutcome`): a promotion, or a rejection whose
# first failure was a holdout check (its name in a row from before structured lessons; in a row
# since, a rejection with no learnable failure, which only the holdout gives). Every check before
# the holdout passed for each of them: they become "passed_checks".
_HOLDOUT_NAMES = ", ".join(f"'{n}'" for n in sorted(HOLDOUT_CHECKS))
_DECIDED_ON_HOLDOUT = (
    "outcome = 'paper_candidate' OR (outcome = 'rejected' AND ("
    f"(iteration IS NULL AND failed_check IN ({_HOLDOUT_NAMES})) OR "
    "(iteration IS NOT NULL AND failed_check IS NULL AND failure IS NULL)))"
)

# External-content FTS: the index reads text from `lessons`, which never changes, so an insert
# trigger is the only upkeep it needs.
_FTS_SCHEMA = f"""
CREATE VIRTUAL TABLE IF NOT EXISTS lessons_fts USING fts5(
    {", ".join(FTS_COLUMNS)}, content='lessons', content_rowid='id'
);
CREATE TRIGGER IF NOT EXISTS lessons_fts_insert AFTER INSERT ON lessons BEGIN
    INSERT INTO lessons_fts (rowid, {", ".join(FTS_COLUMNS)})
    VALUES (new.id, {", ".join("new." + c for c in FTS_COLUMNS)});
END;
"""


def fts5_available() -> bool:
    """Whether this Python's SQLite was built with FTS5."""
    try:
        con = sqlite3.connect(":memory:")
        try:
            con.execute("CREATE VIRTUAL TABLE probe USING fts5(x)")
        finally:
            con.close()
    except sqlite3.Error:
        return False
    return True


def migrate(conn: sqlite3.Connection, fts_enabled: bool) -> None:
    """Create the lessons table (and its FTS5 index when `fts_enabled`) or bring one written by an
    older version up to date, in one write transaction."""
    conn.execute("BEGIN IMMEDIATE")  # one process creates the schema; others wait, then see it
    try:
        # statement by statement: executescript() would COMMIT our transaction first
        for stmt in _split(_SCHEMA):
            conn.execute(stmt)
        have = {row[1] for row in conn.execute("PRAGMA table_info(lessons)")}
        added = [col for col, kind in _MIGRATIONS if col not in have]
        for column, kind in _MIGRATIONS:
            if column in added:
                conn.execute(f"ALTER TABLE lessons ADD COLUMN {column} {kind}")
        if "validation_trades" in added:
            _backfill_trades(conn)
        relabelled = _forget_holdout_decisions(conn)
        indexed = (
            conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'lessons_fts'").fetchone()
            is not None
        )
        if fts_enabled:
            for stmt in _split(_FTS_SCHEMA):
                conn.execute(stmt)
        # lessons written by a process without FTS5, or outcomes just relabelled: the index
        # reads its text from `lessons`, so it is rebuilt from there
        if (fts_enabled and not indexed) or (relabelled and indexed and fts5_available()):
            conn.execute("INSERT INTO lessons_fts (lessons_fts) VALUES ('rebuild')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _backfill_trades(c: sqlite3.Connection) -> None:
    """Once, when the column is added: old lessons' validation trade counts from their experiment
    rows in the same database (the built-in proposer steers on them; before the column it parsed
    them out of the insight text). The append-only guard is lifted for this one UPDATE of a new,
    empty column, inside the schema transaction, and put back."""
    if c.execute("SELECT 1 FROM sqlite_master WHERE name = 'experiments'").fetchone() is None:
        return  # a lessons-only database: nothing to take the counts from
    c.execute("DROP TRIGGER IF EXISTS lessons_no_update")
    c.execute(
        "UPDATE lessons SET validation_trades = (SELECT e.validation_trades FROM experiments AS e "
        "WHERE e.experiment_id = lessons.experiment_id)"
    )
    for stmt in _split(_SCHEMA):
        if "lessons_no_update" in stmt:
            c.execute(stmt)


def _forget_holdout_decisions(c: sqlite3.Connection) -> int:
    """Relabel the lessons that still say how the holdout decided (`_DECIDED_ON_HOLDOUT`) as
    ``passed_checks``; how many. Like `_backfill_trades`: the append-only guard is lifted for this
    one UPDATE of the outcome column, inside the schema transaction, and put back; a database
    with nothing to relabel is not touched."""
    if c.execute(f"SELECT 1 FROM lessons WHERE {_DECIDED_ON_HOLDOUT} LIMIT 1").fetchone() is None:
        return 0
    c.execute("DROP TRIGGER IF EXISTS lessons_no_update")
    n = c.execute(
        f"UPDATE lessons SET outcome = ? WHERE {_DECIDED_ON_HOLDOUT}", (PASSED_CHECKS,)
    ).rowcount
    for stmt in _split(_SCHEMA):
        if "lessons_no_update" in stmt:
            c.execute(stmt)
    return int(n)


def columns(table: str) -> str:
    """SQL: the stored fields in `FIELDS` order (the iteration derived where it is NULL), then
    whether the row predates structured lessons (every row since has its iteration)."""
    fields = [ITERATION_SQL.format(t=table) if f == "iteration" else table + f for f in FIELDS]
    return ", ".join([*fields, f"{table}iteration IS NULL"])


def visible(table: str) -> str:
    """SQL: the row is not one of the hidden run's lessons from the hidden iteration on (an
    integer comparison: iteration 10000 comes after 9999, whatever the ids' text order)."""
    iteration = ITERATION_SQL.format(t=table)
    return f"NOT ({table}run_id = :hide_run AND {iteration} >= :hide_from)"


def _split(script: str) -> list[str]:
    """Statements of a schema script; trigger bodies hold ';' so split on the END that closes
    them rather than on every semicolon."""
    out: list[str] = []
    buf: list[str] = []
    for part in script.split(";"):
        buf.append(part)
        stmt = ";".join(buf).strip()
        if not stmt:
            buf = []
            continue
        if stmt.upper().startswith("CREATE TRIGGER") and not stmt.upper().endswith("END"):
            continue
        out.append(stmt)
        buf = []
    return out


def lesson_from_row(row: tuple[Any, ...]) -> Lesson:
    """A stored row as a lesson. A row from before structured lessons has the loop's reason word
    (e.g. ``sandbox.lint_failed``) in ``failed_check`` and nothing in the new columns: the reason
    becomes ``failure`` and its gate check ``failed_check`` (its iteration: see `columns`)."""
    d = dict(zip(FIELDS, row[: len(FIELDS)], strict=True))
    if row[len(FIELDS)]:
        d["failure"] = learnable_failure(d["failed_check"])
        d["failed_check"] = gate_check_of(d["failed_check"])
    return Lesson(**d)
