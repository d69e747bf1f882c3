"""A real `rara run` daemon as a subprocess, for the daemon's acceptance tests: start it, wait for
what it logs, read its status, stop it with a signal or kill it.

    with DaemonProcess(home, "--speed", "max") as d:
        d.wait_ready()
        d.wait_event("feedback_strategy_promote", lambda e: e.payload["to_stage"] == "paper")
        assert d.stop() == 0            # SIGTERM: a clean stop
    d.events("daemon_stopped")

Everything is read from the home's state DB, read-only, the way `rara status` does; stdout and
stderr go to files under the home (``daemon-<n>.out`` / ``.err``) so a killed daemon's output
survives for the failure message.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rara.closing import Closing
from rara.events import Event, EventFilter, open_event_store
from tests.kit.live import wait_for
from tests.kit.paths import REPO

SERVER_ANY_PORT = {"RARA_SERVER__PORT": "0"}


def read_events(home: Path, type_: str | None = None, after_seq: int = 0) -> list[Event]:
    """The home's events (of one type), oldest first; [] before the state DB exists."""
    db = home / "rara.db"
    if not db.exists():
        return []
    with open_event_store(db, readonly=True) as store:
        where = EventFilter(types=[type_]) if type_ else EventFilter()
        return store.query(where, after_seq=after_seq)


def last_seq(home: Path) -> int:
    db = home / "rara.db"
    if not db.exists():
        return 0
    with open_event_store(db, readonly=True) as store:
        return store.last_seq()


class DaemonProcess(Closing):
    """`rara run ARGS` on `home` (its own process group), with `env` added; its gRPC server
    binds any free loopback port unless `env` names one (``RARA_SERVER__PORT``)."""

    def __init__(self, home: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.started_after_seq = last_seq(home)
        n = len(list(home.glob("daemon-*.out")))
        self.out_path = home / f"daemon-{n}.out"
        self.err_path = home / f"daemon-{n}.err"
        cmd = [sys.executable, "-m", "rara", "run", *args]
        # the gRPC server on any free port unless a test names one: daemons of parallel runs
        # on one machine never fight over 50051
        full_env = {**os.environ, "RARA_HOME": str(home), **SERVER_ANY_PORT, **(env or {})}
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                cmd, env=full_env, cwd=REPO, stdout=out, stderr=err, start_new_session=True
            )

    # ---- reading ---------------------------------------------------------------------------
    def events(self, type_: str | None = None) -> list[Event]:
        """Events this process's run could have written (after its start), oldest first."""
        return read_events(self.home, type_, self.started_after_seq)

    def output(self) -> str:
        return self.out_path.read_text() + "\n--- stderr ---\n" + self.err_path.read_text()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    # ---- waiting ---------------------------------------------------------------------------
    def wait_event(
        self,
        type_: str,
        where: Callable[[Event], bool] = lambda e: True,
        timeout_s: float = 180.0,
    ) -> Event:
        """The first event of `type_` since the start that `where` accepts; fails (with the
        daemon's output) if the daemon exits first or the time runs out."""

        def found() -> Event | None:
            hits = [e for e in self.events(type_) if where(e)]
            if hits:
                return hits[0]
            if not self.alive:
                raise AssertionError(
                    f"the daemon exited ({self.proc.returncode}) before {type_}:\n"
                    + self.output()[-4000:]
                )
            return None

        got: Event = wait_for(found, timeout_s, every_s=0.2, why=f"{type_} from the daemon")
        return got

    def wait_ready(self, timeout_s: float = 180.0) -> Event:
        return self.wait_event("daemon_ready", timeout_s=timeout_s)

    # ---- ending ----------------------------------------------------------------------------
    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 120.0) -> int:
        """Send `sig` and wait for the exit code."""
        if self.alive:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL the whole process group (the daemon and any child it started) and reap."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(60)

    def close(self) -> None:
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.kill()


def payload(e: Event) -> dict[str, Any]:
    return e.payload
