"""The state database (`Home.state_db`, ``$RARA_HOME/rara.db``): one SQLite file in WAL mode for
the event log, trials and the rest of rara's state. WAL lets one writer and many readers (in any
process) work at once; a busy timeout makes concurrent writers wait instead of failing.

A home may be read-only (a read-only mount, a copy handed to an auditor). Reading it still works:
a read-only connection falls back to SQLite's ``immutable`` mode when the ``-shm`` file it needs
cannot be created. Writing to it fails with `read_only_home`, an environment fault, never an
integrity error: nothing is wrong with the data.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from pathlib import Path

from rara.errors import RaraError

DEFAULT_BUSY_TIMEOUT_MS = 30_000
# SQLite primary result codes (the low byte of an extended code)
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CANTOPEN = 14


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS
) -> sqlite3.Connection:
    """Autocommit connection (transactions are explicit), usable from several threads under the
    caller's lock. Raises sqlite3.Error; callers turn it into their own RaraError."""
    if readonly:
        try:
            return _configured(_open_ro(path, "mode=ro"), busy_timeout_ms, wal=False)
        except sqlite3.Error as exc:
            # A WAL database needs its -shm file even to read; in a directory nobody may write
            # SQLite cannot create it. With no -wal content to miss, reading the file as
            # immutable sees exactly what is committed.
            if not is_read_only_fault(exc, path) or _has_wal_content(path):
                raise
            return _configured(_open_ro(path, "immutable=1"), busy_timeout_ms, wal=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    return _configured(conn, busy_timeout_ms, wal=True)


def _open_ro(path: Path, query: str) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + "?" + query
    return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)


def _configured(conn: sqlite3.Connection, busy_timeout_ms: int, *, wal: bool) -> sqlite3.Connection:
    try:
        # busy_timeout first, so every later statement waits for other processes' locks.
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if wal:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # SQLite opens the file lazily: read the schema now, so a file that cannot be opened
        # fails here, where the caller classifies it.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise
    return conn


def _has_wal_content(path: Path) -> bool:
    wal = path.with_name(path.name + "-wal")
    try:
        return wal.stat().st_size > 0
    except OSError:
        return False


def is_read_only_fault(exc: sqlite3.Error | OSError, path: Path) -> bool:
    """Whether `exc` came from the home being read-only (a read-only mount, no write permission
    on the file or its directory), not from a damaged file."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_READONLY:
        return True
    if primary not in (_SQLITE_CANTOPEN, _SQLITE_IOERR, None):
        return False
    # access(2) also answers EROFS for a read-only mount, which plain permissions never show root
    parent = path.parent if path.parent.exists() else path.parent.parent
    return not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK))


def read_only_home(home_dir: Path, action: str) -> RaraError:
    """The error for a write the home (`home_dir`, where the state DB lives) cannot take: the
    one error of that kind, whether SQLite or a plain file write found it."""
    return RaraError(
        "read_only_home",
        f"{action}: the home {home_dir} is read-only for this user",
        f"make the home {home_dir} writable (e.g. `chmod -R u+w` it, or remount it read-write), "
        "or set RARA_HOME to a writable copy; `rara events verify` and `rara events query` work "
        "on a read-only home",
    )


def state_db_error(path: Path, action: str, exc: sqlite3.Error | OSError) -> RaraError:
    """A failed open or write of the state DB: `read_only_home` when that is why, else
    `state_db_error`."""
    if is_read_only_fault(exc, path):
        return read_only_home(path.parent, f"{action} (SQLite cannot write {path.name} there)")
    return RaraError(
        "state_db_error",
        f"{action} in {path}: {exc}",
        "`rara validate` checks the state database",
    )


def append_only(table: str, why: str = "append-only") -> str:
    """SQL for triggers that refuse UPDATE and DELETE on `table`."""
    return "".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is {why}'); END;\n"
        for op in ("UPDATE", "DELETE")
    )


def open_tables(db: Path, schema: str, what: str) -> tuple[Path, sqlite3.Connection]:
    """Connect to the state DB and create `schema` (idempotent); a clear error if it cannot."""
    try:
        conn = connect(db)
    except (sqlite3.Error, OSError) as exc:  # OSError: the home's directory cannot be made
        raise state_db_error(db, f"cannot open {what}", exc) from exc
    try:
        conn.executescript(schema)
    except sqlite3.Error as exc:
        conn.close()
        raise state_db_error(db, f"cannot open {what}", exc) from exc
    return db, conn


class BackgroundCheckpoints:
    """Checkpoint `db`'s WAL from a background thread every `interval_s` (PASSIVE: it never
    blocks a writer), for the duration of a ``with`` block.

    SQLite otherwise checkpoints inside the commit that takes the WAL past 1,000 pages, so one
    writer's commit in a few hundred pays for everybody's: a latency spike on whatever bar the
    trading engine was at. Checkpointed often, the WAL restarts small and no commit carries
    one. Failures are ignored: a checkpoint not done now is done by the next one, or by
    SQLite's own on commit as before."""

    def __init__(self, db: Path, interval_s: float = 0.25) -> None:
        self.db = db
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundCheckpoints:
        self._thread = threading.Thread(target=self._run, name="rara-wal-checkpoint", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            conn = connect(self.db)
        except (sqlite3.Error, OSError):
            return
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:
                    continue
        finally:
            conn.close()
