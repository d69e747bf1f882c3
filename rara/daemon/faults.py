"""A test hook: faults injected into named components of a real daemon, so the stall path, the
watchdog and the restarts can be tested end to end without a component made to misbehave.

``RARA_DAEMON_FAULTS`` is a comma-separated list (unset or empty: no faults, the normal case):

- ``stall:NAME``: NAME's progress stops counting: its beats are swallowed, so after
  ``[daemon] stall_after_s`` the supervisor sees it stalled and the systemd watchdog pings stop;
  ``stall:NAME@N`` lets its first N-1 beats through and swallows the rest. The supervisor then
  sets NAME's stopping event; a NAME that ends is restarted and stalls again, until
  ``restart_max`` restarts in the window give it up (and the pings resume: nothing stalls);
- ``crash:NAME@N``: NAME's Nth beat in this process (counted across its restarts) raises
  `FaultInjected`, once: the crash path (a restart, or a halted trading component).

NAME is the component's name (``research``, ``sentinel``, ``trading:<strategy_id>:<account>``).
Not a setting: nothing in a production deployment should set it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from rara.errors import BadInput
from rara.supervision import Progress

ENV_VAR = "RARA_DAEMON_FAULTS"


class FaultInjected(RuntimeError):
    """The crash a ``crash:NAME@N`` fault raises from NAME's beat."""


class Faults(BaseModel):
    """Which components stall (from which beat) and which crash (at which beat)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stall: dict[str, int] = Field(default_factory=dict, description="name -> first swallowed beat")
    crash: dict[str, int] = Field(default_factory=dict, description="name -> beat that raises")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Faults:
        env = os.environ if environ is None else environ
        return cls.parse(env.get(ENV_VAR, ""))

    @classmethod
    def parse(cls, text: str) -> Faults:
        stall: dict[str, int] = {}
        crash: dict[str, int] = {}
        for item in (t.strip() for t in text.split(",")):
            if not item:
                continue
            kind, _, rest = item.partition(":")
            name, at, nth = rest.rpartition("@") if "@" in rest else (rest, "", "")
            if kind not in ("stall", "crash") or not name or (at and not nth.isdigit()):
                raise BadInput(
                    "bad_daemon_fault",
                    f"{ENV_VAR}: {item!r} is not stall:NAME[@N] or crash:NAME@N",
                    "e.g. RARA_DAEMON_FAULTS=stall:sentinel,crash:research@2 (a test hook)",
                )
            if kind == "crash" and not at:
                raise BadInput(
                    "bad_daemon_fault",
                    f"{ENV_VAR}: {item!r} needs the beat that crashes",
                    "write crash:NAME@N, e.g. crash:research@2",
                )
            n = max(1, int(nth)) if at else 1
            (stall if kind == "stall" else crash)[name] = n
        return cls(stall=stall, crash=crash)

    def __bool__(self) -> bool:
        return bool(self.stall or self.crash)

    def counter(self) -> FaultCounter:
        """The per-process beat counts these faults are judged against (one per daemon)."""
        return FaultCounter(self)


class FaultCounter:
    """Counts each faulted component's beats across its restarts, and hands out the `Progress`
    a component gets: the plain one, or one that swallows or raises as the faults say."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._lock = threading.Lock()
        self._beats: dict[str, int] = {}
        self._crashed: set[str] = set()

    def progress(self, name: str, clock: Callable[[], float] = time.monotonic) -> Progress:
        if name not in self.faults.stall and name not in self.faults.crash:
            return Progress(clock)
        return _FaultyProgress(self, name, clock)

    def _next(self, name: str) -> tuple[bool, bool]:
        """Count one beat of `name`: (swallow it, raise on it)."""
        with self._lock:
            n = self._beats[name] = self._beats.get(name, 0) + 1
            crash_at = self.faults.crash.get(name)
            crash = crash_at is not None and n >= crash_at and name not in self._crashed
            if crash:
                self._crashed.add(name)
            stall_at = self.faults.stall.get(name)
            return stall_at is not None and n >= stall_at, crash


class _FaultyProgress(Progress):
    def __init__(self, counter: FaultCounter, name: str, clock: Callable[[], float]) -> None:
        super().__init__(clock)
        self._counter = counter
        self._name = name

    def beat(self, detail: str | None = None) -> None:
        swallow, crash = self._counter._next(self._name)
        if crash:
            raise FaultInjected(f"fault hook: crash:{self._name} ({ENV_VAR})")
        if not swallow:
            super().beat(detail)
