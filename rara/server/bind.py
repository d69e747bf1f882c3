"""Where the server listens, and with what credentials.

Loopback (127.0.0.1, ::1, localhost) may be served in plain text; any other address needs TLS
(a certificate and key from ``[server]``) unless the caller says ``insecure=True`` explicitly:
a token sent in clear over a network is a token given away.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from rara.daemon_settings import ServerSettings
from rara.errors import BadInput, Refused


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise BadInput(
            "server_tls_unreadable",
            f"cannot read the server's {what} {path}: {exc.strerror}",
            f"set server.{what} to a readable PEM file",
        ) from exc


@dataclass(frozen=True)
class Binding:
    """An address and the credentials to serve it with (None: plain text)."""

    address: str
    credentials: Any  # grpc.ServerCredentials | None (grpc is untyped here)

    @property
    def tls(self) -> bool:
        return self.credentials is not None


def binding(settings: ServerSettings, *, insecure: bool = False) -> Binding:
    """The address to listen on and its credentials, or `Refused` when a non-loopback address
    would be served without TLS and `insecure` was not given."""
    host = settings.host
    bare = host.strip("[]")
    address = f"[{bare}]:{settings.port}" if ":" in bare else f"{bare}:{settings.port}"
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise BadInput(
            "server_tls_incomplete",
            "server.tls_cert and server.tls_key go together",
            "set both (PEM files) or neither",
        )
    if settings.tls_cert is not None and settings.tls_key is not None:
        chain = _read(settings.tls_cert, "tls_cert")
        key = _read(settings.tls_key, "tls_key")
        client_ca = (
            None
            if settings.tls_client_ca is None
            else _read(settings.tls_client_ca, "tls_client_ca")
        )
        creds = grpc.ssl_server_credentials(
            [(key, chain)],
            root_certificates=client_ca,
            require_client_auth=client_ca is not None,
        )
        return Binding(address, creds)
    if not is_loopback(host) and not insecure:
        raise Refused(
            "server_needs_tls",
            f"serving {host} without TLS would send the bearer tokens in clear over a network",
            "set server.tls_cert and server.tls_key, bind 127.0.0.1, or pass --insecure if "
            "the network is trusted",
        )
    return Binding(address, None)
