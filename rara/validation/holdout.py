"""Holdout reads: each one recorded, keyed by the signals read, and limited per market.

A holdout tells the truth once. Every read lets whoever reads it adjust and try again, so reads
are counted and budgeted, and the count cannot be dodged:

- **Keyed by the signals, not the source.** A read is recorded under the sha256 of the
  full-history signals of the evaluation (entries, exits, stop-loss and take-profit on every bar,
  `signals_fingerprint`): the same strategy gated again, or the same signals under a changed
  comment or name, is a re-read of the same thing, and it is counted.
- **A budget per market.** Each read costs one unit of the budget of the holdout it reads
  (`gates.research.holdout_read_budget`). A holdout is the bars of one symbol over a span of
  time; a read draws on that budget wherever the spans overlap, whatever the exchange or bar
  length (a 1d holdout over the same weeks tells the same story) and whatever moved the split
  (`--start/--end`, `validation_start/holdout_start`): a holdout moved onto bars already read as
  holdout is charged for those reads. When the budget is spent the gate refuses to promote on that
  holdout without reading it; a fresh holdout is newer data, starting after the last bar read.

Reads are recorded in the state DB before the holdout is backtested, so a crash cannot hide one;
the table is append-only (triggers refuse UPDATE and DELETE), like the trials.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from rara.domain.gate import GateCheck
from rara.domain.market import ms_to_iso
from rara.state import append_only
from rara_sandbox.results import RiskLevel, WindowResult

__all__ = [
    "SCHEMA",
    "HoldoutRead",
    "HoldoutReads",
    "HoldoutSpan",
    "budget_check",
    "signals_fingerprint",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS holdout_reads (
    seq INTEGER PRIMARY KEY,
    signals_sha256 TEXT NOT NULL,
    strategy_id TEXT,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    run_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS holdout_reads_symbol ON holdout_reads (symbol, start_ms);
CREATE INDEX IF NOT EXISTS holdout_reads_signals ON holdout_reads (signals_sha256);
""" + append_only("holdout_reads", "append-only: a holdout read cannot be taken back")


def _level_bytes(level: RiskLevel) -> bytes:
    if level is None:
        return b"none"
    if isinstance(level, np.ndarray):
        a = np.asarray(level, dtype="<f8").copy()
        a[np.isnan(a)] = np.nan  # one NaN bit pattern: "no level" is one value
        return b"bars:" + a.tobytes()
    return b"all:" + np.array([level], dtype="<f8").tobytes()


def signals_fingerprint(window: WindowResult) -> str:
    """sha256 of the signals on every bar: entries, exits, stop-loss and take-profit, each
    length-prefixed and tagged. Two evaluations with the same fingerprint trade identically on
    any segment, whatever their source text, name or params."""
    h = hashlib.sha256(b"rara.signals.v1\0")
    parts = (
        ("entries", np.asarray(window.entries, dtype=np.bool_).astype(np.uint8).tobytes()),
        ("exits", np.asarray(window.exits, dtype=np.bool_).astype(np.uint8).tobytes()),
        ("stop_loss", _level_bytes(window.stop_loss)),
        ("take_profit", _level_bytes(window.take_profit)),
    )
    for name, data in parts:
        h.update(f"{name}:{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


class HoldoutSpan(BaseModel):
    """The holdout being read: one market's bars from the open of its first bar (``start_ms``)
    to the close of its last (``end_ms``, exclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str
    symbol: str
    timeframe: str
    start_ms: int
    end_ms: int

    def describe(self) -> str:
        return f"{self.symbol} from {ms_to_iso(self.start_ms)} to {ms_to_iso(self.end_ms)}"


class HoldoutRead(BaseModel):
    """One recorded read of a holdout by one set of signals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    signals_sha256: str
    strategy_id: str | None
    span: HoldoutSpan
    run_id: str | None
    created_at: str


_COLS = (
    "seq, signals_sha256, strategy_id, exchange, symbol, timeframe, start_ms, end_ms, run_id, "
    "created_at"
)


def _read(r: tuple[Any, ...]) -> HoldoutRead:
    span = HoldoutSpan(
        exchange=str(r[3]),
        symbol=str(r[4]),
        timeframe=str(r[5]),
        start_ms=int(r[6]),
        end_ms=int(r[7]),
    )
    return HoldoutRead(
        seq=int(r[0]),
        signals_sha256=str(r[1]),
        strategy_id=None if r[2] is None else str(r[2]),
        span=span,
        run_id=None if r[8] is None else str(r[8]),
        created_at=str(r[9]),
    )


class HoldoutReads:
    """The ``holdout_reads`` table, on the connection (and under the lock) of the state DB's
    `TrialStore`, which creates it and hands it out as ``TrialStore.holdout_reads``."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.Lock) -> None:
        self._conn, self._lock = conn, lock

    def record(
        self,
        span: HoldoutSpan,
        signals_sha256: str,
        strategy_id: str | None = None,
        run_id: str | None = None,
    ) -> HoldoutRead:
        """Append one read (every read, a repeat included: each costs a unit of the budget)."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO holdout_reads (signals_sha256, strategy_id, exchange, symbol, "
                "timeframe, start_ms, end_ms, run_id, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    signals_sha256,
                    strategy_id,
                    span.exchange,
                    span.symbol,
                    span.timeframe,
                    span.start_ms,
                    span.end_ms,
                    run_id,
                    now,
                ),
            )
            row = self._conn.execute(
                f"SELECT {_COLS} FROM holdout_reads WHERE seq = ?", (cur.lastrowid,)
            ).fetchone()
        return _read(row)

    def overlapping(self, span: HoldoutSpan) -> list[HoldoutRead]:
        """Every read of this symbol's bars over any part of ``span`` (any exchange, any bar
        length): the reads the budget of ``span`` has paid for."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLS} FROM holdout_reads WHERE symbol = ? AND start_ms < ? "
                "AND end_ms > ? ORDER BY seq",
                (span.symbol, span.end_ms, span.start_ms),
            ).fetchall()
        return [_read(r) for r in rows]

    def of_signals(self, signals_sha256: str) -> list[HoldoutRead]:
        """Every read of these signals, on any holdout."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLS} FROM holdout_reads WHERE signals_sha256 = ? ORDER BY seq",
                (signals_sha256,),
            ).fetchall()
        return [_read(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM holdout_reads").fetchone()[0])


def budget_check(span: HoldoutSpan, earlier: list[HoldoutRead], budget: int) -> GateCheck:
    """``holdout.budget``: passes while the reads already paid from this holdout's budget leave
    a unit for this one; when spent, says how to get a fresh holdout."""
    used = len(earlier)
    if used < budget:
        return GateCheck(
            name="holdout.budget",
            passed=True,
            value=float(used + 1),
            threshold=float(budget),
            detail=f"read {used + 1} of {budget} of the holdout {span.describe()}",
        )
    last = max(r.span.end_ms for r in earlier)
    return GateCheck(
        name="holdout.budget",
        passed=False,
        value=float(used),
        threshold=float(budget),
        detail=(
            f"the holdout {span.describe()} overlaps {used} earlier holdout reads (budget "
            f"{budget}): it can no longer promote and was not read. A fresh holdout is newer "
            f"data: fetch bars after {ms_to_iso(last)} (`rara data fetch`) and set "
            f"gates.research.holdout_start to {ms_to_iso(last)} or later"
        ),
    )
