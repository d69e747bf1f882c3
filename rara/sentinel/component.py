"""The sentinel as a daemon component: poll, beat, wait, until the daemon stops it.

It serves the webhook too when ``[sentinel] webhook_port`` is set (started on the first run and
kept across restarts of the loop; the daemon closes it with the `Sentinel`); the port it bound
(any free one for ``webhook_port = 0``) is in its progress detail, so in `rara status`. A poll
that raises (the state DB failing under it) is a crash: the supervisor restarts the component
("always").

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
        webhook = ""
        if self.sentinel.settings.webhook_port is not None:
            port = self.sentinel.start_webhook()
            webhook = f"; webhook on 127.0.0.1:{port}"
            progress.beat(webhook[2:])
        while not stopping.is_set():
            # the bound port stays in the detail (`rara status`): with webhook_port = 0 it is
            # the only place a client learns it
            signals = self.sentinel.poll_once(
                on_progress=lambda what: progress.beat(what + webhook)
            )
            progress.beat(
                f"polled {len(self.sentinel.settings.feeds)} feeds: {len(signals)} new signals"
                + webhook
            )
            left = self.interval_s
            while left > 0 and not stopping.is_set():
                step = min(left, IDLE_BEAT_S)
                if stopping.wait(step):
                    return
                left -= step
                progress.beat()
