"""The state database (`Home.state_db`, ``$RARA_HOME/rara.db``): one SQLite file in WAL mode for
the event log, trials and the rest of rara's state. WAL lets one writer and many readers (in any
process) work at once; a busy timeout makes concurrent writers wait instead of failing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DEFAULT_BUSY_TIMEOUT_MS = 30_000


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """Autocommit connection (transactions are explicit), usable from several threads under the
    caller's lock. Raises sqlite3.Error; callers turn it into their own RaraError."""
    if readonly:
        uri = path.resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # busy_timeout first, so every later statement waits for other processes' locks.
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def append_only(table: str, why: str = "append-only") -> str:
    """SQL for triggers that refuse UPDATE and DELETE on `table`."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is {why}'); END;\n"
        for op in ("UPDATE", "DELETE")
    )


def open_tables(db: Path, schema: str, what: str) -> tuple[Path, sqlite3.Connection]:
    """Connect to the state DB and create `schema` (idempotent); a clear error if it cannot."""
    from rara.errors import RaraError

    try:
        conn = connect(db)
        conn.executescript(schema)
    except sqlite3.Error as exc:
        raise RaraError(
            "state_db_error",
            f"cannot open {what} in {db}: {exc}",
            "`rara validate` checks the state database",
        ) from exc
    return db, conn
