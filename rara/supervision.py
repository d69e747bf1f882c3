"""The port every component the daemon supervises implements, and the heartbeat it reports
progress on. It lives outside `rara.daemon` so that the packages whose loops the daemon runs
(research, feedback, the sentinel) can implement it without importing the daemon.

A component is a blocking loop run in a thread of its own (the engines, research and the
sentinel are synchronous code). It calls ``progress.beat()`` from inside its work loop, at least
once per unit of work and at least every few seconds while idle, so the supervisor can tell a
component that is waiting from one that is stuck. It returns when ``stopping`` is set (promptly:
waits use ``stopping.wait(timeout)``), or when its work is finished; raising is a crash::

    class Sentinel:
        name, kind, restart = "sentinel", "sentinel", "always"

        def run(self, progress: Progress, stopping: threading.Event) -> None:
            while not stopping.is_set():
                self.poll_once()
                progress.beat("polled 3 feeds")
                stopping.wait(self.interval_s)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal, Protocol

from rara.domain.events import ComponentKind

# "always": restart after a crash, with backoff, up to the cap per window (research, sentinel,
# feedback). "halt": never restarted silently; the supervisor halts it and tells the daemon,
# which restarts it only after reconciliation (trading engines).
RestartPolicy = Literal["always", "halt"]


class Progress:
    """A thread-safe heartbeat: the last time (monotonic seconds) its component made progress,
    and what it was doing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._at = clock()
        self._detail = "starting"
        self._beats = 0

    def beat(self, detail: str | None = None) -> None:
        with self._lock:
            self._at = self._clock()
            self._beats += 1
            if detail is not None:
                self._detail = detail

    @property
    def last_beat(self) -> float:
        with self._lock:
            return self._at

    @property
    def detail(self) -> str:
        with self._lock:
            return self._detail

    @property
    def beats(self) -> int:
        with self._lock:
            return self._beats

    def idle_s(self) -> float:
        """Seconds since the last beat."""
        return self._clock() - self.last_beat


class Component(Protocol):
    """One supervised unit of work. ``name`` is stable across restarts (``research``,
    ``sentinel``, ``feedback``, ``trading:<strategy_id>:<account>``)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ComponentKind: ...

    @property
    def restart(self) -> RestartPolicy: ...

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        """Work until ``stopping`` is set or the work is done; raise on failure."""
        ...
