"""The sentinel as a daemon component: poll, beat, wait, until the daemon stops it.

It serves the webhook too when ``[sentinel] webhook_port`` is set (started on the first run and
kept across restarts of the loop; the daemon closes it with the `Sentinel`). A poll that raises
(the state DB failing under it) is a crash: the supervisor restarts the component ("always").

It satisfies `rara.supervision.Component` structurally: the daemon imports the sentinel, so
the sentinel may not import the daemon (a cycle); `Heartbeat` is the part of its `Progress` used.
"""

from __future__ import annotations

import threading
from typing import Literal, Protocol

from rara.domain.events import ComponentKind
from rara.sentinel.sentinel import Sentinel

# beat at least this often while waiting between polls, so a long poll interval is not a stall
IDLE_BEAT_S = 5.0


class Heartbeat(Protocol):
    """What the component needs of `rara.supervision.Progress`."""

    def beat(self, detail: str | None = None) -> None: ...


class SentinelComponent:
    """`rara.supervision.Component` over a `Sentinel`, polling every `interval_s`."""

    def __init__(self, sentinel: Sentinel, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValueError("the sentinel's poll interval must be positive")
        self.sentinel = sentinel
        self.interval_s = interval_s

    @property
    def name(self) -> str:
        return "sentinel"

    @property
    def kind(self) -> ComponentKind:
        return "sentinel"

    @property
    def restart(self) -> Literal["always"]:
        return "always"

    def run(self, progress: Heartbeat, stopping: threading.Event) -> None:
        if self.sentinel.settings.webhook_port is not None:
            port = self.sentinel.start_webhook()
            progress.beat(f"webhook on 127.0.0.1:{port}")
        while not stopping.is_set():
            signals = self.sentinel.poll_once(on_progress=progress.beat)
            progress.beat(
                f"polled {len(self.sentinel.settings.feeds)} feeds: {len(signals)} new signals"
            )
            left = self.interval_s
            while left > 0 and not stopping.is_set():
                step = min(left, IDLE_BEAT_S)
                if stopping.wait(step):
                    return
                left -= step
                progress.beat()
