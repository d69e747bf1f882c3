"""A real `RaraServer` on a random 127.0.0.1 port, served from its own event loop in a thread, so
a plain (sync) grpc client in the test talks to it over TCP the way a remote one would::

    with served(home, control=...) as srv:
        stub = srv.stub(srv.tokens.get("read").value)
        stub.GetStatus(pb.GetStatusRequest())

`ServerThread.restart()` stops the server and starts a new one on the same port (a restart the
client's channel reconnects across).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc

from rara.daemon_settings import ServerSettings
from rara.home import Home
from rara.server.app import RaraServer
from rara.server.auth import ensure_tokens
from rara.server.control_port import Control
from rara.v1 import rara_pb2_grpc as pb_grpc

T = TypeVar("T")
CALL_TIMEOUT_S = 60.0


class ServerThread:
    def __init__(
        self,
        home: Home,
        settings: ServerSettings | None = None,
        control: Control | None = None,
        insecure: bool = False,
    ) -> None:
        self.home = home
        self.settings = settings or ServerSettings(port=0, heartbeat_s=0.5)
        self.control = control
        self.insecure = insecure
        _, self.tokens = ensure_tokens(home)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.server: RaraServer | None = None
        self.port = 0

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a coroutine function on the server's loop and wait for its result."""
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(fn(), self.loop)
        return fut.result(timeout=CALL_TIMEOUT_S)

    def start(self, port: int | None = None) -> int:
        settings = (
            self.settings if port is None else self.settings.model_copy(update={"port": port})
        )
        self.server = RaraServer(
            self.home, settings, control=self.control, insecure=self.insecure, tokens=self.tokens
        )
        self.port = self.call(self.server.start)
        return self.port

    def stop(self, grace_s: float = 0.5) -> None:
        if self.server is not None:
            server = self.server
            self.call(lambda: server.stop(grace_s))
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start(self.port)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_S)
        self.loop.close()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.target)

    def stub(self, token: str | None, channel: grpc.Channel | None = None) -> Any:
        return AuthedStub(channel or self.channel(), token)


class AuthedStub:
    """`RaraServiceStub` whose every call carries ``authorization: Bearer <token>``."""

    def __init__(self, channel: grpc.Channel, token: str | None) -> None:
        self.channel = channel
        self._stub = pb_grpc.RaraServiceStub(channel)
        self._md = [("authorization", f"Bearer {token}")] if token is not None else []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._stub, name)

        def call(request: Any, **kw: Any) -> Any:
            kw.setdefault("metadata", self._md)
            if name != "StreamEvents":
                kw.setdefault("timeout", CALL_TIMEOUT_S)
            return method(request, **kw)

        return call


@contextmanager
def served(home: Home, **kw: Any) -> Iterator[ServerThread]:
    srv = ServerThread(home, **kw)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()
