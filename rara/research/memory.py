"""Research memory: one lesson per finished experiment, recalled before later proposals.

Lessons live in the state database (`Home.state_db`), table ``lessons``, append-only
(triggers refuse UPDATE and DELETE, like every record of what happened). Recall is full-text:
an FTS5 index over hypothesis, family, insight, failed check and outcome answers which query words
each lesson contains. When this Python's SQLite lacks FTS5 the store says so (``fts_enabled``
False) and matches substrings instead (like LIKE); filters and boosts are the same. No score
depends on corpus-wide statistics (bm25 would): recall "as of" an iteration must give the same
answer whatever was recorded after it, or a resumed run would propose differently.

Ranking (`LessonStore.recall`), highest first:

1. only lessons of the same timeframe; this symbol's before other symbols' (a tier, not a
   weight: what happened on this market beats anything learned elsewhere);
2. within a tier, ``text + 0.3 * recency + 0.2 * same_regime`` where ``text`` in [0, 1] is the
   share of query words the lesson contains, ``recency`` = 50 / (50 + age) with age the number of
   visible lessons recorded since (so a lesson 50 lessons old counts half), and
   ``same_regime`` 1 when the lesson's market regime equals the one asked for;
3. ties by newest first (insertion order), so recall is deterministic.

Recall costs the same however many lessons the home holds: it scores this market's newest
lessons first (a window of `RECALL_WINDOW`, growing fourfold to `MAX_WINDOW`) and stops when no
older lesson can enter the top k. That is proven from a bound on an older lesson's score: the
share of query words found in any lesson older than the window (one FTS5 seek per word), plus
the regime's full weight, plus the recency of the newest of them, must stay below the k-th score
found. Only when the bound does not decide (or this market has fewer than k lessons, so other
symbols' rank next) is every visible lesson of the timeframe scored, as `recall_all` does; the
answer is the same either way.

The regime tagger (`tag_regime`) labels a candle history with one `Regime`, simply:

- ``high_volatility`` when the annualised volatility of log returns exceeds ``vol_threshold``
  (default 1.0, i.e. 100 % a year: above most large caps' norm, reached by alts in turmoil);
- else ``trend_up`` / ``trend_down`` when the drift z-score (net log return over the window
  divided by sigma * sqrt(bars), i.e. the move in units of what noise alone would produce)
  exceeds ``trend_threshold`` (default 1.0) in either direction;
- else ``range``.
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from rara.closing import Closing
from rara.domain.gate import HOLDOUT_CHECKS
from rara.domain.market import Candles
from rara.research.models import (
    PASSED_CHECKS,
    Lesson,
    Regime,
    gate_check_of,
    learnable_failure,
)
from rara.state import connect

FTS_COLUMNS = ("hypothesis", "family", "insight", "failed_check", "outcome")
RECENCY_HALF = 50.0
W_RECENCY = 0.3
W_REGIME = 0.2
MAX_QUERY_TERMS = 32
RECALL_WINDOW = 64  # newest lessons of the market scored first (`LessonStore.recall`)
MAX_WINDOW = 4096  # beyond this many, every visible lesson is scored
BOUND_MARGIN = 1e-9  # far above the rounding of a score, far below any real gap between two

# stored columns, in SELECT order; the last three came with structured lessons (see _MIGRATIONS)
_FIELDS = (
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
_ITERATION_SQL = (
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


def query_terms(text: str) -> list[str]:
    """Lower-case words of the query, deduplicated in order (what FTS5's tokenizer would see)."""
    seen: dict[str, None] = {}
    for w in re.findall(r"[0-9a-z]+", text.lower()):
        seen.setdefault(w, None)
    return list(seen)[:MAX_QUERY_TERMS]


class LessonStore(Closing):
    """Append-only lessons in the state DB at `path` (`Home.state_db`) with ranked recall; a
    context manager that closes its connection. ``fts`` None detects FTS5; False forces the
    fallback ranking."""

    def __init__(self, path: Path, *, fts: bool | None = None) -> None:
        self.path = path
        self.fts_enabled = fts5_available() if fts is None else fts
        self._lock = threading.Lock()
        self._conn = connect(self.path)
        self.full_scans = 0  # recalls that scored every visible lesson (the bound did not decide)
        self._init_schema()

    def _init_schema(self) -> None:
        c = self._conn
        c.execute("BEGIN IMMEDIATE")  # one process creates the schema; others wait, then see it
        try:
            # statement by statement: executescript() would COMMIT our transaction first
            for stmt in _split(_SCHEMA):
                c.execute(stmt)
            have = {row[1] for row in c.execute("PRAGMA table_info(lessons)")}
            added = [col for col, kind in _MIGRATIONS if col not in have]
            for column, kind in _MIGRATIONS:
                if column in added:
                    c.execute(f"ALTER TABLE lessons ADD COLUMN {column} {kind}")
            if "validation_trades" in added:
                _backfill_trades(c)
            relabelled = _forget_holdout_decisions(c)
            indexed = (
                c.execute("SELECT 1 FROM sqlite_master WHERE name = 'lessons_fts'").fetchone()
                is not None
            )
            if self.fts_enabled:
                for stmt in _split(_FTS_SCHEMA):
                    c.execute(stmt)
            # lessons written by a process without FTS5, or outcomes just relabelled: the index
            # reads its text from `lessons`, so it is rebuilt from there
            if (self.fts_enabled and not indexed) or (relabelled and indexed and fts5_available()):
                c.execute("INSERT INTO lessons_fts (lessons_fts) VALUES ('rebuild')")
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, lesson: Lesson) -> bool:
        """Append one lesson; False when its experiment already left one (a resumed run)."""
        row = lesson.model_dump()
        if not row["created_at"]:
            row["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cols = ", ".join(_FIELDS)
        marks = ", ".join("?" for _ in _FIELDS)
        with self._lock:
            cur = self._conn.execute(
                f"INSERT OR IGNORE INTO lessons ({cols}) VALUES ({marks})",
                [row[f] for f in _FIELDS],
            )
        return cur.rowcount == 1

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM lessons").fetchone()[0])

    def recent(self, limit: int = 20) -> list[Lesson]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_columns('')} FROM lessons ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_lesson(r) for r in rows]

    def recall(
        self,
        symbol: str,
        timeframe: str,
        query_text: str,
        k: int = 5,
        regime: Regime | None = None,
        hide: tuple[str, int] | None = None,
    ) -> list[Lesson]:
        """The top ``k`` lessons for this market and query (ranking in the module docstring).

        ``hide=(run_id, iteration)`` leaves out that run's lessons from that iteration on:
        a context built "as of" an iteration then sees exactly what existed at that iteration,
        which is what makes a resumed run draw the same candidates. Every score is a function of
        the visible lessons alone (no corpus-wide statistics such as bm25)."""
        if k <= 0:
            return []
        terms = query_terms(query_text)
        args = self._args(symbol, timeframe, terms, k, regime, hide)
        with self._lock:
            top = self._conn.execute(
                f"SELECT id FROM lessons WHERE {_visible('')} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
            if top is None:
                return []
            args["max_id"] = int(top[0])
            rows = self._recall_newest(terms, args)
            if rows is None:  # the bound did not decide: every visible lesson is scored
                self.full_scans += 1
                rows = self._conn.execute(_ranking_sql(terms, self.fts_enabled), args).fetchall()
        return [_lesson(r) for r in rows]

    def recall_all(
        self,
        symbol: str,
        timeframe: str,
        query_text: str,
        k: int = 5,
        regime: Regime | None = None,
        hide: tuple[str, int] | None = None,
    ) -> list[Lesson]:
        """`recall` by scoring every visible lesson of the timeframe: the reference the bounded
        search is held to (and its fallback)."""
        if k <= 0:
            return []
        terms = query_terms(query_text)
        args = self._args(symbol, timeframe, terms, k, regime, hide)
        with self._lock:
            top = self._conn.execute(
                f"SELECT max(id) FROM lessons WHERE {_visible('')}", args
            ).fetchone()
            if top[0] is None:
                return []
            args["max_id"] = int(top[0])
            rows = self._conn.execute(_ranking_sql(terms, self.fts_enabled), args).fetchall()
        return [_lesson(r) for r in rows]

    def _args(
        self,
        symbol: str,
        timeframe: str,
        terms: list[str],
        k: int,
        regime: Regime | None,
        hide: tuple[str, int] | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {
            "symbol": symbol,
            "regime": regime or "",
            "tf": timeframe,
            "k": k,
            "hide_run": hide[0] if hide else "",
            "hide_from": hide[1] if hide else 0,
        }
        for i, t in enumerate(terms):
            args[f"t{i}"] = f'"{t}"' if self.fts_enabled else t
        return args

    def _recall_newest(self, terms: list[str], args: dict[str, Any]) -> list[Any] | None:
        """The top k among this market's newest lessons, when that provably is the top k of all
        (module docstring), else None. The window of newest lessons grows fourfold up to
        `MAX_WINDOW`; the caller holds the lock."""
        k = int(args["k"])
        window = RECALL_WINDOW
        while window <= MAX_WINDOW:
            ids = self._conn.execute(
                f"SELECT id FROM lessons WHERE timeframe = :tf AND symbol = :symbol AND "
                f"{_visible('')} ORDER BY id DESC LIMIT :window",
                {**args, "window": window},
            ).fetchall()
            whole = len(ids) < window  # every visible lesson of this market is in the window
            if whole and len(ids) < k:
                return None  # other symbols' lessons rank next: a rare case, scored in full
            floor = int(ids[-1][0]) if ids else 0
            rows = self._conn.execute(
                _ranking_sql(terms, self.fts_enabled, newest=True), {**args, "floor": floor}
            ).fetchall()
            if whole:
                return rows
            if len(rows) < k:  # more asked for than the window holds
                window *= 4
                continue
            kth = float(rows[k - 1][-1])
            if kth > self._older_bound(terms, args, floor) + BOUND_MARGIN:
                return rows
            window *= 4
        return None

    def _older_bound(self, terms: list[str], args: dict[str, Any], floor: int) -> float:
        """The highest score a lesson older than `floor` could have: every query word any such
        lesson contains, the regime matching, and the recency of the newest of them."""
        present = len(terms)
        if self.fts_enabled:
            present = sum(
                self._conn.execute(
                    "SELECT rowid FROM lessons_fts WHERE lessons_fts MATCH ? AND rowid < ? "
                    "ORDER BY rowid DESC LIMIT 1",
                    (args[f"t{i}"], floor),
                ).fetchone()
                is not None
                for i in range(len(terms))
            )
        text = present / len(terms) if terms else 0.0
        age = int(args["max_id"]) - (floor - 1)
        return text + W_RECENCY * RECENCY_HALF / (RECENCY_HALF + age) + W_REGIME


def _ranking_sql(terms: list[str], fts: bool, *, newest: bool = False) -> str:
    """SQL ranking the visible lessons of a timeframe (module docstring), the score last; with
    `newest`, only this symbol's from id ``:floor`` on (and the text matches read from there)."""
    since = " AND rowid >= :floor" if newest else ""
    if not terms:
        text_sql = "0.0"
    elif fts:
        hits = " + ".join(
            f"(l.id IN (SELECT rowid FROM lessons_fts WHERE lessons_fts MATCH :t{i}{since}))"
            for i in range(len(terms))
        )
        text_sql = f"(({hits}) / {len(terms)}.0)"
    else:
        doc = " || ' ' || ".join(f"lower(coalesce(l.{c}, ''))" for c in FTS_COLUMNS)
        hits = " + ".join(f"(instr({doc}, :t{i}) > 0)" for i in range(len(terms)))
        text_sql = f"(({hits}) / {len(terms)}.0)"
    window = " AND l.symbol = :symbol AND l.id >= :floor" if newest else ""
    return f"""
        SELECT {_columns("l.")},
               CASE WHEN l.symbol = :symbol THEN 0 ELSE 1 END AS tier,
               {text_sql}
               + {W_RECENCY} * {RECENCY_HALF} / ({RECENCY_HALF} + (:max_id - l.id))
               + {W_REGIME} * (l.regime = :regime) AS score
        FROM lessons AS l
        WHERE l.timeframe = :tf AND {_visible("l.")}{window}
        ORDER BY tier, score DESC, l.id DESC
        LIMIT :k
    """


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


def _columns(table: str) -> str:
    """SQL: the stored fields in `_FIELDS` order (the iteration derived where it is NULL), then
    whether the row predates structured lessons (every row since has its iteration)."""
    fields = [_ITERATION_SQL.format(t=table) if f == "iteration" else table + f for f in _FIELDS]
    return ", ".join([*fields, f"{table}iteration IS NULL"])


def _visible(table: str) -> str:
    """SQL: the row is not one of the hidden run's lessons from the hidden iteration on (an
    integer comparison: iteration 10000 comes after 9999, whatever the ids' text order)."""
    iteration = _ITERATION_SQL.format(t=table)
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


def _lesson(row: tuple[Any, ...]) -> Lesson:
    """A stored row as a lesson. A row from before structured lessons has the loop's reason word
    (e.g. ``sandbox.lint_failed``) in ``failed_check`` and nothing in the new columns: the reason
    becomes ``failure`` and its gate check ``failed_check`` (its iteration: see `_columns`)."""
    d = dict(zip(_FIELDS, row[: len(_FIELDS)], strict=True))
    if row[len(_FIELDS)]:
        d["failure"] = learnable_failure(d["failed_check"])
        d["failed_check"] = gate_check_of(d["failed_check"])
    return Lesson(**d)


# -- regime tagger ------------------------------------------------------------------------------

YEAR_MS = 365 * 86_400_000


@dataclass(frozen=True)
class RegimeReading:
    regime: Regime
    annual_vol: float
    trend_z: float
    bars: int


def measure_regime(
    candles: Candles,
    *,
    window: int | None = None,
    vol_threshold: float = 1.0,
    trend_threshold: float = 1.0,
) -> RegimeReading:
    """The regime of the last ``window`` bars (all when None) with the numbers behind it."""
    close = candles.close if window is None else candles.close[-(window + 1) :]
    ts = candles.ts if window is None else candles.ts[-(window + 1) :]
    ok = np.isfinite(close) & (close > 0)
    close, ts = close[ok], ts[ok]
    if close.size < 3:
        return RegimeReading("range", 0.0, 0.0, int(close.size))
    r = np.diff(np.log(close))
    bar_ms = float(np.median(np.diff(ts))) or 1.0
    sd = float(np.std(r))
    vol = sd * math.sqrt(YEAR_MS / bar_ms)
    z = float(r.sum()) / (sd * math.sqrt(r.size)) if sd > 0 else 0.0
    regime: Regime
    if vol > vol_threshold:
        regime = "high_volatility"
    elif z > trend_threshold:
        regime = "trend_up"
    elif z < -trend_threshold:
        regime = "trend_down"
    else:
        regime = "range"
    return RegimeReading(regime, vol, z, int(r.size))


def tag_regime(
    candles: Candles,
    *,
    window: int | None = None,
    vol_threshold: float = 1.0,
    trend_threshold: float = 1.0,
) -> Regime:
    """One label for a candle history (rules in the module docstring)."""
    return measure_regime(
        candles, window=window, vol_threshold=vol_threshold, trend_threshold=trend_threshold
    ).regime
