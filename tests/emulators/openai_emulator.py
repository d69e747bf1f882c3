"""An OpenAI-compatible chat-completions server on 127.0.0.1, scripted reply by reply.

Endpoints: ``POST /v1/chat/completions`` and ``POST /chat/completions``. Anything else answers a
JSON 404 naming the path, so a test can see an un-emulated call.

Script it with `Reply` objects. Each request takes the first queued reply whose filters match it
(``purpose``: the ``rara-purpose: <name>`` marker rara puts on the first line of every system
prompt; ``match``: a substring of, or a predicate on, the last user message); when none matches,
``default`` answers (a `Reply`, or a function of the `Request`), and without a default the
emulator answers 500 naming what it got, so a missing script line fails loudly::

    with OpenAIEmulator.start([
        Reply.of_json({"hypothesis": ..., "rationale": ..., "family": ...}, purpose="propose"),
        Reply.of_module(SOURCE),                      # purpose="code"
        Reply(content="not json", purpose="propose"),
        Reply(delay_s=5, purpose="propose"),          # longer than the client timeout
        Reply(status=500),                            # any purpose
        Reply.rate_limited(retry_after="2"),          # a 429 with a Retry-After header
    ]) as emu:
        provider = LitellmProvider("openai/gpt-4o-mini", api_base=emu.url, api_key="sk-test-x")
        ...
        assert emu.requests[0].purpose == "propose"

``emu.add(...)`` queues more replies while it runs. Every request is recorded (`Request`) with its
JSON body, purpose, last user message and arrival time (``time.monotonic()``, so a test can see
how long a client waited before retrying), and the usage block is filled so cost can be
computed: token counts are a pure function of the text (about four characters a token) unless the
reply sets them. `OpenAIEmulator.billed_usd` is what the answered requests cost at a given price,
the figure a run's recorded spend must equal.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATHS = ("/v1/chat/completions", "/chat/completions")
PURPOSE_RE = re.compile(r"rara-purpose:\s*([a-z_]+)")
CREATED = 1_700_000_000  # fixed, so replies are byte-for-byte repeatable


@dataclass
class Request:
    """One request as the emulator saw it."""

    path: str
    body: dict[str, Any]
    authorization: str | None
    status: int | None = None  # filled in once answered; None while a delay holds it
    received_at: float = field(default_factory=time.monotonic)
    usage: dict[str, int] | None = None  # the usage block of a 200 answer

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def purpose(self) -> str | None:
        for m in self.messages:
            if m.get("role") == "system":
                hit = PURPOSE_RE.search(str(m.get("content") or ""))
                if hit:
                    return hit.group(1)
        return None

    @property
    def last_user(self) -> str:
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return str(m.get("content") or "")
        return ""

    @property
    def text(self) -> str:
        """Every message's content, joined: for "did the model see X" assertions."""
        return "\n".join(str(m.get("content") or "") for m in self.messages)


