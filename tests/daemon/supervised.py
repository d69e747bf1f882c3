"""Test kit for the supervisor: small real components (threads that beat, crash, stall or
finish), a supervisor running on its own event loop in a background thread, a fake systemd
notify socket, and waiting with a generous deadline (never an assertion on time)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rara.daemon.supervisor import Supervisor
from rara.daemon_settings import DaemonSettings
from rara.domain.events import ComponentKind, DaemonComponentChanged
from rara.events import EventFilter, EventStore
from rara.supervision import Progress, RestartPolicy
from tests.kit.patience import patience

FAST = DaemonSettings(
    restart_backoff_s=0.05,
    restart_backoff_max_s=0.2,
    restart_max=3,
    restart_window_s=5.0,
    stall_after_s=60.0,
    status_interval_s=0.1,
    stop_timeout_s=10.0,
)


def wait_until(what: str, predicate: Callable[[], bool], quiet_s: float = 2.0) -> None:
    deadline = time.monotonic() + patience(quiet_s)
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def changes(store: EventStore, name: str | None = None) -> list[DaemonComponentChanged]:
    out: list[DaemonComponentChanged] = []
    for ev in store.query(EventFilter(types=[DaemonComponentChanged])):
        p = ev.typed()
        assert isinstance(p, DaemonComponentChanged)
        assert (ev.source, ev.correlation_id) == ("daemon", p.daemon_id)
        if name is None or p.component == name:
            out.append(p)
    return out


def states(store: EventStore, name: str) -> list[str]:
    return [c.state for c in changes(store, name)]


class Worker:
    """Beats every `every_s` until stopping; `crash_on` makes start N (1-based) raise after
    its first beat; `finish_after` beats makes it return by itself; `hold` set makes the first
    start stop beating and block (ignoring stopping) until `release` is set."""

    def __init__(
        self,
        name: str,
        *,
        kind: ComponentKind = "research",
        restart: RestartPolicy = "always",
        crash_on: Callable[[int], bool] = lambda n: False,
        finish_after: int | None = None,
        every_s: float = 0.01,
    ) -> None:
        self.name, self.kind, self.restart = name, kind, restart
        self.crash_on = crash_on
        self.finish_after = finish_after
        self.every_s = every_s
        self.starts = 0
        self.exits = 0
        self.hold = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        with self._lock:
            self.starts += 1
            n = self.starts
        try:
            beats = 0
            while not stopping.is_set():
                if self.hold.is_set() and n == 1:
                    self.release.wait()
                    return
                progress.beat(f"beat {beats}")
                beats += 1
                if self.crash_on(n):
                    raise RuntimeError(f"boom on start {n} api_key=sk-abcdefghijklmnopqrstuvwx")
                if self.finish_after is not None and beats >= self.finish_after:
                    return
                stopping.wait(self.every_s)
        finally:
            with self._lock:
                self.exits += 1


@contextmanager
def supervising(sup: Supervisor) -> Iterator[Supervisor]:
    """Run `sup` on an event loop in a background thread; on exit, set its stop and wait for
    `run` to return (it joins every component)."""
    loop = asyncio.new_event_loop()
    stop_box: list[asyncio.Event] = []
    done = threading.Event()
    errors: list[BaseException] = []

    async def main() -> None:
        stop = asyncio.Event()
        stop_box.append(stop)
        await sup.run(stop)

    def thread() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            errors.append(exc)
        finally:
            loop.close()
            done.set()

    t = threading.Thread(target=thread, name="test-supervisor", daemon=True)
    t.start()
    wait_until("the supervisor's loop", lambda: bool(stop_box) or done.is_set())
    try:
        yield sup
    finally:
        if not done.is_set():
            loop.call_soon_threadsafe(stop_box[0].set)
        assert done.wait(patience(3.0)), "the supervisor did not return after stop"
        t.join()
        if errors:
            raise errors[0]


class FakeSystemd(socket.socket):
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET, in the abstract
    namespace (no path length limit, nothing left on disk)."""

    def __init__(self) -> None:
        super().__init__(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.address = f"@rara-test-{uuid.uuid4().hex}"
        self.bind("\0" + self.address[1:])
        self.setblocking(False)

    def drain(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                out.append(self.recv(4096).decode())
            except BlockingIOError:
                return out
