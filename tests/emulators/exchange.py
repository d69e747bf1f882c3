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

KLINES = "/api/v3/klines"
INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
WEEK_ORIGIN_MS = 345_600_000  # Binance weekly bars open on Mondays (1970-01-05)
DEFAULT_LISTING_MS = 1_500_000_000_000  # 2017-07-14


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


@dataclass
class Market:
    base: str
    quote: str
    listing_ms: int = DEFAULT_LISTING_MS
    price0: float = 100.0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) with no bars

    @property
    def id(self) -> str:
        return self.base + self.quote


def _splitmix(x: np.ndarray) -> np.ndarray:
    """A counter-based hash (splitmix64 finaliser): seeded noise without any state."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = x ^ (x >> np.uint64(31))
    return out


def _noise(seed: int, salt: int, k: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) per bar index, deterministic in (seed, salt, k)."""
    key = np.uint64((seed * 1_000_003 + salt) & 0xFFFF_FFFF_FFFF_FFFF)
    h = _splitmix(_splitmix(k.astype(np.uint64) ^ key))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _float_rows(rows: list[list[Any]]) -> np.ndarray:
    return np.array([[r[0], *map(float, r[1:6])] for r in rows], dtype=np.float64).reshape(-1, 6)


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
        self.halts: list[tuple[int, int | None]] = []  # [start, end) without trading
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
        return _float_rows(rows)

    def closed_bars(self, symbol_id: str, interval: str, start_ms: int, end_ms: int) -> np.ndarray:
        """The truth a feed must produce: the bars with ``start_ms <= ts < end_ms`` that have
        closed by now, with their final values (rows as in `bars`)."""
        rows = self._klines(
            self.markets[symbol_id], interval, start_ms, end_ms - 1, limit=None, closed_only=True
        )
        return _float_rows(rows)

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
        tf = INTERVAL_MS[interval]
        origin = WEEK_ORIGIN_MS if interval == "1w" else 0
        now = self.now()
        last_open = min(now - tf if closed_only else now, end_ms if end_ms is not None else 1 << 62)
        first_open = max(m.listing_ms, start_ms if start_ms is not None else 0)
        k0 = -((origin - first_open) // tf)  # ceil: the first bar opening at or after
        k1 = (last_open - origin) // tf  # the last bar opening at or before (may be forming)
        if k1 < k0:
            return []
        if start_ms is None and limit is not None:  # Binance: no startTime -> the latest bars
            k0 = max(k0, k1 - limit + 1)
        out: list[list[Any]] = []
        # Walk in chunks so a gap or a small limit does not make us build millions of bars.
        k = k0
        while k <= k1 and (limit is None or len(out) < limit):
            ks = np.arange(k, min(k1, k + 4096 - 1) + 1, dtype=np.int64)
            k = int(ks[-1]) + 1
            ts = origin + ks * tf
            keep = np.ones(ks.size, dtype=bool)
            for gs, ge in m.gaps:
                keep &= ~((ts >= gs) & (ts < ge))
            for hs, he in self.halts:  # no bar opens while trading is halted
                keep &= ~((ts >= hs) & (ts < (he if he is not None else 1 << 62)))
            ks, ts = ks[keep], ts[keep]
            for row in self._rows(m, interval, ks, ts, tf, now):
                out.append(row)
                if limit is not None and len(out) >= limit:
                    break
        return out

    def _rows(
        self, m: Market, interval: str, ks: np.ndarray, ts: np.ndarray, tf: int, now: int
    ) -> list[list[Any]]:
        # not hash(): str hashes are salted per process, and the truth must match across them
        salt = sum(ord(c) * 31**i for i, c in enumerate(m.id + interval)) & 0xFFFF_FFFF

        def close_at(k: np.ndarray) -> np.ndarray:
            kf = k.astype(np.float64)
            walk = 0.08 * np.sin(kf / 2000.0 + salt % 7) + 0.02 * np.sin(kf / 173.0)
            noise = 0.004 * (_noise(self.seed, salt, k) - 0.5)
            out: np.ndarray = np.round(m.price0 * np.exp(walk + noise), 2)
            return out

        close = close_at(ks)
        open_ = close_at(ks - 1)  # the previous bar's close: a continuous series
        body_hi, body_lo = np.maximum(open_, close), np.minimum(open_, close)
        high = np.round(body_hi * (1 + 0.002 * _noise(self.seed, salt + 1, ks)), 2)
        low = np.round(body_lo * (1 - 0.002 * _noise(self.seed, salt + 2, ks)), 2)
        high, low = np.maximum(high, body_hi), np.minimum(low, body_lo)
        vol = np.round(1 + 50 * _noise(self.seed, salt + 3, ks), 5)
        # A bar has traded until now or until a halt that began inside it: if that is before
        # its close (forming, or the last before a halt), its close has gone only that share of
        # the way from the open and its volume has grown only that share.
        traded_until = np.full(ts.size, now, dtype=np.int64)
        for hs, _ in self.halts:
            inside = (ts <= hs) & (hs < ts + tf)
            traded_until[inside] = np.minimum(traded_until[inside], hs)
        forming = ts + tf > traded_until
        if forming.any():
            share = np.clip((traded_until[forming] - ts[forming]) / tf, 0.0, 1.0)
            o = open_[forming]
            close[forming] = np.round(o + (close[forming] - o) * share, 2)
            high[forming] = np.maximum(o, close[forming])
            low[forming] = np.minimum(o, close[forming])
            vol[forming] = np.round(vol[forming] * share, 5)
        rows = []
        for i in range(ks.size):
            t = int(ts[i])
            rows.append(
                [
                    t,
                    f"{open_[i]:.8f}",
                    f"{high[i]:.8f}",
                    f"{low[i]:.8f}",
                    f"{close[i]:.8f}",
                    f"{vol[i]:.8f}",
                    t + tf - 1,
                    f"{vol[i] * close[i]:.8f}",
                    100,
                    f"{vol[i] / 2:.8f}",
                    f"{vol[i] * close[i] / 2:.8f}",
                    "0",
                ]
            )
        return rows

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