@dataclass
class Reply:
    """One scripted answer.

    ``content`` is the assistant message (malformed JSON is just a string here). ``status`` other
    than 200 answers an OpenAI-style error body instead (or ``body`` verbatim when given; ``body``
    also replaces a 200 answer's whole HTTP body, e.g. to send a broken response document).
    ``delay_s`` holds the answer that long first (longer than the client's timeout to test
    timeouts; `OpenAIEmulator.stop` cuts it short). ``headers`` are sent with the answer (e.g.
    ``Retry-After`` on a 429, see `rate_limited`)."""

    content: str = ""
    status: int = 200
    delay_s: float = 0.0
    body: str | None = None
    purpose: str | None = None
    match: str | Callable[[Request], bool] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, retry_after: str | None = None, **kw: Any) -> Reply:
        """A 429, with ``Retry-After`` (seconds, or an HTTP date) when given."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        error = {"error": {"message": "emulated rate limit", "type": "rate_limit_exceeded"}}
        return cls(status=429, headers=headers, body=json.dumps(error), **kw)

    @classmethod
    def of_json(cls, obj: Any, **kw: Any) -> Reply:
        """A reply whose content is obj as JSON (e.g. a hypothesis for purpose="propose")."""
        return cls(content=json.dumps(obj), **kw)

    @classmethod
    def of_module(cls, source: str, purpose: str | None = "code", **kw: Any) -> Reply:
        """A strategy module the way the code and fix prompts ask for it: one ```python block.
        Pass purpose="fix" for a fix round."""
        return cls(content=f"```python\n{source.rstrip()}\n```\n", purpose=purpose, **kw)

    def matches(self, req: Request) -> bool:
        if self.purpose is not None and req.purpose != self.purpose:
            return False
        if self.match is None:
            return True
        if isinstance(self.match, str):
            return self.match in req.last_user
        return bool(self.match(req))


def tokens_of(text: str) -> int:
    """A stand-in tokenizer: deterministic and about right for English (4 chars a token)."""
    return max(1, (len(text) + 3) // 4)


class OpenAIEmulator:
    def __init__(
        self,
        script: Iterable[Reply] = (),
        default: Reply | Callable[[Request], Reply] | None = None,
    ) -> None:
        self._queue: list[Reply] = list(script)
        self.default = default
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        script: Iterable[Reply] = (),
        default: Reply | Callable[[Request], Reply] | None = None,
    ) -> OpenAIEmulator:
        emu = cls(script, default)
        emu.serve()
        return emu

    def serve(self) -> None:
        handler = type("Handler", (_Handler,), {"emu": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns quickly
            name="openai-emulator",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # releases any scripted delay still holding a request
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIEmulator:
        if self._server is None:
            self.serve()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The api_base to hand litellm (OpenAI clients append /chat/completions)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # --- scripting ---------------------------------------------------------------------------

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> list[Reply]:
        with self._lock:
            return list(self._queue)

    def billed_usd(self, input_usd_per_mtok: float, output_usd_per_mtok: float) -> float:
        """What every answered (200) request cost at this price per million tokens."""
        with self._lock:
            usages = [r.usage for r in self.requests if r.usage is not None]
        return (
            sum(
                u["prompt_tokens"] * input_usd_per_mtok
                + u["completion_tokens"] * output_usd_per_mtok
                for u in usages
            )
            / 1_000_000
        )

    def _next_reply(self, req: Request) -> Reply | None:
        with self._lock:
            for i, r in enumerate(self._queue):
                if r.matches(req):
                    return self._queue.pop(i)
        if callable(self.default):
            return self.default(req)
        return self.default

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    emu: OpenAIEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows stderr
        pass

    def _send(
        self,
        status: int,
        body: str,
        req: Request | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass
        if req is not None:
            req.status = status

    def do_GET(self) -> None:
        self._send(404, json.dumps({"error": {"message": f"not emulated: GET {self.path}"}}))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        if path not in PATHS:
            self._send(404, json.dumps({"error": {"message": f"not emulated: POST {path}"}}))
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            self._send(400, json.dumps({"error": {"message": f"bad request body: {exc}"}}))
            return
        req = Request(path=path, body=body, authorization=self.headers.get("Authorization"))
        with self.emu._lock:
            self.emu.requests.append(req)
        reply = self.emu._next_reply(req)
        if reply is None:
            msg = (
                f"emulator: no scripted reply for purpose={req.purpose!r}, "
                f"last user message starts {req.last_user[:80]!r}"
            )
            self._send(500, json.dumps({"error": {"message": msg, "type": "server_error"}}), req)
            return
        if reply.delay_s > 0:
            self.emu._sleep(reply.delay_s)
        if reply.status != 200:
            error = {"error": {"message": f"emulated {reply.status}", "type": "server_error"}}
            self._send(reply.status, reply.body or json.dumps(error), req, reply.headers)
            return
        completion = _completion(req, reply)
        if reply.body is None:  # a replaced body bills nothing
            req.usage = {k: completion["usage"][k] for k in ("prompt_tokens", "completion_tokens")}
        self._send(200, reply.body or json.dumps(completion), req, reply.headers)


def _completion(req: Request, reply: Reply) -> dict[str, Any]:
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = tokens_of(req.text)
    completion = reply.completion_tokens
    if completion is None:
        completion = tokens_of(reply.content)
    n = len(req.body.get("messages") or [])
    return {
        "id": f"chatcmpl-emu-{n}-{prompt}-{completion}",
        "object": "chat.completion",
        "created": CREATED,
        "model": str(req.body.get("model") or "emulated"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


@contextmanager
def running(
    script: Iterable[Reply] = (), default: Reply | Callable[[Request], Reply] | None = None
) -> Iterator[OpenAIEmulator]:
    emu = OpenAIEmulator.start(script, default)
    try:
        yield emu
    finally:
        emu.stop()


__all__ = ["OpenAIEmulator", "Reply", "Request", "running", "tokens_of"]
