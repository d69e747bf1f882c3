"""The sentinel's webhook: an HTTP endpoint on 127.0.0.1 that takes a signal from another program.

    POST /signal   (or /)
    Authorization: Bearer <token>
    {"title": "...", "summary": "...", "symbols": ["BTC/USDT"], "severity": "critical", "id": "..."}

Only ``title`` is required; without ``severity`` the sentinel classifies the text, and ``id``
(else the title and summary) is what a repeated post is deduplicated by. Answers JSON: 200 with
the signals raised, 401 for a missing or wrong token (nothing recorded), 400
for a body that is not such a JSON object, 413 for a body over 64 KiB, 404/405 for anything else.

The token is compared in constant time and never logged, echoed or stored outside the server.
The server is the stdlib's threading HTTP server on a thread of its own; `close()` stops it.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from rara.sentinel.classify import Severity

log = logging.getLogger("rara.sentinel")

MAX_BODY_BYTES = 64 * 1024
PATHS = ("/", "/signal")
REQUEST_TIMEOUT_S = 10.0  # a client that stops sending mid-request frees its thread after this


class WebhookPost(BaseModel):
    """The body of a webhook post."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1, max_length=1000)
    summary: str = Field("", max_length=20_000)
    symbols: tuple[str, ...] = Field((), max_length=50)
    severity: Severity | None = None
    id: str | None = Field(None, min_length=1, max_length=200)


OnPost = Callable[[WebhookPost], list[dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server_version = "rara-sentinel"
    sys_version = ""
    timeout = REQUEST_TIMEOUT_S
    webhook: ClassVar[WebhookServer]

    def log_message(self, format: str, *args: Any) -> None:
        # the request line only (never headers, so never the token), at debug
        log.debug("webhook %s: " + format, self.client_address[0], *args)

    def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, code: str, message: str, **headers: str) -> None:
        self._answer(status, {"error": {"code": code, "message": message}}, **headers)

    def do_GET(self) -> None:
        self.close_connection = True
        self._error(405, "method_not_allowed", "POST a JSON signal to /signal", Allow="POST")

    def do_POST(self) -> None:
        self.close_connection = True
        if self.path.split("?", 1)[0] not in PATHS:
            self._error(404, "not_found", f"no endpoint {self.path!r}; POST to /signal")
            return
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            self._error(411, "length_required", "send a Content-Length")
            return
        if length > MAX_BODY_BYTES or length < 0:
            self._error(413, "too_large", f"a signal is at most {MAX_BODY_BYTES} bytes")
            return
        # read the (bounded) body even when refusing it: closing on unread data resets the
        # connection and the client would never see the answer
        raw = self.rfile.read(length)
        if not self.webhook.authorized(self.headers.get("Authorization")):
            self._error(
                401,
                "unauthorized",
                "a valid Authorization: Bearer <token> header is required",
                WWW_Authenticate='Bearer realm="rara-sentinel"',
            )
            return
        try:
            post = WebhookPost.model_validate(json.loads(raw))
        except ValueError as exc:  # JSON errors and pydantic's ValidationError
            self._error(400, "bad_body", _why(exc))
            return
        try:
            signals = self.webhook.on_post(post)
        except Exception as exc:  # the sentinel failed (its store): the caller may retry
            log.error("webhook: taking a signal failed: %s", type(exc).__name__)
            self._error(
                500, "sentinel_failed", f"the signal was not recorded ({type(exc).__name__})"
            )
            return
        self._answer(200, {"signals": signals})


def _why(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]
        )
    return f"the body is not JSON: {exc}"


class WebhookServer:
    """The endpoint on 127.0.0.1:`port` (0: any free port), handing each authorized, valid post
    to `on_post` (which returns the signals raised, as JSON)."""

    def __init__(self, token: SecretStr, on_post: OnPost, port: int = 0) -> None:
        if not token.get_secret_value():
            raise ValueError("the webhook needs a non-empty token")
        self._expected = ("Bearer " + token.get_secret_value()).encode("utf-8")
        self.on_post = on_post
        self.requested_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never the token
        return f"WebhookServer(port={self.port if self._server else self.requested_port})"

    def authorized(self, header: str | None) -> bool:
        given = (header or "").strip().encode("utf-8", errors="replace")
        return hmac.compare_digest(given, self._expected)

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the webhook is not running")
        return int(self._server.server_address[1])

    def start(self) -> int:
        """Bind and serve; the bound port. Raises OSError when it cannot bind."""
        if self._server is not None:
            return self.port
        handler = type("WebhookHandler", (_Handler,), {"webhook": self})
        server = ThreadingHTTPServer(("127.0.0.1", self.requested_port), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="sentinel-webhook",
            daemon=True,
        )
        self._thread.start()
        return self.port

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
