"""The HTTP side every exchange emulator shares: a threaded server on 127.0.0.1, the record of
every request, and scripted faults (`Fault`). A dialect subclasses `FaultyServer` and answers in
`_process`; the server decides, per request, whether a fault answers instead, before or after
the request is processed.

A fault picks requests by path, optionally method, the n-th such request and/or a predicate on
the parameters (query and form body merged). It answers a status (429 with Retry-After, 5xx) or
hangs until released. With ``after_accept`` the request is processed first (an order is placed)
and only then does the fault answer or hang: the exchange did the work, the client never hears.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

Answer = tuple[int, Any]  # status, JSON-able body


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]  # query and form body
    status: int | None = None  # filled in once answered; None while a hang blocks it

    @property
    def start_time(self) -> int | None:
        v = self.query.get("startTime")
        return int(v) if v is not None else None


@dataclass
class Fault:
    """A scripted misbehaviour. It applies to requests to ``path`` (with ``method``, if set)
    that are the ``nth`` such request (1-based, counted over the emulator's life per path, or
    per method and path when ``method`` is set) and/or satisfy ``when(params)`` (query and form
    body), for at most ``times`` requests. It either answers ``status`` with
    ``headers``/``body`` or, when ``hang`` is set, blocks until `release` and then answers
    normally. With ``after_accept`` the request is processed first (an order is placed) and
    only then does the fault answer, or hang (the client times out; the order stays). With
    ``drop`` a hang ends in the fault's answer and the request is never processed (a send lost
    before the exchange took it)."""

    path: str = "/api/v3/klines"
    method: str | None = None
    nth: int | None = None
    when: Callable[[dict[str, str]], bool] | None = None
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "Internal Server Error"
    hang: bool = False
    after_accept: bool = False
    drop: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    hits: int = 0

    def release(self) -> None:
        self.released.set()


class FaultyServer:
    """Use as a context manager. Subclasses implement `_process`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _process(
        self, method: str, path: str, q: dict[str, str], raw: str, headers: dict[str, str]
    ) -> Answer:
        """The answer to a request: ``raw`` is the query string followed by the body (what
        HMAC-signing venues sign), ``headers`` have lower-case names."""
        raise NotImplementedError

    def _params(self, query: str, body: str) -> dict[str, str]:
        """A request's parameters, as faults and the record see them: the query and the form
        body merged (a dialect with JSON bodies overrides this)."""
        q = dict(parse_qsl(query))
        q.update(parse_qsl(body))
        return q

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> Self:
        emu = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                emu._handle(self)

            def do_POST(self) -> None:
                emu._handle(self)

            def do_DELETE(self) -> None:
                emu._handle(self)

            def do_PUT(self) -> None:
                emu._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; `requests` is the log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # a short poll: quick shutdown
        self._thread.start()
        return self

    def stop(self) -> None:
        for f in self.faults:
            f.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- scripting and the record ----------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    @contextmanager
    def released(self) -> Iterator[None]:
        try:
            yield
        finally:
            for f in self.faults:
                f.release()

    def calls(self, path: str | None = None, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (path is None or r.path == path) and (method is None or r.method == method)
            ]

    # ---- one request ---------------------------------------------------------------------
    def _pick_fault(self, method: str, path: str, q: dict[str, str]) -> Fault | None:
        with self._lock:
            n = self._counts[path] = self._counts.get(path, 0) + 1
            key = f"{method} {path}"
            nm = self._counts[key] = self._counts.get(key, 0) + 1
            for f in self.faults:
                if f.path != path or f.hits >= f.times:
                    continue
                if f.method is not None and f.method != method:
                    continue
                if f.nth is not None and f.nth != (n if f.method is None else nm):
                    continue
                if f.when is not None and not f.when(q):
                    continue
                f.hits += 1
                return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        method = h.command
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length).decode() if length else ""
        q = self._params(parts.query, body)
        headers = {k.lower(): v for k, v in h.headers.items()}
        rec = Recorded(method, parts.path, q)
        with self._lock:
            self.requests.append(rec)
        fault = self._pick_fault(method, parts.path, q)
        obj: Any = None
        if fault is not None and fault.after_accept:  # the exchange does the work regardless
            self._process(method, parts.path, q, parts.query + body, headers)
        if fault is not None and fault.hang:
            fault.entered.set()
            fault.released.wait(timeout=120)
            if fault.after_accept:  # released: the answer the client has given up on
                obj = {"code": -1007, "msg": "Timeout waiting for response from backend."}
                status, payload, extra = 504, json.dumps(obj).encode(), {}
            if not fault.drop:
                fault = None
        if fault is not None:
            status, payload, extra = fault.status, fault.body.encode(), dict(fault.headers)
        elif obj is None:
            status, obj = self._process(method, parts.path, q, parts.query + body, headers)
            payload, extra = json.dumps(obj).encode(), {}
        ctype = "application/json" if payload[:1] in (b"{", b"[") else "text/plain"
        rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(payload)))
            for k, v in extra.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a test killed it mid-request)
