"""The supervisor: runs each component's blocking loop in a thread of its own, one-for-one
restarts, stall detection and the systemd watchdog.

**Threads.** Each start of a component is a plain ``threading.Thread`` (daemon=True) running
``component.run(progress, stopping)``; the asyncio loop in `run` watches them on a short tick.
Not ``asyncio.to_thread``: its executor joins its threads when the loop closes, so one stuck
component would hang the process's exit, and a thread per start is what restarts need anyway.
The worker only records how its run ended; every decision (restart, give up, halt) and every
event is made on the loop's tick, so they come in one order. `add` and `remove` may be called
from any thread (the lock guards the slots; the event store is thread-safe).

**Policies.** ``restart="always"`` (research, sentinel, feedback): a crash is a
``daemon_component_changed`` event ``crashed`` (detail: the error's type and message, redacted,
never a traceback), then ``restarting`` with the backoff (``restart_backoff_s`` doubled per
restart in the window, capped at ``restart_backoff_max_s``), then ``running``; more than
``restart_max`` restarts within ``restart_window_s`` is ``given_up`` and it stays down.
``restart="halt"`` (trading): never restarted here; ``halted`` and ``on_halt(name, exc)``, and
the daemon halts the strategy and `add`s it again after reconciliation. A run that returns by
itself is ``stopped`` (its work is done) and is not restarted.

**Stalls.** A running component that has not beaten for ``stall_after_s`` is ``stalled`` (one
event per stall) and `healthy` is False, which stops the ``WATCHDOG=1`` pings. The supervisor
sets its stopping event; if its thread ends, it is restarted per its policy. A thread cannot be
killed: when a stuck one never ends, the missing pings make systemd (``WatchdogSec=``) kill the
whole process and start it again (``Restart=on-failure``), and the start-up reconciles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rara.daemon.faults import Faults
from rara.daemon.notify import Notifier
from rara.daemon.status import ComponentStatus, StatusWriter
from rara.daemon_settings import DaemonSettings
from rara.domain.events import ComponentState, DaemonComponentChanged
from rara.events import EventStore
from rara.llm.provider import redact
from rara.supervision import Component, Progress

log = logging.getLogger(__name__)

SOURCE = "daemon"
_DETAIL_MAX = 300
_LIVE = ("running", "stalled")  # states with a thread of their own


def error_detail(exc: BaseException) -> str:
    """What an event says about a crash: type and first line of the message, redacted, short."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return redact(detail)[:_DETAIL_MAX]


@dataclass
class _Slot:
    """One component under supervision, across its restarts."""

    component: Component
    progress: Progress
    stopping: threading.Event
    thread: threading.Thread | None = None
    state: ComponentState = "starting"
    restart_times: deque[float] = field(default_factory=deque)
    next_start_at: float | None = None
    ended: bool = False  # the current thread's run is over (set by the thread)
    error: BaseException | None = None
    stall_stop: bool = False  # stopping was set because it stalled: restart when it ends
    removed: bool = False
    last_error: str | None = None


