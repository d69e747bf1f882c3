"""`environment_fault`: which errors are the machine's state and what each is called. The CLI
tests produce the faults for real (tests/cli/test_environment_faults.py); these cover the ones a
test cannot cause on demand (a really full disk, a lock held past the busy timeout)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest

from rara.cli.faults import environment_fault
from rara.errors import RaraError


def sqlite_error(message: str) -> sqlite3.OperationalError:
    return sqlite3.OperationalError(message)


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/x/data/a.parquet"), "disk_full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/x/data/a.parquet"), "disk_full"),
        (OSError(errno.EFBIG, "File too large"), "disk_full"),
        (OSError(errno.EROFS, "Read-only file system"), "read_only_home"),
        (OSError(errno.EACCES, "Permission denied", "/elsewhere/report.html"), "permission_denied"),
        (OSError(errno.ENOTDIR, "Not a directory", "/x/config.toml"), "bad_path"),
        (sqlite_error("database or disk is full"), "disk_full"),
        (sqlite_error("attempt to write a readonly database"), "read_only_home"),
        (sqlite_error("database is locked"), "state_db_busy"),
        (sqlite_error("disk I/O error"), "disk_io_error"),
    ],
)
def test_each_fault_has_its_code_and_a_suggestion(exc: BaseException, code: str) -> None:
    fault = environment_fault(exc)
    assert fault is not None and fault.code == code and fault.suggestion


def test_a_store_error_is_judged_by_its_cause(rara_home: Path) -> None:
    try:
        try:
            raise sqlite_error("database or disk is full")
        except sqlite3.Error as cause:
            raise RaraError("state_db_error", "cannot open research tables") from cause
    except RaraError as exc:
        fault = environment_fault(exc.__cause__)
    assert fault is not None and fault.code == "disk_full" and str(rara_home) in fault.suggestion


@pytest.mark.parametrize(
    "exc",
    [
        KeyError("oops"),
        OSError(errno.ECONNREFUSED, "Connection refused"),
        sqlite_error("no such table: experiments"),
        None,
    ],
)
def test_other_failures_are_not_the_environments(exc: BaseException | None) -> None:
    assert environment_fault(exc) is None
