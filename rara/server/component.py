"""The gRPC server as one of the daemon's supervised components (kind ``server``).

`rara run` hands `ServerComponent` to the daemon as its server factory (the daemon imports no
grpc). Its `run` is a blocking loop like every component's: an asyncio loop of its own on the
component's thread serves `RaraServer` with the daemon's `Control`, on the address ``[server]``
names (read at each start, so a restart after SIGHUP takes new values), and beats progress while
it serves. On the daemon's stop, health turns NOT_SERVING, in-flight calls get a short grace,
then the server stops. A crash (the port taken) is restarted by the supervisor with backoff.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from rara.domain.events import ComponentKind
from rara.server.app import RaraServer
from rara.supervision import Progress, RestartPolicy

if TYPE_CHECKING:
    from rara.daemon.options import DaemonParts

BEAT_S = 1.0  # how often a serving server beats (and looks whether the daemon stops)
STOP_GRACE_S = 1.0  # in-flight calls' time to finish at stop; streams are cut after it


class ServerComponent:
    name = "server"
    kind: ComponentKind = "server"
    restart: RestartPolicy = "always"

    def __init__(self, parts: DaemonParts) -> None:
        self.parts = parts
        self.port: int | None = None  # bound, while serving

    def run(self, progress: Progress, stopping: threading.Event) -> None:
        asyncio.run(self._serve(progress, stopping))

    async def _serve(self, progress: Progress, stopping: threading.Event) -> None:
        settings = self.parts.settings().server
        server = RaraServer(self.parts.home, settings, control=self.parts.control)
        progress.beat("binding")
        self.port = await server.start()
        doing = f"serving rara.v1 on {settings.host}:{self.port}" + (
            " (tls)" if server.binding.tls else ""
        )
        try:
            while not stopping.is_set():
                progress.beat(doing)
                await asyncio.to_thread(stopping.wait, BEAT_S)
        finally:
            progress.beat("stopping: NOT_SERVING")
            await server.stop(STOP_GRACE_S)
            self.port = None
