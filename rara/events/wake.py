"""Wake-ups on append, within one process: every commit of events to a state DB (`EventStore`'s
appends, `seal`'s sealed rows) rings that DB's bell, and whoever listens on the same DB in this
process hears it at once.

A reader that follows the log (the gRPC server's event streams, inside the daemon) waits on the
bell instead of sleeping out a poll interval, so a new event reaches it as soon as it is
committed. The bell says only "the log's head is now this seq": the listener re-reads the log
from its own cursor up to it, so a missed or extra ring costs a read, never an event. Appends by
other processes ring nothing here; a listener keeps polling for those.

    with listening(db_path, callback):      # callback(head_seq) runs on the appender's thread
        ...
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

Callback = Callable[[int], None]  # called with the head seq just committed

_lock = threading.Lock()
_listeners: dict[str, list[Callback]] = {}


@functools.lru_cache(maxsize=256)
def bell_key(path: Path | str) -> str:
    """One key per database file, however its path is spelt (cached: appends ask each time)."""
    return os.path.realpath(path)


def ring(key: str, head_seq: int) -> None:
    """Tell every listener on `key` (a `bell_key`) that events up to `head_seq` were committed.
    Cheap when
    nobody listens: one dict lookup. Callbacks must not block (they run on the appender's
    thread, after its commit)."""
    listeners = _listeners.get(key)
    if not listeners:
        return
    with _lock:
        listeners = list(_listeners.get(key, ()))
    for callback in listeners:
        callback(head_seq)


@contextmanager
def listening(path: Path | str, callback: Callback) -> Iterator[None]:
    """Call `callback(head_seq)` after each commit to the DB at `path` in this process, while
    inside."""
    key = bell_key(path)
    with _lock:
        _listeners.setdefault(key, []).append(callback)
    try:
        yield
    finally:
        with _lock:
            found = _listeners.get(key, [])
            found.remove(callback)
            if not found:
                _listeners.pop(key, None)
