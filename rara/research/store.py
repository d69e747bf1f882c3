"""Research runs and their experiments in the state DB (append-only; each experiment row sealed
in the event log as it is written, so `rara events verify` notices an edited one).

An experiment row is written once, when its iteration has finished (including its lesson and
events). A run killed mid-iteration therefore has no row for that iteration, and resuming the run
redoes exactly it; trials are keyed by content, so redoing one records nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from rara.closing import Closing
from rara.errors import BadInput, RaraError
from rara.events.model import EventDraft
from rara.events.seal import prepare_sealing, sealed_write
from rara.research.models import (
    ExperimentOutcome,
    Forecast,
    JsonScalar,
    Outcome,
    gate_check_of,
    learnable_failure,
    learnable_outcome,
)
from rara.state import append_only, connect, open_tables, read_only_home, state_db_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS research_runs (
    run_id TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    started_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS research_run_ends (
    seq INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    stop_reason TEXT NOT NULL,
    summary TEXT NOT NULL,
    ended_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS experiments (
    seq INTEGER PRIMARY KEY,
    experiment_id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    proposer TEXT NOT NULL,
    origin TEXT NOT NULL,
    family TEXT NOT NULL,
    hypothesis TEXT NOT NULL,
    source TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    strategy_id TEXT,
    params TEXT,
    outcome TEXT NOT NULL,
    failed_check TEXT,
    error TEXT,
    fix_rounds INTEGER NOT NULL,
    train_sharpe REAL,
    validation_sharpe REAL,
    validation_trades INTEGER,
    forecast TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    llm_calls TEXT NOT NULL,
    report TEXT,
    positions BLOB,
    n_bars INTEGER NOT NULL,
    exchange TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    timings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (run_id, iteration)
);
CREATE INDEX IF NOT EXISTS experiments_market ON experiments (exchange, symbol, timeframe);
"""
SCHEMA += "".join(append_only(t) for t in ("research_runs", "research_run_ends", "experiments"))


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Experiment(BaseModel):
    experiment_id: str
    run_id: str
    iteration: int
    proposer: str
    origin: str
    family: str
    hypothesis: dict[str, Any]
    source: str
    source_sha256: str
    strategy_id: str | None
    params: dict[str, JsonScalar] | None
    outcome: Outcome
    failed_check: str | None
    error: str | None
    fix_rounds: int
    train_sharpe: float | None
    validation_sharpe: float | None
    validation_trades: int | None
    forecast: Forecast
    cost_usd: float
    llm_calls: list[dict[str, Any]]
    report: dict[str, Any] | None
    n_bars: int
    exchange: str
    symbol: str
    timeframe: str
    created_at: str = ""

    def without_details(self) -> Experiment:
        """The row without its gate report and LLM transcript (the store keeps them): what the
        loop holds in memory for later contexts, which never read either."""
        kept = self.model_dump(exclude={"report", "llm_calls"})
        return Experiment.model_validate({**kept, "report": None, "llm_calls": []})

    def as_outcome(self) -> ExperimentOutcome:
        """The row as a proposer may see it: ``outcome`` the learnable one, never the decision
        taken on the holdout (which this row keeps)."""
        return ExperimentOutcome(
            experiment_id=self.experiment_id,
            iteration=self.iteration,
            family=self.family,
            origin=self.origin,
            params=self.params,
            source_sha256=self.source_sha256,
            outcome=learnable_outcome(self.outcome, self.failed_check),
            failed_check=gate_check_of(self.failed_check),
            failure=learnable_failure(self.failed_check),
            train_sharpe=self.train_sharpe,
            validation_sharpe=self.validation_sharpe,
            validation_trades=self.validation_trades,
        )


_FIELDS = tuple(Experiment.model_fields)
_JSON = {"hypothesis", "params", "forecast", "llm_calls", "report"}
# Columns the DDL keeps so older state files stay readable and writable, but nothing reads: each
# is written with its empty value (`timings` was always `{}`; dropping it would mean rebuilding an
# append-only table and its triggers in every existing file).
_RETIRED = {"timings": "{}"}


