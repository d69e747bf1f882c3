"""One process at a time per research run: a lock file per run id, held while the run's loop
runs, so a ``--resume`` of a run that is still running (or two resumes at once) is refused
instead of two loops writing one run's experiments."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rara.errors import Refused
from rara.home import Home


@contextmanager
def run_lock(home: Home, run_id: str) -> Iterator[None]:
    """Hold ``run_id``'s lock for the duration; `Refused` if another process holds it. The OS
    drops the lock when its holder dies, however it dies, so a killed run can be resumed."""
    path = home.ensure(home.run_locks_dir) / f"{run_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(
                "run_in_progress",
                f"research run {run_id} is running in another process",
                "wait for it to end (or stop it with Ctrl-C), then resume it",
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
