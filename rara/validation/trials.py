"""Every backtest of every candidate is a trial, recorded in the state DB, so the number of trials
(N in the deflated Sharpe ratio) is counted, never guessed, and their returns are kept for PBO.

A trial's id hashes everything that determines its result: source, params, instrument, segment and
its bars, and costs. Recording the same trial again is a no-op, so a resumed run cannot inflate N
and cannot hide one either. The table is append-only (triggers refuse UPDATE and DELETE), and each
new row is sealed in the event log as it is written, so `rara events verify` notices an edit.

A holdout *read* is not deduplicated that way: reading the same holdout again is a new read, so
the store also holds the append-only ``holdout_reads`` table (`rara.validation.holdout`), on the
same connection, as ``TrialStore.holdout_reads``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from rara.closing import Closing
from rara.events.seal import prepare_sealing, sealed_write
from rara.state import append_only, open_tables
from rara.validation import holdout

SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    seq INTEGER PRIMARY KEY,
    trial_id TEXT NOT NULL UNIQUE,
    run_id TEXT,
    strategy_id TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    params TEXT NOT NULL,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    segment TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    end_ms INTEGER NOT NULL,
    fee REAL NOT NULL,
    slippage REAL NOT NULL,
    n_obs INTEGER NOT NULL,
    sharpe REAL,
    metrics TEXT NOT NULL,
    returns BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_market ON trials (exchange, symbol, timeframe, segment);
CREATE INDEX IF NOT EXISTS trials_run ON trials (run_id);
""" + append_only("trials", "append-only: the trial count must never shrink")


class TrialKey(BaseModel):
    """What makes two backtests the same trial."""

    model_config = ConfigDict(frozen=True)
    source_sha256: str
    params: dict[str, Any]
    exchange: str
    symbol: str
    timeframe: str
    segment: str
    start_ms: int
    end_ms: int
    fee: float
    slippage: float

    @property
    def trial_id(self) -> str:
        canon = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return "tr_" + hashlib.sha256(canon.encode()).hexdigest()[:20]


class Trial(BaseModel):
    seq: int
    trial_id: str
    run_id: str | None
    strategy_id: str
    key: TrialKey
    n_obs: int
    sharpe: float | None  # per period (not annualised): what DSR and PBO use
    metrics: dict[str, Any]
    created_at: str


