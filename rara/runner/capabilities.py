"""What isolation this machine gives a sandboxed strategy, and whether a Docker engine answers.

Layers are reported as they really engage in a jailed child
(`rara.runner.jail.runner.probe_layers`), not guessed from kernel version strings. Each names
whether it is active and why not.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Layer:
    name: str
    available: bool
    detail: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def probe_restricted_python() -> Layer:
    try:
        import RestrictedPython  # noqa: F401
    except ImportError:
        return Layer("restricted_python", False, "RestrictedPython is not installed")
    return Layer("restricted_python", True, "RestrictedPython compile and guards (lint layer)")


def sandbox_layers() -> list[Layer]:
    """Every sandbox layer as it really engages: the lint layer, then one trivial jailed run
    whose child reports each OS layer it applied (so a missing one names its reason)."""
    from rara.runner.jail.runner import probe_layers

    jailed = [Layer(s.name, s.active, s.detail) for s in probe_layers()]
    return [probe_restricted_python(), *jailed]


def docker_engine(socket_path: str = "/var/run/docker.sock", timeout: float = 2.0) -> Layer:
    """Ping the engine's API over its Unix socket; DOCKER_HOST=unix://... is honoured."""
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        socket_path = host[len("unix://") :]
    elif host:
        return Layer("docker", False, f"DOCKER_HOST={host} is not a unix socket; not probed")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(socket_path)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            reply = s.recv(256)
    except OSError as exc:
        return Layer("docker", False, f"no engine at {socket_path}: {exc.strerror or exc}")
    ok = reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0]
    return Layer(
        "docker",
        ok,
        f"engine answering at {socket_path}"
        if ok
        else f"{socket_path} answered but not like a Docker engine",
    )