class Supervisor:
    """One-for-one supervision of the daemon's components (see the module docstring)."""

    def __init__(
        self,
        store: EventStore,
        daemon_id: str,
        settings: DaemonSettings,
        *,
        notifier: Notifier | None = None,
        status: StatusWriter | None = None,
        on_halt: Callable[[str, BaseException | None], None] | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float | None = None,
    ) -> None:
        self.store = store
        self.daemon_id = daemon_id
        self.settings = settings
        self.notifier = notifier
        self.status = status
        self.on_halt = on_halt
        self._faults = (faults or Faults()).counter()
        self._clock = clock
        self._lock = threading.RLock()
        self._slots: dict[str, _Slot] = {}
        self._closing = False  # stop_all has begun: nothing new starts
        self.ticks = 0  # turns of `run`'s loop: lets a test wait some turns without a clock
        self.tick_s = tick_s or max(
            0.01,
            min(
                0.5,
                settings.stall_after_s / 5,
                settings.restart_backoff_s / 2,
                settings.status_interval_s / 2,
            ),
        )

    # -- the API the daemon calls --------------------------------------------------------------

    def add(self, component: Component) -> None:
        """Supervise `component` and start it now, in its own thread. ValueError if a component
        of that name is running (or about to restart); a halted, given-up or stopped one of
        that name is replaced (a trading engine restarted after reconciliation). ValueError too
        once the supervisor is stopping: a component started then would outlive the stop."""
        with self._lock:
            if self._closing:
                raise ValueError(f"the daemon is stopping; {component.name!r} not started")
            old = self._slots.get(component.name)
            if old is not None and (old.state in (*_LIVE, "restarting", "starting")):
                raise ValueError(f"component {component.name!r} is already {old.state}")
            slot = _Slot(component, Progress(self._clock), threading.Event())
            self._slots[component.name] = slot
            self._start(slot)

    def remove(self, name: str, timeout_s: float | None = None) -> bool:
        """Stop `name` and supervise it no more: set its stopping event and wait up to
        `timeout_s` for its thread. True when it ended in time (or was not running); a thread
        that ends later is forgotten then, never restarted."""
        with self._lock:
            slot = self._slots.get(name)
            if slot is None:
                return True
            slot.removed = True
            slot.stopping.set()
            thread = slot.thread
        if thread is not None and thread.is_alive():
            thread.join(timeout_s)
            if thread.is_alive():
                return False
        with self._lock:
            if self._slots.get(name) is slot:
                del self._slots[name]
                if slot.state not in ("stopped", "halted", "given_up"):
                    self._event(slot, "stopped", "removed")
        return True

    def names(self) -> list[str]:
        with self._lock:
            return list(self._slots)

    def healthy(self) -> bool:
        """Every component with a running thread beat within ``stall_after_s``, and none is
        stalled (one whose thread ended on being stopped is stalled until the tick decides
        what follows, so no ping slips in between)."""
        limit = self.settings.stall_after_s
        with self._lock:
            return all(
                s.state != "stalled" and (s.ended or s.progress.idle_s() <= limit)
                for s in self._slots.values()
                if s.state in _LIVE
            )

    def snapshot(self) -> list[ComponentStatus]:
        with self._lock:
            return [
                ComponentStatus(
                    name=name,
                    kind=s.component.kind,
                    state=s.state,
                    restarts=self._restarts(s),
                    idle_s=max(0.0, s.progress.idle_s()),
                    detail=s.progress.detail if s.state in _LIVE else _pending_detail(s),
                    last_error=s.last_error,
                )
                for name, s in self._slots.items()
            ]

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until `stop` is set, then stop every component (set each stopping event,
        join them all within ``stop_timeout_s``) and return."""
        interval = self.notifier.watchdog_interval_s() if self.notifier else None
        ping_every = None if interval is None else interval / 2
        tick_s = self.tick_s if ping_every is None else min(self.tick_s, ping_every / 2)
        next_ping = self._clock()
        next_status = self._clock()
        try:
            while not stop.is_set():
                self._tick()
                self.ticks += 1
                now = self._clock()
                if ping_every is not None and now >= next_ping and self.healthy():
                    assert self.notifier is not None
                    self.notifier.watchdog()
                    next_ping = now + ping_every
                if self.status is not None and now >= next_status:
                    self._write_status()
                    next_status = now + self.settings.status_interval_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), tick_s)
        finally:
            await asyncio.to_thread(self.stop_all, self.settings.stop_timeout_s)
            if self.status is not None:
                self._write_status()

    def stop_all(self, timeout_s: float) -> list[str]:
        """Set every stopping event and join all threads within `timeout_s` in total; the names
        of those still running after it (left behind: the process exits without them)."""
        with self._lock:
            self._closing = True
            slots = list(self._slots.values())
            for s in slots:
                s.removed = True  # no restart from here on
                s.stopping.set()
        deadline = self._clock() + timeout_s
        for s in slots:
            if s.thread is not None:
                s.thread.join(max(0.0, deadline - self._clock()))
        stuck: list[str] = []
        with self._lock:
            for s in slots:
                if s.thread is not None and s.thread.is_alive():
                    stuck.append(s.component.name)
                    self._event(s, "stopped", f"still running after {timeout_s:g}s; left behind")
                elif s.state not in ("stopped", "halted", "given_up"):
                    self._event(s, "stopped", "daemon stopping")
        if stuck:
            log.warning("components still running at stop: %s", ", ".join(stuck))
        return stuck

    # -- inside ---------------------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        name = slot.component.name
        slot.progress = self._faults.progress(name, self._clock)
        slot.stopping = threading.Event()
        slot.ended, slot.error, slot.stall_stop, slot.next_start_at = False, None, False, None
        slot.thread = threading.Thread(
            target=self._work, args=(slot,), name=f"rara-{name}", daemon=True
        )
        self._event(slot, "running", "started")
        slot.thread.start()

    def _work(self, slot: _Slot) -> None:
        try:
            slot.component.run(slot.progress, slot.stopping)
        except BaseException as exc:  # a crash, whatever it is, is the supervisor's to judge
            slot.error = exc
        finally:
            slot.ended = True  # the tick decides what follows, on the loop's thread

    def _tick(self) -> None:
        halts: list[tuple[str, BaseException | None]] = []
        with self._lock:
            now = self._clock()
            for name, slot in list(self._slots.items()):
                if slot.state in _LIVE and slot.ended:
                    halted = self._ended(slot, now)
                    if halted is not None:
                        halts.append((name, halted[0]))
                    if slot.removed:
                        del self._slots[name]
                elif slot.state == "running" and not slot.removed:
                    if slot.progress.idle_s() > self.settings.stall_after_s:
                        slot.stall_stop = True
                        slot.stopping.set()
                        idle = slot.progress.idle_s()
                        self._event(slot, "stalled", f"no progress for {idle:.0f}s")
                elif slot.state == "stalled" and not slot.removed:
                    if slot.progress.idle_s() <= self.settings.stall_after_s:
                        # beating again though asked to stop: healthy; restarted once it ends
                        self._event(slot, "running", "progress again after a stall")
                elif (
                    slot.state == "restarting"
                    and slot.next_start_at is not None
                    and now >= slot.next_start_at
                    and not slot.removed
                ):
                    self._start(slot)
        for name, exc in halts:
            if self.on_halt is not None:
                try:
                    self.on_halt(name, exc)
                except Exception:
                    log.exception("on_halt(%s) failed", name)

    def _ended(self, slot: _Slot, now: float) -> tuple[BaseException | None] | None:
        """Decide what follows a finished run; (the error,) when the daemon must halt it."""
        exc = slot.error
        if exc is not None:
            slot.last_error = error_detail(exc)
        if slot.removed:
            self._event(slot, "stopped", "removed" if exc is None else slot.last_error or "")
            return None
        if exc is None and not slot.stall_stop:
            self._event(slot, "stopped", "finished")
            return None
        if exc is not None:
            self._event(slot, "crashed", slot.last_error or "")
        if slot.component.restart == "halt":
            why = slot.last_error if exc is not None else "stalled; stopped"
            self._event(slot, "halted", why or "")
            return (exc,)
        window = self.settings.restart_window_s
        while slot.restart_times and now - slot.restart_times[0] > window:
            slot.restart_times.popleft()
        if len(slot.restart_times) >= self.settings.restart_max:
            self._event(
                slot,
                "given_up",
                f"{len(slot.restart_times)} restarts within {window:g}s; not restarted",
            )
            return None
        slot.restart_times.append(now)
        n = len(slot.restart_times)
        delay = min(
            self.settings.restart_backoff_s * 2 ** (n - 1), self.settings.restart_backoff_max_s
        )
        slot.next_start_at = now + delay
        self._event(slot, "restarting", f"restart {n} in {delay:g}s", next_restart_s=delay)
        return None

    def _restarts(self, slot: _Slot) -> int:
        return len(slot.restart_times)

    def _event(
        self, slot: _Slot, state: ComponentState, detail: str, next_restart_s: float | None = None
    ) -> None:
        slot.state = state
        c = slot.component
        try:
            self.store.append(
                DaemonComponentChanged(
                    daemon_id=self.daemon_id,
                    component=c.name,
                    kind=c.kind,
                    state=state,
                    restarts=self._restarts(slot),
                    detail=detail[:_DETAIL_MAX],
                    next_restart_s=next_restart_s,
                ),
                source=SOURCE,
                correlation_id=self.daemon_id,
            )
        except Exception:  # the supervisor keeps supervising though the log cannot be written
            log.exception("recording %s %s failed", c.name, state)
        log.info("component %s: %s %s", c.name, state, detail)

    def _write_status(self) -> None:
        assert self.status is not None
        try:
            self.status.components(self.snapshot())
            self.status.heartbeat()
        except Exception:
            log.exception("writing the daemon's status failed")


def _pending_detail(slot: _Slot) -> str:
    if slot.state == "restarting":
        return "waiting to restart"
    return slot.last_error or ""
