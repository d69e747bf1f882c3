"""Bearer tokens for the server: a read-only one and a control one, generated at first start
into a 0600 JSON file under ``$RARA_HOME/server/tokens.json``.

Every call carries ``authorization: Bearer <token>``. `AuthInterceptor` refuses a call with a
wrong or missing token (UNAUTHENTICATED) and a read-only token on a control call
(PERMISSION_DENIED), for unary and streaming calls alike, before any handler runs. Handlers learn
who called from `Tokens.caller` (the token's name, never its value). Tokens are compared in
constant time and appear in no log, error or event.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import grpc
from grpc import aio

from rara.errors import RaraError
from rara.home import Home

Role = Literal["read", "control"]
SERVICE = "/rara.v1.RaraService/"
CONTROL_METHODS = frozenset(
    SERVICE + m
    for m in (
        "PauseResearch",
        "ResumeResearch",
        "Kill",
        "Resume",
        "ApproveStrategy",
        "DemoteStrategy",
    )
)
STREAMING_METHODS = frozenset({SERVICE + "StreamEvents"})
# grpc's own health and reflection services answer without a token: a load balancer or
# grpcurl may probe them, and they tell nothing about the daemon
OPEN_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.", "/grpc.reflection.v1.")


@dataclass(frozen=True)
class Token:
    name: str
    role: Role
    value: str

    def __repr__(self) -> str:  # never the value, even in a traceback
        return f"Token(name={self.name!r}, role={self.role!r})"


def token_file(home: Home) -> Path:
    return home.root / "server" / "tokens.json"


class Tokens:
    """The tokens the server accepts."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        self._tokens = tuple(tokens)

    @property
    def names(self) -> list[dict[str, str]]:
        return [{"name": t.name, "role": t.role} for t in self._tokens]

    def get(self, name: str) -> Token:
        for t in self._tokens:
            if t.name == name:
                return t
        raise RaraError("unknown_token", f"no token named {name!r}", "see `rara server token`")

    def match(self, presented: str) -> Token | None:
        """The token `presented` is, compared with every one in constant time."""
        found = None
        for t in self._tokens:
            if hmac.compare_digest(t.value.encode(), presented.encode()):
                found = t
        return found

    def from_metadata(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Token | None:
        for key, value in metadata or ():
            if key.lower() == "authorization":
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                scheme, _, presented = text.partition(" ")
                if scheme.lower() == "bearer" and presented:
                    return self.match(presented.strip())
        return None

    def caller(self, context: Any) -> str:
        """The name of the token the call carried (the interceptor admitted it)."""
        token = self.from_metadata(context.invocation_metadata())
        return token.name if token is not None else "unknown"


def load_tokens(path: Path) -> Tokens:
    """The tokens in `path`; refused if the file is readable by anyone but its owner."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise RaraError(
            "token_file_exposed",
            f"{path} has mode {mode:o}: the server's tokens must be readable by their owner only",
            f"run `chmod 600 {path}` (or delete it to generate new tokens)",
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        tokens = [Token(str(t["name"]), t["role"], str(t["token"])) for t in doc["tokens"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RaraError(
            "token_file_unreadable",
            f"{path} is not a token file: {type(exc).__name__}",
            "delete it to generate new tokens",
        ) from None  # the cause may quote the file's content
    if any(t.role not in ("read", "control") for t in tokens):
        raise RaraError("token_file_unreadable", f"{path}: a token's role is not read/control")
    return Tokens(tokens)


def ensure_tokens(home: Home) -> tuple[Path, Tokens]:
    """The home's token file, generated (0600, never wider) at first start."""
    path = token_file(home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        doc = {
            "tokens": [
                {"name": "read", "role": "read", "token": secrets.token_urlsafe(32)},
                {"name": "control", "role": "control", "token": secrets.token_urlsafe(32)},
            ]
        }
        # O_EXCL: two servers starting at once do not overwrite each other's tokens
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path, load_tokens(path)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
    return path, load_tokens(path)


# grpc is untyped here (mypy reads it as Any): a method handler
Handler = Any


def _refusal(method: str, code: grpc.StatusCode, message: str) -> Handler:
    async def unary(request: Any, context: Any) -> Any:
        await context.abort(code, message)

    async def stream(request: Any, context: Any) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - makes it an async generator

    if method in STREAMING_METHODS:
        handler: Handler = grpc.unary_stream_rpc_method_handler(stream)
    else:
        handler = grpc.unary_unary_rpc_method_handler(unary)
    return handler


class AuthInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    """Admits a call only with a known token, and a control call only with a control token."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler:
        method = handler_call_details.method
        if method.startswith(OPEN_PREFIXES):
            admitted: Handler = await continuation(handler_call_details)
            return admitted
        token = self.tokens.from_metadata(handler_call_details.invocation_metadata)
        if token is None:
            return _refusal(
                method,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or unknown bearer token (`authorization: Bearer <token>` metadata)",
            )
        if method in CONTROL_METHODS and token.role != "control":
            return _refusal(
                method,
                grpc.StatusCode.PERMISSION_DENIED,
                f"token {token.name!r} is read-only; control calls need a control token",
            )
        return await continuation(handler_call_details)
