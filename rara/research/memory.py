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
symbols' rank next) is every visible lesson of the timeframe scored, as
`recall(exhaustive=True)` does; the answer is the same either way.

The table itself (schema, migrations, how a row reads back) is `rara.research.lesson_schema`;
the regime a lesson is tagged with comes from `rara.research.regime`.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rara.closing import Closing
from rara.research.lesson_schema import (
    FIELDS,
    FTS_COLUMNS,
    columns,
    fts5_available,
    lesson_from_row,
    migrate,
    visible,
)
from rara.research.models import Lesson, Regime
from rara.state import connect

RECENCY_HALF = 50.0
W_RECENCY = 0.3
W_REGIME = 0.2
MAX_QUERY_TERMS = 32
RECALL_WINDOW = 64  # newest lessons of the market scored first (`LessonStore.recall`)
MAX_WINDOW = 4096  # beyond this many, every visible lesson is scored
BOUND_MARGIN = 1e-9  # far above the rounding of a score, far below any real gap between two


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
        migrate(self._conn, self.fts_enabled)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def record(self, lesson: Lesson) -> bool:
        """Append one lesson; False when its experiment already left one (a resumed run)."""
        row = lesson.model_dump()
        if not row["created_at"]:
            row["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        cols = ", ".join(FIELDS)
        marks = ", ".join("?" for _ in FIELDS)
        with self._lock:
            cur = self._conn.execute(
                f"INSERT OR IGNORE INTO lessons ({cols}) VALUES ({marks})",
                [row[f] for f in FIELDS],
            )
        return cur.rowcount == 1

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM lessons").fetchone()[0])

    def recent(self, limit: int = 20) -> list[Lesson]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns('')} FROM lessons ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [lesson_from_row(r) for r in rows]

    def of_run(self, run_id: str, limit: int = 20) -> list[Lesson]:
        """The lessons one run left, newest first (a retrain recalls its strategy's run)."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {columns('')} FROM lessons WHERE run_id = ? ORDER BY id DESC LIMIT ?",
                (run_id, limit),
            ).fetchall()
        return [lesson_from_row(r) for r in rows]

    def recall(
        self,
        symbol: str,
        timeframe: str,
        query_text: str,
        k: int = 5,
        regime: Regime | None = None,
        hide: tuple[str, int] | None = None,
        *,
        exhaustive: bool = False,
    ) -> list[Lesson]:
        """The top ``k`` lessons for this market and query (ranking in the module docstring).
        ``exhaustive`` scores every visible lesson of the timeframe, skipping the bounded search
        of the newest ones: the reference that search is held to, and its fallback.

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
                f"SELECT id FROM lessons WHERE {visible('')} ORDER BY id DESC LIMIT 1", args
            ).fetchone()
            if top is None:
                return []
            args["max_id"] = int(top[0])
            rows = None if exhaustive else self._recall_newest(terms, args)
            if rows is None:  # the bound did not decide: every visible lesson is scored
                self.full_scans += not exhaustive
                rows = self._conn.execute(_ranking_sql(terms, self.fts_enabled), args).fetchall()
        return [lesson_from_row(r) for r in rows]

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
                f"{visible('')} ORDER BY id DESC LIMIT :window",
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
        SELECT {columns("l.")},
               CASE WHEN l.symbol = :symbol THEN 0 ELSE 1 END AS tier,
               {text_sql}
               + {W_RECENCY} * {RECENCY_HALF} / ({RECENCY_HALF} + (:max_id - l.id))
               + {W_REGIME} * (l.regime = :regime) AS score
        FROM lessons AS l
        WHERE l.timeframe = :tf AND {visible("l.")}{window}
        ORDER BY tier, score DESC, l.id DESC
        LIMIT :k
    """
