"""What `rara status` reads about the daemon: its process and its components, in the state DB.

Two plain mutable tables (not events: a heartbeat every few seconds would flood the log):

- ``daemon_process``: one row per daemon run (daemon_id, pid, started_ts, ready_ts,
  heartbeat_ts, stopped_ts, options as JSON); the newest is the one `rara status` shows;
- ``daemon_components``: the current daemon's components as the supervisor last saw them,
  replaced every ``[daemon] status_interval_s``.

A daemon killed with SIGKILL leaves its rows as they were: ``stopped_ts`` stays empty and the
heartbeat ages, which is how `rara status` tells a dead daemon from a live one (with the
instance lock, `rara.daemon.instance.running_daemon`). State changes worth keeping are the
``daemon_component_changed`` events; these tables only say what is true now.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from rara.closing import Closing
from rara.domain.events import ComponentKind, ComponentState
from rara.events.model import format_ts
from rara.home import Home
from rara.state import connect, open_tables, state_db_error

SCHEMA = """
CREATE TABLE IF NOT EXISTS daemon_process (
    daemon_id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    started_ts TEXT NOT NULL,
    ready_ts TEXT,
    heartbeat_ts TEXT,
    stopped_ts TEXT,
    options TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS daemon_components (
    daemon_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    restarts INTEGER NOT NULL,
    idle_s REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    last_error TEXT,
    updated_ts TEXT NOT NULL,
    PRIMARY KEY (daemon_id, name)
);
"""
KEEP_PROCESSES = 20  # daemon_process rows kept: the last runs, not every run ever


class ComponentStatus(BaseModel):
    """One component as the supervisor sees it now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: ComponentKind
    state: ComponentState
    restarts: int
    idle_s: float
    detail: str = ""
    last_error: str | None = None


def _now() -> str:
    return format_ts(datetime.now(UTC))


class StatusWriter(Closing):
    """Writes one daemon run's rows. Thread-safe (one connection under a lock)."""

    def __init__(self, db_path: Path, daemon_id: str) -> None:
        self.db_path = Path(db_path)
        self.daemon_id = daemon_id
        self._lock = threading.Lock()
        _, self._conn = open_tables(self.db_path, SCHEMA, "the daemon's status tables")

    def _write(self, action: str, statements: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for sql, args in statements:
                        self._conn.execute(sql, args)
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise state_db_error(self.db_path, action, exc) from exc

    def started(self, pid: int, options: dict[str, Any]) -> None:
        """This run began: its row, and the components a previous (killed) run left go."""
        self._write(
            "recording the daemon's start",
            [
                ("DELETE FROM daemon_components WHERE daemon_id != ?", (self.daemon_id,)),
                (
                    "INSERT OR REPLACE INTO daemon_process (daemon_id, pid, started_ts, options) "
                    "VALUES (?, ?, ?, ?)",
                    (self.daemon_id, pid, _now(), json.dumps(options, sort_keys=True, default=str)),
                ),
                (
                    "DELETE FROM daemon_process WHERE daemon_id NOT IN (SELECT daemon_id FROM "
                    "daemon_process ORDER BY started_ts DESC LIMIT ?)",
                    (KEEP_PROCESSES,),
                ),
            ],
        )

    def ready(self) -> None:
        now = _now()
        self._write(
            "recording the daemon's readiness",
            [
                (
                    "UPDATE daemon_process SET ready_ts = ?, heartbeat_ts = ? WHERE daemon_id = ?",
                    (now, now, self.daemon_id),
                )
            ],
        )

    def heartbeat(self) -> None:
        self._write(
            "recording the daemon's heartbeat",
            [
                (
                    "UPDATE daemon_process SET heartbeat_ts = ? WHERE daemon_id = ?",
                    (_now(), self.daemon_id),
                )
            ],
        )

    def components(self, snapshot: Iterable[ComponentStatus]) -> None:
        """Replace this run's component rows with `snapshot` (a removed component goes)."""
        now = _now()
        rows: list[tuple[str, tuple[Any, ...]]] = [
            ("DELETE FROM daemon_components WHERE daemon_id = ?", (self.daemon_id,))
        ]
        rows += [
            (
                "INSERT INTO daemon_components (daemon_id, name, kind, state, restarts, idle_s, "
                "detail, last_error, updated_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.daemon_id,
                    c.name,
                    c.kind,
                    c.state,
                    c.restarts,
                    round(c.idle_s, 3),
                    c.detail,
                    c.last_error,
                    now,
                ),
            )
            for c in snapshot
        ]
        self._write("recording the daemon's components", rows)

    def stopped(self) -> None:
        now = _now()
        self._write(
            "recording the daemon's stop",
            [
                (
                    "UPDATE daemon_process SET stopped_ts = ?, heartbeat_ts = ? "
                    "WHERE daemon_id = ?",
                    (now, now, self.daemon_id),
                )
            ],
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_status(home: Home) -> dict[str, Any]:
    """The newest daemon run's row (``process``, None if no daemon ever ran here) and its
    components, read-only: a home with no state DB stays untouched."""
    empty: dict[str, Any] = {"process": None, "components": []}
    if not home.state_db.exists():
        return empty
    try:
        conn = connect(home.state_db, readonly=True)
    except (sqlite3.Error, OSError) as exc:
        raise state_db_error(home.state_db, "cannot read the daemon's status", exc) from exc
    try:
        conn.row_factory = sqlite3.Row
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "daemon_process" not in tables:
            return empty
        row = conn.execute(
            "SELECT * FROM daemon_process ORDER BY started_ts DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return empty
        process = dict(row)
        process["options"] = json.loads(process["options"] or "{}")
        components = [
            dict(r)
            for r in conn.execute(
                "SELECT name, kind, state, restarts, idle_s, detail, last_error, updated_ts "
                "FROM daemon_components WHERE daemon_id = ? ORDER BY name",
                (process["daemon_id"],),
            )
        ]
        return {"process": process, "components": components}
    except sqlite3.Error as exc:
        raise state_db_error(home.state_db, "cannot read the daemon's status", exc) from exc
    finally:
        conn.close()