class ResearchStore(Closing):
    """Research runs and experiments in the state DB at `path` (`Home.state_db`); a context
    manager that closes its connection."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self.readonly = False
        try:
            self.path, self._conn = open_tables(path, SCHEMA, "research tables")
            prepare_sealing(self._conn, self.path, "experiments", "research tables")
        except RaraError as exc:
            if exc.code != "read_only_home" or not path.exists():
                raise
            # A read-only home can still be read (`research list`, `research show`); every
            # write says why it cannot happen.
            self.path, self._conn, self.readonly = path, _read_only(path), True

    def close(self) -> None:
        self._conn.close()

    def _writable(self, action: str) -> None:
        if self.readonly:
            raise read_only_home(self.path.parent, action)

    # ---- runs ---------------------------------------------------------------------------------
    def start_run(self, run_id: str, config: dict[str, Any]) -> bool:
        """Record a run; False when it already exists (a resume)."""
        self._writable("cannot record a research run")
        with self._lock:
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO research_runs VALUES (?, ?, ?)",
                (run_id, json.dumps(config, sort_keys=True), utc_now()),
            )
            return cur.rowcount == 1

    def run_config(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._conn.execute(
                "SELECT config FROM research_runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise BadInput(
                "unknown_run",
                f"no research run {run_id!r}",
                "`rara research list` shows runs and their experiments",
            )
        return dict(json.loads(row[0]))

    def count_runs(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM research_runs").fetchone()[0])

    def count_experiments(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM experiments").fetchone()[0])

    def end_run(self, run_id: str, stop_reason: str, summary: dict[str, Any]) -> None:
        self._writable("cannot record the end of a research run")
        with self._lock:
            self._conn.execute(
                "INSERT INTO research_run_ends (run_id, stop_reason, summary, ended_at) "
                "VALUES (?, ?, ?, ?)",
                (run_id, stop_reason, json.dumps(summary), utc_now()),
            )

    def last_end(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT stop_reason, summary, ended_at FROM research_run_ends WHERE run_id = ? "
                "ORDER BY seq DESC LIMIT 1",
                (run_id,),
            ).fetchone()
        return (
            None
            if row is None
            else {"stop_reason": row[0], "summary": json.loads(row[1]), "ended_at": row[2]}
        )

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT run_id, config, started_at FROM research_runs ORDER BY started_at DESC "
                "LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            {
                "run_id": r[0],
                "config": json.loads(r[1]),
                "started_at": r[2],
                "end": self.last_end(r[0]),
            }
            for r in rows
        ]

    # ---- experiments --------------------------------------------------------------------------
    def record(
        self,
        e: Experiment,
        positions: npt.NDArray[np.bool_] | None,
        events: Sequence[EventDraft] = (),
    ) -> None:
        """Write the experiment row, sealed, with `events` in the same transaction (each unless
        already in the log: see `sealed_write`)."""
        self._writable("cannot record an experiment")
        values = [
            json.dumps(
                getattr(e, f)
                if not isinstance(getattr(e, f), BaseModel)
                else getattr(e, f).model_dump(mode="json"),
                sort_keys=True,
            )
            if f in _JSON
            else getattr(e, f)
            for f in _FIELDS
        ]
        values[_FIELDS.index("created_at")] = e.created_at or utc_now()
        blob = None if positions is None else np.packbits(positions).tobytes()
        cols = ", ".join((*_FIELDS, "positions", *_RETIRED))
        marks = ", ".join("?" * (len(_FIELDS) + 1 + len(_RETIRED)))

        def insert(conn: sqlite3.Connection) -> list[str]:
            conn.execute(
                f"INSERT INTO experiments ({cols}) VALUES ({marks})",
                (*values, blob, *_RETIRED.values()),
            )
            return [e.experiment_id]

        with self._lock:  # the row and its seal in one transaction (`rara.events.seal`)
            sealed_write(self._conn, self.path, "experiments", insert, events)

    def _select(self, where: str, args: tuple[Any, ...], tail: str = "") -> list[Experiment]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {', '.join(_FIELDS)} FROM experiments {where} {tail}", args
            ).fetchall()
        out = []
        for r in rows:
            d = {
                f: (json.loads(v) if f in _JSON and v is not None else v)
                for f, v in zip(_FIELDS, r, strict=True)
            }
            out.append(Experiment.model_validate(d))
        return out

    def get(self, experiment_id: str) -> Experiment | None:
        found = self._select("WHERE experiment_id = ?", (experiment_id,))
        return found[0] if found else None

    def of_run(self, run_id: str) -> list[Experiment]:
        return self._select("WHERE run_id = ?", (run_id,), "ORDER BY iteration")

    def latest(self, limit: int) -> list[Experiment]:
        return self._select("", (), f"ORDER BY seq DESC LIMIT {int(limit)}")

    def positions(
        self, exchange: str, symbol: str, timeframe: str, n_bars: int
    ) -> list[tuple[str, npt.NDArray[np.bool_]]]:
        """(experiment id, in-market series) of earlier candidates on the same bars."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT experiment_id, positions FROM experiments WHERE exchange = ? AND "
                "symbol = ? AND timeframe = ? AND n_bars = ? AND positions IS NOT NULL "
                "ORDER BY seq",
                (exchange, symbol, timeframe, n_bars),
            ).fetchall()
        return [
            (r[0], np.unpackbits(np.frombuffer(r[1], dtype=np.uint8))[:n_bars].astype(bool))
            for r in rows
        ]

    def positions_since(
        self, exchange: str, symbol: str, timeframe: str, n_bars: int, after_seq: int
    ) -> list[tuple[int, str, bytes]]:
        """(seq, experiment id, bit-packed in-market series) of the candidates on these bars
        stored after `after_seq`, in seq order: what `DuplicateIndex` tops itself up with. The
        rows are found by seq (the table's key), so the read costs the new rows alone; the
        unary ``+`` keeps SQLite from walking the market index instead."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, experiment_id, positions FROM experiments WHERE seq > ? AND "
                "+exchange = ? AND +symbol = ? AND +timeframe = ? AND n_bars = ? AND "
                "positions IS NOT NULL ORDER BY seq",
                (after_seq, exchange, symbol, timeframe, n_bars),
            ).fetchall()
        return [(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the research tables; an empty in-memory copy of them when the
    home has none yet (nothing to read is not an error)."""
    try:
        conn = connect(path, readonly=True)
        found = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
            "('research_runs', 'research_run_ends', 'experiments')"
        ).fetchone()[0]
    except sqlite3.Error as exc:
        raise state_db_error(path, "cannot open research tables", exc) from exc
    if found == 3:
        return conn
    conn.close()
    empty = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    empty.executescript(SCHEMA)
    return empty
