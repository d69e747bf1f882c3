"""The server: grpc.aio with the auth interceptor, `RaraService`, grpc health checking
(SERVING while up, NOT_SERVING before it stops) and reflection.

    server = RaraServer(home, settings.server, control=None)   # None: read-only (`rara serve`)
    port = await server.start()
    ...
    await server.stop()

The daemon passes its `Control`; ``rara serve`` passes none. The server reads the state DB
through its own read-only connection, whoever writes it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from rara.daemon_settings import ServerSettings
from rara.errors import RaraError
from rara.events import EventStore
from rara.home import Home
from rara.server.auth import AuthInterceptor, Tokens, ensure_tokens
from rara.server.bind import Binding, binding
from rara.server.control_port import Control
from rara.server.service import RaraService
from rara.server.stream import StreamSettings
from rara.v1 import rara_pb2 as pb
from rara.v1 import rara_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RaraService"].full_name
HEALTH_SERVICES = ("", SERVICE_NAME)


class RaraServer:
    """One grpc.aio server on one address; `start` binds and serves, `stop` drains and ends."""

    def __init__(
        self,
        home: Home,
        settings: ServerSettings,
        *,
        control: Control | None = None,
        insecure: bool = False,
        tokens: Tokens | None = None,
    ) -> None:
        self.home = home
        self.settings = settings
        self.control = control
        self.binding: Binding = binding(settings, insecure=insecure)  # refused before anything
        self.token_path: Path | None = None
        if tokens is None:
            self.token_path, tokens = ensure_tokens(home)
        self.tokens: Tokens = tokens
        self.port: int | None = None
        self._server: Any = None
        self._store: EventStore | None = None
        self._health: Any = None

    async def start(self) -> int:
        """Bind and serve; the port bound (useful with port 0)."""
        if not self.home.state_db.exists():
            raise RaraError(
                "no_state_db",
                f"no state DB at {self.home.state_db}",
                "run rara on this home first (`rara run`), or point RARA_HOME at one",
            )
        self._store = EventStore(self.home.state_db, readonly=True)
        server = aio.server(interceptors=[AuthInterceptor(self.tokens)])
        stream = StreamSettings(
            batch=self.settings.stream_batch,
            heartbeat_s=self.settings.heartbeat_s,
            poll_s=self.settings.poll_s,
        )
        service = RaraService(self.home, self._store, self.tokens, self.control, stream)
        pb_grpc.add_RaraServiceServicer_to_server(service, server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME),
            server,
        )  # fmt: skip
        b = self.binding
        if b.credentials is not None:
            port = server.add_secure_port(b.address, b.credentials)
        else:
            port = server.add_insecure_port(b.address)
        await server.start()
        for name in HEALTH_SERVICES:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._server, self.port = server, int(port)
        log.info("serving rara.v1 on %s (tls: %s)", b.address, b.tls)
        return self.port

    async def stop(self, grace_s: float = 1.0) -> None:
        """NOT_SERVING first (a balancer stops sending), then drain for `grace_s` and stop."""
        if self._server is None:
            return
        await self._health.enter_graceful_shutdown()
        await self._server.stop(grace_s)
        self._server = None
        if self._store is not None:
            self._store.close()
            self._store = None

    async def wait(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
