"""Talking to the Docker engine: the lazily imported SDK, `connect`, and the attached stream.

`pump` writes the request to one container's attached stdin and reads its multiplexed stdout and
stderr at once, until the engine closes the stream, the output cap is passed or the deadline is
up; `_Demux` splits that stream and keeps memory bounded by the caps. `ContainerRunner` in
`rara.runner.container.runner` drives them; the docker SDK is imported only when first needed.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import struct
import time
from typing import Any

from rara.errors import RaraError
from rara.runner.container.config import ContainerLimits


def _require_sdk() -> Any:
    try:
        import docker
    except ImportError:
        raise RaraError(
            "docker_sdk_missing",
            "the container sandbox needs the docker SDK, which is not installed",
            "pip install 'docker>=7.0' into rara's environment",
        ) from None
    return docker


def connect(timeout: float = 60.0) -> Any:  # a docker.DockerClient (the SDK is untyped)
    """A client for the engine named by DOCKER_HOST (default the local socket), pinged once."""
    docker = _require_sdk()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # DockerException, requests errors, socket errors: all "no engine"
        raise RaraError(
            "docker_unavailable",
            f"no Docker engine answered: {exc}",
            "start dockerd (scripts/ci-docker.sh does it on Debian) or use the subprocess sandbox",
        ) from None
    return client


class _Demux:
    """Splits the engine's multiplexed attach stream (8-byte header: stream, 0, 0, 0, size BE).

    Payloads are consumed as they arrive, partial frames included, so memory stays bounded by
    the caps whatever frame sizes the stream declares."""

    HEADER = struct.Struct(">BxxxL")

    def __init__(self, stdout_cap: int, stderr_cap: int) -> None:
        self.buf = bytearray()
        self.stream, self.left = 0, 0  # the frame being read and its bytes still to come
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.stdout_cap, self.stderr_cap = stdout_cap, stderr_cap
        self.stdout_over = False
        self.stderr_truncated = False

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.left == 0:
                if len(self.buf) < self.HEADER.size:
                    return
                self.stream, self.left = self.HEADER.unpack_from(self.buf)
                del self.buf[: self.HEADER.size]
                continue
            chunk = bytes(self.buf[: self.left])
            del self.buf[: len(chunk)]
            self.left -= len(chunk)
            if self.stream == 1:
                room = self.stdout_cap - len(self.stdout)
                self.stdout += chunk[:room]
                self.stdout_over |= len(chunk) > room
            elif self.stream == 2:
                room = max(self.stderr_cap - len(self.stderr), 0)
                self.stderr += chunk[:room]
                self.stderr_truncated |= len(chunk) > room


def _stderr_tail(stderr: bytes, limit: int = 400) -> str:
    """The last non-empty line of stderr (usually `SomeError: message`), for error messages."""
    lines = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-1][-limit:] if lines else ""


def close_attached(attached: Any) -> None:
    """Close an attached stream (`APIClient.attach_socket`'s answer); None is a no-op."""
    if attached is not None:  # the raw socket first: SocketIO.close() forgets it
        for closable in (getattr(attached, "_sock", None), attached):
            if closable is not None:
                with contextlib.suppress(OSError):
                    closable.close()


def pump(
    sock: socket.socket,
    request: bytes,
    lim: ContainerLimits,
    deadline: float,
    *,
    half_close: bool = True,
) -> tuple[_Demux, bool]:
    """Write stdin and read stdout/stderr at once (a child that writes before reading must
    not deadlock us), until the engine closes the stream, the cap is passed or time is up.

    `half_close`: shut our writing side once the request is sent, which the engine turns into the
    child's EOF (a child that reads to EOF needs it). Without it stdin stays open for as long as
    this process holds the stream: the child sees EOF only when we are gone."""
    demux = _Demux(lim.max_output, lim.stderr_tail)
    view, sent = memoryview(request), 0
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if request else 0))
    writing = bool(request)
    if not writing and half_close:
        sock.shutdown(socket.SHUT_WR)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return demux, True
            for _key, events in sel.select(timeout=remaining):
                if events & selectors.EVENT_WRITE and writing:
                    try:
                        sent += sock.send(view[sent : sent + 256 * 1024])
                    except BlockingIOError:
                        pass
                    except OSError as exc:  # the child exited without reading everything
                        if exc.errno not in (errno.EPIPE, errno.ECONNRESET):
                            raise
                        sent = len(view)
                    if sent >= len(view):
                        writing = False
                        if half_close:  # with stdin_once the engine closes the child's stdin
                            with contextlib.suppress(OSError):
                                sock.shutdown(socket.SHUT_WR)
                        sel.modify(sock, selectors.EVENT_READ)
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(256 * 1024)
                    except BlockingIOError:
                        continue
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        return demux, False
                    demux.feed(data)
                    if demux.stdout_over:
                        return demux, False
    finally:
        sel.close()