class TrialStore(Closing):
    """Every trial ever run, in the state DB at `path` (`Home.state_db`); a context manager that
    closes its connection."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self.path, self._conn = open_tables(path, SCHEMA + holdout.SCHEMA, "trials")
        prepare_sealing(self._conn, self.path, "trials", "trials")
        # holdout reads live beside the trials, on this connection (`rara.validation.holdout`)
        self.holdout_reads = holdout.HoldoutReads(self._conn, self._lock)

    def close(self) -> None:
        self._conn.close()

    def record(
        self,
        key: TrialKey,
        strategy_id: str,
        returns: npt.NDArray[np.float64],
        sharpe: float | None,
        metrics: dict[str, Any],
        run_id: str | None = None,
    ) -> tuple[Trial, bool]:
        """Store a trial; returns it and whether it was new (False: already recorded)."""
        r = np.ascontiguousarray(returns, dtype="<f8")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        def insert(conn: sqlite3.Connection) -> list[str]:
            cur = conn.execute(
                "INSERT OR IGNORE INTO trials (trial_id, run_id, strategy_id, source_sha256, "
                "params, exchange, symbol, timeframe, segment, start_ms, end_ms, fee, slippage, "
                "n_obs, sharpe, metrics, returns, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    key.trial_id,
                    run_id,
                    strategy_id,
                    key.source_sha256,
                    json.dumps(key.params, sort_keys=True),
                    key.exchange,
                    key.symbol,
                    key.timeframe,
                    key.segment,
                    key.start_ms,
                    key.end_ms,
                    key.fee,
                    key.slippage,
                    int(r.shape[0]),
                    sharpe,
                    json.dumps(metrics, sort_keys=True, allow_nan=False),
                    r.tobytes(),
                    now,
                ),
            )
            return [key.trial_id] if cur.rowcount == 1 else []

        with self._lock:  # a new row and its seal in one transaction (`rara.events.seal`)
            new = bool(sealed_write(self._conn, self.path, "trials", insert))
        trial = self.get(key.trial_id)
        assert trial is not None
        return trial, new

    def get(self, trial_id: str) -> Trial | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLS} FROM trials WHERE trial_id = ?", (trial_id,)
            ).fetchone()
        return _trial(row) if row else None

    def _where(self, filters: dict[str, Any]) -> tuple[str, list[Any]]:
        conds, args = [], []
        for col, value in filters.items():
            if value is not None:
                conds.append(f"{col} = ?")
                args.append(value)
        return (" WHERE " + " AND ".join(conds)) if conds else "", args

    def find(self, limit: int | None = None, **filters: Any) -> list[Trial]:
        """Trials matching column filters (exchange, symbol, timeframe, segment, run_id...)."""
        where, args = self._where(filters)
        sql = f"SELECT {_COLS} FROM trials{where} ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [_trial(r) for r in self._conn.execute(sql, args)]

    def count(self, **filters: Any) -> int:
        where, args = self._where(filters)
        with self._lock:
            return int(
                self._conn.execute(f"SELECT count(*) FROM trials{where}", args).fetchone()[0]
            )

    def sharpes(self, **filters: Any) -> npt.NDArray[np.float64]:
        """Per-period Sharpe of every matching trial that has one."""
        where, args = self._where(filters)
        with self._lock:
            rows = self._conn.execute(f"SELECT sharpe FROM trials{where} ORDER BY seq", args)
            return np.array([r[0] for r in rows if r[0] is not None], dtype=np.float64)

    def returns_matrix(self, **filters: Any) -> npt.NDArray[np.float64]:
        """T x N matrix of the matching trials' per-bar returns (columns in trial order); only
        trials over the same bars can share a matrix, so filter on segment, start_ms and end_ms."""
        where, args = self._where(filters)
        with self._lock:
            blobs = [
                r[0]
                for r in self._conn.execute(f"SELECT returns FROM trials{where} ORDER BY seq", args)
            ]
        cols = [np.frombuffer(b, dtype="<f8") for b in blobs]
        if not cols:
            return np.empty((0, 0))
        if len({c.shape[0] for c in cols}) != 1:
            raise ValueError("trials cover different bars; filter on segment, start_ms and end_ms")
        return np.column_stack(cols)

    def returns_since(self, after_seq: int, segment: str) -> list[TrialReturns]:
        """Every trial of ``segment`` recorded after ``after_seq``, in order, with its bars (as
        a group key: trials in one group cover the same bars), Sharpe and per-bar returns."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, exchange, symbol, timeframe, start_ms, end_ms, n_obs, sharpe, "
                "returns FROM trials WHERE segment = ? AND seq > ? ORDER BY seq",
                (segment, after_seq),
            ).fetchall()
        return [
            TrialReturns(
                seq=r[0],
                bars=(r[1], r[2], r[3], r[4], r[5], r[6]),
                sharpe=r[7],
                returns=np.frombuffer(r[8], dtype="<f8"),
            )
            for r in rows
        ]


class TrialReturns(NamedTuple):
    """One trial's returns with the bars they cover: (exchange, symbol, timeframe, start_ms,
    end_ms, n_obs)."""

    seq: int
    bars: tuple[str, str, str, int, int, int]
    sharpe: float | None
    returns: npt.NDArray[np.float64]


_COLS = (
    "seq, trial_id, run_id, strategy_id, source_sha256, params, exchange, symbol, timeframe, "
    "segment, start_ms, end_ms, fee, slippage, n_obs, sharpe, metrics, created_at"
)


def _trial(r: tuple[Any, ...]) -> Trial:
    key = TrialKey(
        source_sha256=r[4],
        params=json.loads(r[5]),
        exchange=r[6],
        symbol=r[7],
        timeframe=r[8],
        segment=r[9],
        start_ms=r[10],
        end_ms=r[11],
        fee=r[12],
        slippage=r[13],
    )
    return Trial(
        seq=r[0],
        trial_id=r[1],
        run_id=r[2],
        strategy_id=r[3],
        key=key,
        n_obs=r[14],
        sharpe=r[15],
        metrics=json.loads(r[16]),
        created_at=r[17],
    )
