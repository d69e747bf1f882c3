"""systemd's ``sd_notify`` protocol, spoken directly: one datagram per message on the unix socket
named by ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). No libsystemd.

Under ``Type=notify`` systemd waits for ``READY=1`` before it counts the service as started (the
daemon sends it after reconciliation), and with ``WatchdogSec=`` it kills and restarts a service
that stops sending ``WATCHDOG=1`` within the interval it passes in ``$WATCHDOG_USEC``. Outside
systemd (no ``$NOTIFY_SOCKET``) every call is a no-op, so the daemon runs the same anywhere::

    notifier = Notifier.from_env()
    notifier.ready("reconciled 2 accounts")
    interval = notifier.watchdog_interval_s()   # None: no watchdog asked for
    notifier.watchdog()                         # every interval / 2 while healthy
    notifier.stopping()

A send that fails (systemd went away, the socket is full) is logged and dropped: the daemon's
work never depends on its supervisor hearing it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping

from rara.closing import Closing

log = logging.getLogger(__name__)


class Notifier(Closing):
    """A client of the notify socket at `address` (None: every call does nothing)."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self._watchdog_usec = watchdog_usec
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.sent = 0  # datagrams sent, for `rara status` and tests

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, pid: int | None = None) -> Notifier:
        """From ``$NOTIFY_SOCKET``, ``$WATCHDOG_USEC`` and ``$WATCHDOG_PID`` (the watchdog is
        this process's only when WATCHDOG_PID is unset or names it: a child started by the
        service must not answer for it)."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        raw = env.get("WATCHDOG_USEC", "").strip()
        wd_pid = env.get("WATCHDOG_PID", "").strip()
        mine = not wd_pid or (wd_pid.isdigit() and int(wd_pid) == (pid or os.getpid()))
        if raw.isdigit() and int(raw) > 0 and mine:
            usec = int(raw)
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def watchdog_interval_s(self) -> float | None:
        """The watchdog's timeout in seconds (ping at half of it), or None when none is set."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 1_000_000

    # -- messages ----------------------------------------------------------------------------

    def ready(self, status: str) -> bool:
        """Start-up is finished (after reconciliation): systemd counts the service as up."""
        return self.notify(f"READY=1\nSTATUS={_one_line(status)}")

    def watchdog(self) -> bool:
        """Still alive and making progress."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """A clean stop has begun."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """A free-form line `systemctl status` shows."""
        return self.notify(f"STATUS={_one_line(text)}")

    def notify(self, message: str) -> bool:
        """Send one datagram; whether it was sent (False when disabled or the send failed)."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        with self._lock:
            try:
                if self._sock is None:
                    kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                    self._sock = socket.socket(socket.AF_UNIX, kind)
                    # never wait for systemd: a full queue (it reads slowly, or not at all)
                    # must drop the message, not freeze the supervisor's loop in a send
                    self._sock.setblocking(False)
                self._sock.sendto(message.encode(), target)
            except OSError as exc:
                log.warning("sd_notify to %s failed: %s", self.address, exc)
                return False
            self.sent += 1
            return True

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None


def _one_line(text: str) -> str:
    # a newline would start another assignment in the datagram
    return " ".join(text.split())[:200]
