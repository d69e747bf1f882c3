"""Environment faults as the error contract: a home that cannot be written, a full disk, a path
that is not a directory. These are the machine's state, not rara's bugs, so they are never
"internal": each gets a stable code and a suggestion of what to do about it.

`environment_fault` looks at an exception and what caused it (a store wraps SQLite's error in
its own, ``raise ... from``), and answers None when the failure is not the environment's.
"""

from __future__ import annotations

import errno
import os
import sqlite3

from rara.errors import RaraError
from rara.home import ENV_VAR, Home
from rara.state import read_only_home

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
_BAD_PATH = {errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP}

_SPACE = "free disk space (`df -h {where}`) or raise the file-size limit (`ulimit -f`), then rerun"


def _home_hint(path: str | None) -> str:
    """Where the failing path is, said so the suggestion names what to fix."""
    if path is None or _under_home(path):
        return f"${ENV_VAR} ({Home.from_env().root})"
    return path


def _under_home(path: str | None) -> bool:
    root = os.path.abspath(Home.from_env().root)
    return path is not None and (os.path.abspath(path) + os.sep).startswith(root + os.sep)


def _from_os_error(exc: OSError) -> RaraError | None:
    path = exc.filename if isinstance(exc.filename, str) else None
    what = f"{path}: " if path else ""
    reason = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL:
        return RaraError(
            "disk_full",
            f"cannot write {path}: {reason}" if path else f"a write failed: {reason}",
            _SPACE.format(where=path or Home.from_env().root),
        )
    if exc.errno in _NOT_WRITABLE:
        if _under_home(path) or path is None:
            return read_only_home(Home.from_env().root, f"cannot write {what}{reason}")
        return RaraError(
            "permission_denied",
            f"{what}{reason}",
            "check that path's permissions (or pick another path) and rerun",
        )
    if exc.errno in _BAD_PATH:
        return RaraError(
            "bad_path",
            f"cannot use {what}{reason}",
            f"check that every part of {_home_hint(path)} is a directory (set {ENV_VAR} to one)",
        )
    return None


def _from_sqlite_error(exc: sqlite3.Error) -> RaraError | None:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    home = Home.from_env()
    if name == "SQLITE_FULL" or "disk is full" in text:
        return RaraError(
            "disk_full",
            f"the state database {home.state_db} is full: {text}",
            _SPACE.format(where=home.root),
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")) or "readonly database" in text:
        return read_only_home(home.root, f"cannot open the state database for writing ({text})")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return RaraError(
            "state_db_busy",
            f"the state database {home.state_db} stayed locked by another process: {text}",
            "another rara process is writing to this home; let it finish (or stop it), then rerun",
        )
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return RaraError(
            "disk_io_error",
            f"the state database {home.state_db} could not be written: {text}",
            f"check free space (`df -h {home.root}`), the file-size limit (`ulimit -f`) and that "
            f"${ENV_VAR} is writable, then rerun",
        )
    return None


def environment_fault(exc: BaseException | None) -> RaraError | None:
    """The environment fault behind `exc` (itself or a cause), as an error; None if none."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        fault = None
        if isinstance(cur, OSError):
            fault = _from_os_error(cur)
        elif isinstance(cur, sqlite3.Error):
            fault = _from_sqlite_error(cur)
        if fault is not None:
            return fault
        cur = cur.__cause__ or cur.__context__
    return None
