"""A Binance spot REST emulator on 127.0.0.1, enough for ccxt's ``load_markets`` and
``fetch_ohlcv``.

Endpoints: ``/api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo`` and ``/api/v3/klines``
(Binance's 12-field arrays). Anything else answers a JSON 404 naming the path, so a test can
assert that no un-emulated call was needed. Candles are a pure function of (seed, symbol,
interval, bar index), so every request sees the same history and a test can ask the emulator for
the truth: `BinanceEmulator.bars` (what it serves now) and `BinanceEmulator.closed_bars` (the
final values of the bars that have closed).

Time: `BinanceEmulator.now_ms` is the exchange's clock (None: the real one), settable at any
moment, so a test walks a bar through its life. As on Binance, ``klines`` serves bars up to the
one forming at now, and the forming bar's values are partial (its close moves and its volume
grows until it closes). `freeze` halts trading in every market (a stale venue: it keeps
answering, but the bar forming at the freeze closes with the values it had then, and no bar
opens after it) and `resume` lets trading go on: the bars of the halt never exist.

Faults are scripted with `Fault`: a status (429 with Retry-After, 5xx) or a hang that blocks until
released, chosen by the n-th request to a path or by a predicate on the query. Gaps (bars that
the exchange simply does not have) and listing times are per symbol. Every request is recorded.

Layout: the candles themselves are `tests.emulators.candles`; this module is the venue around
them (HTTP, clock, halts, faults, the record), with one section per concern and one branch of
`BinanceEmulator._answer` per endpoint, so the order endpoints can join as their own section.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from tests.emulators.candles import (
    INTERVAL_MS,
    Halt,
    Market,
    float_rows,
    klines,
)

KLINES = "/api/v3/klines"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    status: int | None = None  # filled in once answered; None while a hang blocks it

    @property
    def start_time(self) -> int | None:
        v = self.query.get("startTime")
        return int(v) if v is not None else None


@dataclass
class Fault:
    """A scripted misbehaviour. It applies to requests to ``path`` that are the ``nth`` such
    request (1-based, counted over the emulator's life) and/or satisfy ``when(query)``, for at
    most ``times`` requests. It either answers ``status`` with ``headers``/``body`` or, when
    ``hang`` is set, blocks until `release` and then answers normally."""

    path: str = KLINES
    nth: int | None = None
    when: Callable[[dict[str, str]], bool] | None = None
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "Internal Server Error"
    hang: bool = False
    entered: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    hits: int = 0

    def release(self) -> None:
        self.released.set()


class BinanceEmulator:
    """Use as a context manager; ``api_url`` is what replaces ccxt's ``urls['api']['public']``."""

    def __init__(
        self,
        seed: int = 7,
        markets: list[Market] | None = None,
        now_ms: int | None = None,
    ) -> None:
        self.seed = seed
        self.markets = {
            m.id: m
            for m in (
                markets
                or [
                    Market("BTC", "USDT", price0=30_000.0),
                    Market("ETH", "USDT", price0=2_000.0),
                ]
            )
        }
        self.now_ms = now_ms  # the exchange's clock in UTC ms; None: real time
        self.halts: list[Halt] = []  # [start, end) without trading
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> BinanceEmulator:
        emu = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
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

    def __enter__(self) -> BinanceEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url + "/api/v3"

    # ---- scripting -----------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(
        self,
        nth: int,
        status: int,
        retry_after: str | None = None,
        path: str = KLINES,
        body: str | None = None,
    ) -> Fault:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if body is None:
            body = (
                json.dumps({"code": -1003, "msg": "Too many requests."})
                if status == 429
                else "Internal Server Error"
            )
        return self.add_fault(Fault(path=path, nth=nth, status=status, headers=headers, body=body))

    def hang(self, nth: int, path: str = KLINES) -> Fault:
        return self.add_fault(Fault(path=path, nth=nth, hang=True))

    def omit(self, symbol_id: str, start_ms: int, end_ms: int) -> None:
        """The exchange has no bars with ``start_ms <= ts < end_ms`` (an outage)."""
        self.markets[symbol_id].gaps.append((start_ms, end_ms))

    def freeze(self) -> None:
        """Halt trading at now: the exchange keeps answering, but the forming bar keeps the
        values it has (and closes with them) and no bar opens until `resume`."""
        with self._lock:
            assert not self.halts or self.halts[-1][1] is not None, "already frozen"
            self.halts.append((self.now(), None))

    def resume(self) -> None:
        """Trading goes on from now; bars open again from the next one on the grid."""
        with self._lock:
            assert self.halts and self.halts[-1][1] is None, "not frozen"
            self.halts[-1] = (self.halts[-1][0], self.now())

    @contextmanager
    def released(self) -> Iterator[None]:
        try:
            yield
        finally:
            for f in self.faults:
                f.release()

    # ---- inspection ----------------------------------------------------------------------
    def now(self) -> int:
        """The exchange's clock (UTC ms)."""
        return int(time.time() * 1000) if self.now_ms is None else self.now_ms

    def calls(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def klines_calls(self) -> list[Recorded]:
        return self.calls(KLINES)

    def bars(self, symbol_id: str, interval: str, start_ms: int, end_ms: int) -> np.ndarray:
        """What the exchange serves now: every bar it has with ``start_ms <= ts < end_ms`` up to
        the one forming (partial), as float rows [ts, open, high, low, close, volume]."""
        rows = self._klines(self.markets[symbol_id], interval, start_ms, end_ms - 1, limit=None)
        return float_rows(rows)

    def closed_bars(self, symbol_id: str, interval: str, start_ms: int, end_ms: int) -> np.ndarray:
        """The truth a feed must produce: the bars with ``start_ms <= ts < end_ms`` that have
        closed by now, with their final values (rows as in `bars`)."""
        rows = self._klines(
            self.markets[symbol_id], interval, start_ms, end_ms - 1, limit=None, closed_only=True
        )
        return float_rows(rows)

    # ---- the exchange --------------------------------------------------------------------
    def _klines(
        self,
        m: Market,
        interval: str,
        start_ms: int | None,
        end_ms: int | None,
        limit: int | None,
        closed_only: bool = False,
    ) -> list[list[Any]]:
        return klines(
            self.seed, m, interval, start_ms, end_ms, limit, self.now(), self.halts, closed_only
        )

    def _exchange_info(self) -> dict[str, Any]:
        def symbol(m: Market) -> dict[str, Any]:
            return {
                "symbol": m.id,
                "status": "TRADING",
                "baseAsset": m.base,
                "baseAssetPrecision": 8,
                "quoteAsset": m.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": "0.01000000",
                        "maxPrice": "1000000.00000000",
                        "tickSize": "0.01000000",
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": "0.00001000",
                        "maxQty": "9000.00000000",
                        "stepSize": "0.00001000",
                    },
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
            }

        return {
            "timezone": "UTC",
            "serverTime": self.now(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                }
            ],
            "exchangeFilters": [],
            "symbols": [symbol(m) for m in self.markets.values()],
        }

    def _answer(self, path: str, q: dict[str, str]) -> tuple[int, Any]:
        if path == "/api/v3/ping":
            return 200, {}
        if path == "/api/v3/time":
            return 200, {"serverTime": self.now()}
        if path == "/api/v3/exchangeInfo":
            return 200, self._exchange_info()
        if path == KLINES:
            m = self.markets.get(q.get("symbol", ""))
            if m is None:
                return 400, {"code": -1121, "msg": "Invalid symbol."}
            if q.get("interval") not in INTERVAL_MS:
                return 400, {"code": -1120, "msg": "Invalid interval."}
            try:
                limit = int(q.get("limit", "500"))
                start = int(q["startTime"]) if "startTime" in q else None
                end = int(q["endTime"]) if "endTime" in q else None
            except ValueError:
                return 400, {"code": -1100, "msg": "Illegal characters found in a parameter."}
            if not 1 <= limit <= 1000:
                return 400, {"code": -1130, "msg": "Invalid data sent for a parameter."}
            return 200, self._klines(m, q["interval"], start, end, limit)
        return 404, {"code": -404, "msg": f"not emulated: GET {path}"}

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        q = dict(parse_qsl(parts.query))
        rec = Recorded("GET", parts.path, q)
        fault = None
        with self._lock:
            self.requests.append(rec)
            n = self._counts[parts.path] = self._counts.get(parts.path, 0) + 1
            for f in self.faults:
                if f.path != parts.path or f.hits >= f.times:
                    continue
                if f.nth is not None and f.nth != n:
                    continue
                if f.when is not None and not f.when(q):
                    continue
                f.hits += 1
                fault = f
                break
        status: int
        payload: bytes
        headers: dict[str, str] = {}
        if fault is not None and fault.hang:
            fault.entered.set()
            fault.released.wait(timeout=120)
            fault = None
        if fault is not None:
            status, payload, headers = fault.status, fault.body.encode(), dict(fault.headers)
            ctype = "application/json" if payload[:1] in (b"{", b"[") else "text/plain"
        else:
            status, obj = self._answer(parts.path, q)
            payload, ctype = json.dumps(obj).encode(), "application/json"
        rec.status = status
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(payload)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (a test killed it mid-request)
