"""One daemon per ``$RARA_HOME``: an exclusive ``flock`` on `Home.lock_file`, held for the
daemon's whole life, with its pid written inside for `rara status` and for the error a second
daemon gets.

The kernel drops a flock when its holder dies, however it dies, so the file a SIGKILLed daemon
leaves behind never blocks the next one: the lock is the flock, never the file's existence.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rara.errors import Refused
from rara.home import Home


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


@contextmanager
def instance_lock(home: Home) -> Iterator[int]:
    """Hold the home's daemon lock for the duration (yields this pid); `Refused`
    (``daemon_running``) when another process holds it."""
    path = home.ensure(home.root) / home.lock_file.name
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            who = f"pid {pid}" if pid is not None else "a process that has not written its pid yet"
            raise Refused(
                "daemon_running",
                f"a rara daemon is already running on {home.root} ({who})",
                f"stop it with `kill -TERM {pid if pid is not None else 'PID'}`, or use another "
                "RARA_HOME",
            ) from None
        pid = os.getpid()
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{pid}\n".encode(), 0)
        try:
            yield pid
        finally:
            os.ftruncate(fd, 0)  # a reader between here and close sees no stale pid
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def running_daemon(home: Home) -> int | None:
    """The pid of the daemon holding the home's lock, or None when none runs (-1: one holds it
    but has not written its pid yet, a moment at its start). Reads only: a home without a lock
    file stays untouched."""
    try:
        fd = os.open(home.lock_file, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            # a shared lock we can take means nobody holds the exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1  # held, pid not written yet: running, pid unknown
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
