"""A news feed served over HTTP on 127.0.0.1 for the sentinel's tests, and the pieces around it.

`FeedServer` serves whatever RSS document the test sets (`publish`), with an ETag, and answers a
matching If-None-Match with 304; ``status`` makes it answer an error instead, and ``body`` can be
any bytes (a malformed feed). `silent_server` accepts connections and never answers. Every
request's headers are recorded.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal as D
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from rara.domain.orders import OrderIntent, OrderRequest
from rara.trading.risk import AccountView, FeedView, PositionView

H = 3_600_000
NOW = 1_717_243_200_000  # 2024-06-01 12:00 UTC


def rss(*items: tuple[str, str], title: str = "Crypto wire") -> bytes:
    """An RSS 2.0 document of (guid, title) items."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{text}</title>"
        f"<description>{text} (details)</description></item>"
        for guid, text in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"<description>news</description>{body}</channel></rss>"
    ).encode()


def rss_dated(guid: str, text: str, published_ms: int) -> bytes:
    when = format_datetime(datetime.fromtimestamp(published_ms / 1000, tz=UTC), usegmt=True)
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item><guid>{guid}</guid><title>{text}</title><pubDate>{when}</pubDate></item>"
        "</channel></rss>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    feed: ClassVar[FeedServer]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        feed = self.feed
        with feed.lock:
            feed.requests.append(dict(self.headers.items()))
            status, body = feed.status, feed.body
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if status == 200 and feed.etags and self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        out = body if status == 200 else b"server error"
        self.send_response(status)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(out)))
        if status == 200 and feed.etags:
            self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(out)


class FeedServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.body = rss()
        self.status = 200
        self.etags = True
        self.requests: list[dict[str, str]] = []
        handler = type("FeedHandler", (_Handler,), {"feed": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/feed.xml"

    def publish(self, body: bytes, status: int = 200) -> None:
        with self.lock:
            self.body, self.status = body, status

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    try:
        yield server
    finally:
        server.close()


@contextmanager
def silent_server() -> Iterator[str]:
    """A URL whose server accepts the connection (the kernel's backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"
    finally:
        sock.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was bound, then freed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/feed.xml"


# ---- the risk gate's view, for "a locked symbol's buy is denied" -------------------------------


def intent(symbol: str, side: str) -> OrderIntent:
    if side == "buy":
        request = OrderRequest(
            client_order_id="rara1", symbol=symbol, side="buy", order_type="market", cost="500"
        )
    else:
        request = OrderRequest(
            client_order_id="rara2",
            symbol=symbol,
            side="sell",
            order_type="market",
            quantity=D("0.01"),
        )
    return OrderIntent(
        seq=1,
        strategy_id="sma-1a2b",
        correlation_id="paper-1",
        request=request,
        reason="entry" if side == "buy" else "exit",
        signal_bar_ms=NOW - H,
        mark_price=D("100"),
    )


def account(now_ms: int, symbols: tuple[str, ...] = ("BTC/USDT", "ETH/USDT")) -> AccountView:
    return AccountView(
        now_ms=now_ms,
        quote_currency="USDT",
        cash=D(9000),
        cash_free=D(9000),
        positions={s: PositionView(quantity=D("0.01"), mark=D("100")) for s in symbols},
        peak_equity=D(9002),
        feeds={s: FeedView(last_bar_ms=now_ms - H, interval_ms=H) for s in symbols},
    )
