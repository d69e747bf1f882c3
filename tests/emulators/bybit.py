"""A Bybit v5 spot REST emulator on 127.0.0.1: what real ccxt ``bybit`` (sandbox mode, its
``urls['api']`` pointed here, a unified trading account) needs to trade spot.

Endpoints: public ``/v5/market/time``, ``instruments-info`` (category spot; lotSizeFilter and
priceFilter from the `MarketSpec`, so ccxt's precision and limits are the core's rules) and
``kline``; private (v5 HMAC-signed) ``/v5/user/query-api`` and ``/v5/account/info`` (what ccxt
asks first to learn the account is unified), ``/v5/account/wallet-balance`` (UNIFIED),
``/v5/order/create|cancel|cancel-all``, ``/v5/order/realtime`` (open orders; any recent order
by orderId/orderLinkId), ``/v5/order/history`` (closed orders), ``/v5/execution/list`` and
``/v5/order/disconnected-cancel-all`` (Bybit's dead man's switch, "DCP": timeWindow seconds, 0
disarms; the core's real-timer `Book.cancel_after`). Anything else answers retCode 10017 with
HTTP 404, naming the path, so a test sees an un-emulated call.

The venue is thin: orders, fills and balances are the dialect-free `tests.emulators.book.Book`
(one per emulator; each API key is its own account, named by the key), candles are
`tests.emulators.candles`, the v5 shapes are `tests.emulators.bybit_v5`. Clock, faults and the
request record are as in `tests.emulators.exchange.BinanceEmulator` (`Fault`, `Recorded`).
Signatures are checked against the wall clock (Bybit's rule: timestamp within recv_window
before the server's time, at most 1 s after), not the settable exchange clock, because ccxt
signs with the machine's time.

Where the emulator is stricter or simpler than Bybit, on purpose: only category spot; limit
orders are GTC; conditional (StopOrder/tpslOrder) orders are market orders; ``orderFilter``
defaults to Order on cancel and cancel-all (as Bybit documents), so a conditional order is
cancelled only with StopOrder/tpslOrder (ccxt: ``params={'trigger': True}``); reads without
orderFilter see every kind.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.emulators import bybit_v5 as v5
from tests.emulators.book import Book, EmuOrder, MarketSpec, Side
from tests.emulators.bybit_orders import V5Trading
from tests.emulators.bybit_v5 import V5Error
from tests.emulators.candles import INTERVAL_MS, Halt, Market, klines
from tests.emulators.exchange import Fault, Recorded

CREATE = "/v5/order/create"
DCP = "/v5/order/disconnected-cancel-all"
DEFAULT_SPEC = MarketSpec(
    base="BTC",
    quote="USDT",
    amount_step=Decimal("0.000001"),
    price_step=Decimal("0.01"),
    min_amount=Decimal("0.000048"),
    min_notional=Decimal("1"),
    fee_rate=Decimal("0.001"),
)
API_URL_KEYS = ("spot", "futures", "v2", "public", "private")  # ccxt bybit's urls['api']


def spec_for(m: Market) -> MarketSpec:
    return MarketSpec(
        base=m.base,
        quote=m.quote,
        amount_step=DEFAULT_SPEC.amount_step,
        price_step=DEFAULT_SPEC.price_step,
        min_amount=DEFAULT_SPEC.min_amount,
        min_notional=DEFAULT_SPEC.min_notional,
        fee_rate=DEFAULT_SPEC.fee_rate,
    )


class BybitEmulator(V5Trading):
    """Use as a context manager; `api_urls` is what replaces ccxt's ``urls['api']`` (after
    ``set_sandbox_mode(True)``, which would otherwise swap the testnet hosts back in)."""

    def __init__(
        self,
        seed: int = 7,
        markets: list[Market] | None = None,
        specs: dict[str, MarketSpec] | None = None,
        api_keys: dict[str, str] | None = None,
        now_ms: int | None = None,
        interval: str = "1h",
    ) -> None:
        self.seed = seed
        self.markets = {
            m.id: m
            for m in (
                markets
                or [Market("BTC", "USDT", price0=30_000.0), Market("ETH", "USDT", price0=2_000.0)]
            )
        }
        self._by_symbol = {f"{m.base}/{m.quote}": m for m in self.markets.values()}
        # specs by unified symbol ("BTC/USDT"); a market without one gets the default rules
        self.specs = {u: (specs or {}).get(u) or spec_for(m) for u, m in self._by_symbol.items()}
        self.api_keys = dict(api_keys or {})
        self.now_ms = now_ms  # the exchange's clock in UTC ms; None: real time
        self.interval = interval  # the bar the core matches resting orders on
        self.halts: list[Halt] = []
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.dcp_windows: dict[str, int] = {}  # account -> the last timeWindow armed (s)
        self._extras: dict[str, v5.OrderExtras] = {}  # order id -> what v5 says beyond the core
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self.book = Book(dict(self.specs), self.price_at, self.now, INTERVAL_MS[interval])

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> BybitEmulator:
        emu = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                emu._handle(self, "GET")

            def do_POST(self) -> None:
                emu._handle(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean; `requests` is the log

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        for f in self.faults:
            f.release()
        self.book.close()  # no countdown outlives the emulator
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BybitEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_urls(self) -> dict[str, str]:
        """ccxt bybit's ``urls['api']``, every key pointed here."""
        return dict.fromkeys(API_URL_KEYS, self.url)

    # ---- scripting and inspection ----------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def fail(self, nth: int, status: int, path: str = CREATE, retry_after: str | None = None,
             body: str | None = None) -> Fault:  # fmt: skip
        """The ``nth`` request to ``path`` is answered ``status`` instead (nothing done)."""
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if body is None:
            body = "Service Unavailable" if status == 503 else "Internal Server Error"
        return self.add_fault(Fault(path=path, nth=nth, status=status, headers=headers, body=body))

    def hang(self, nth: int, path: str = CREATE) -> Fault:
        """The ``nth`` request to ``path`` blocks until `Fault.release`/`stop` (nothing done
        until then)."""
        return self.add_fault(Fault(path=path, nth=nth, hang=True))

    def rate_limit_orders(self, nth: int = 1, retry_after: str = "1") -> Fault:
        """The ``nth`` order request is refused, nothing placed: HTTP 429 with Retry-After and
        Bybit's retCode 10006 (ccxt: RateLimitExceeded)."""
        body = json.dumps({"retCode": 10006, "retMsg": "Too many visits!", "result": {}})
        return self.fail(nth, 429, CREATE, retry_after=retry_after, body=body)

    def partial_fills(self, share: float | None) -> None:
        """Market orders fill ``share`` now and the rest at the next bar's open (None: off)."""
        self.book.partial_fill = share

    def fund(self, api_key: str, currency: str, amount: Decimal | str) -> None:
        self.book.fund(api_key, currency, Decimal(amount))

    def place_external(
        self,
        api_key: str,
        symbol: str,
        side: Side,
        quantity: Decimal | str,
        price: Decimal | str | None = None,
        client_order_id: str | None = None,
    ) -> EmuOrder:
        """An order placed on the account by someone else (Bybit's web UI: no orderLinkId
        unless given): a limit if ``price`` is given, else a market order."""
        o = self.book.place(
            api_key, symbol, side, "limit" if price is not None else "market",
            quantity=Decimal(quantity), price=Decimal(price) if price is not None else None,
            client_order_id=client_order_id,
        )  # fmt: skip
        with self._lock:
            self._extras[o.order_id] = v5.OrderExtras(
                order_type="Limit" if price is not None else "Market",
                order_filter="Order",
                market_unit="" if price is not None else "baseCoin",
                trigger_direction=0,
                reduce_only=False,
                time_in_force="GTC" if price is not None else "IOC",
                has_link_id=client_order_id is not None,
            )
        return o

    def now(self) -> int:
        """The exchange's clock (UTC ms)."""
        return int(time.time() * 1000) if self.now_ms is None else self.now_ms

    def calls(self, path: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def price_at(self, symbol: str, bar_ms: int) -> tuple[float, float, float, float, float] | None:
        """The (open, high, low, close, volume) of ``symbol``'s bar opening at ``bar_ms`` as
        served now (partial while it forms); None when the exchange has no such bar."""
        rows = klines(
            self.seed, self._by_symbol[symbol], self.interval, bar_ms, bar_ms, 1, self.now(),
            self.halts,
        )  # fmt: skip
        if not rows:
            return None
        r = rows[0]
        return float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5])

    def _last_price(self, symbol: str) -> Decimal | None:
        tf = INTERVAL_MS[self.interval]
        bar = self.price_at(symbol, self.now() // tf * tf)
        return Decimal(str(bar[3])) if bar is not None else None

    # ---- HTTP ------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        raw_body = b""
        if method == "POST":
            raw_body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            body = None
        q: dict[str, Any] = dict(parse_qsl(parts.query)) if method == "GET" else (body or {})
        rec = Recorded(method, parts.path, {k: _text(v) for k, v in q.items()})
        fault = self._fault_for(parts.path, rec)
        if fault is not None and fault.hang:
            fault.entered.set()
            fault.released.wait(timeout=120)
            fault = None
        status: int
        headers: dict[str, str] = {}
        if fault is not None:
            status, payload, headers = fault.status, fault.body.encode(), dict(fault.headers)
            ctype = "application/json" if payload[:1] in (b"{", b"[") else "text/plain"
        else:
            try:
                if body is None:
                    raise V5Error(v5.BAD_PARAM, "params error: body is not JSON")
                status, obj = (
                    200,
                    v5.envelope(self._answer(h, method, parts, raw_body, q), self.now()),
                )
            except V5Error as e:
                status, obj = e.status, v5.error_body(e, self.now())
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

    def _fault_for(self, path: str, rec: Recorded) -> Fault | None:
        with self._lock:
            self.requests.append(rec)
            n = self._counts[path] = self._counts.get(path, 0) + 1
            for f in self.faults:
                if f.path != path or f.hits >= f.times:
                    continue
                if f.nth is not None and f.nth != n:
                    continue
                if f.when is not None and not f.when(rec.query):
                    continue
                f.hits += 1
                return f
        return None

    def _authenticate(self, h: BaseHTTPRequestHandler, method: str, query: str, body: bytes) -> str:
        """The account (its API key) a v5-signed request is from, or a V5Error as Bybit's."""
        key = h.headers.get("X-BAPI-API-KEY") or ""
        secret = self.api_keys.get(key)
        if secret is None:
            raise V5Error(v5.BAD_KEY, "API key is invalid.", status=401)
        ts, recv = h.headers.get("X-BAPI-TIMESTAMP", ""), h.headers.get("X-BAPI-RECV-WINDOW", "")
        try:
            ts_ms, recv_ms = int(ts), int(recv or "5000")
        except ValueError:
            raise V5Error(v5.BAD_TIMESTAMP, "invalid request, check timestamp") from None
        wall = int(time.time() * 1000)
        if not wall - recv_ms <= ts_ms < wall + 1000:
            raise V5Error(
                v5.BAD_TIMESTAMP,
                "invalid request, please check your server timestamp or recv_window param",
            )
        signed = (ts + key + recv).encode() + (body if method == "POST" else query.encode())
        want = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, h.headers.get("X-BAPI-SIGN", "")):
            raise V5Error(v5.BAD_SIGN, "error sign! origin_string mismatch", status=401)
        return key

    def _answer(
        self, h: BaseHTTPRequestHandler, method: str, parts: Any, raw: bytes, q: dict[str, Any]
    ) -> Any:
        path = parts.path
        route = PUBLIC.get((method, path))
        if route is not None:
            return route(self, q)
        private = PRIVATE.get((method, path))
        if private is None:
            raise V5Error(v5.NOT_FOUND_PATH, f"not emulated: {method} {path}", status=404)
        account = self._authenticate(h, method, parts.query, raw)
        self.book.advance()  # resting orders see every bar closed since the last request
        return private(self, account, q)

    # ---- market data -------------------------------------------------------------------------
    def _time(self, q: dict[str, Any]) -> Any:
        now = self.now()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        wanted = q.get("symbol")
        rows = [
            v5.instrument(m, self.specs[u])
            for u, m in self._by_symbol.items()
            if wanted is None or m.id == wanted
        ]
        return {"category": "spot", "list": rows, "nextPageCursor": ""}

    def _kline(self, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        m = self._market(q)
        interval = v5.INTERVALS.get(str(q.get("interval", "")))
        if interval is None:
            raise V5Error(v5.BAD_PARAM, "params error: interval invalid")
        limit = v5.page_limit(q, 200, 1000)
        start = int(q["start"]) if "start" in q else None
        end = int(q["end"]) if "end" in q else None
        rows = klines(self.seed, m, interval, start, end, limit, self.now(), self.halts)
        return {"symbol": m.id, "category": "spot", "list": [v5.kline_row(r) for r in rows[::-1]]}

    # ---- account -----------------------------------------------------------------------------
    def _query_api(self, account: str, q: dict[str, Any]) -> Any:
        # the key itself is never echoed back: tests grep output for it
        return {
            "id": "1",
            "note": "rara emulator",
            "apiKey": "",
            "readOnly": 0,
            "secret": "",
            "permissions": {"Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"]},
            "ips": ["*"],
            "type": 1,
            "unified": 0,
            "uta": 1,
            "userID": 1,
            "isMaster": True,
        }

    def _account_info(self, account: str, q: dict[str, Any]) -> Any:
        window = self.dcp_windows.get(account, 0)
        return {
            "marginMode": "REGULAR_MARGIN",
            "updatedTime": str(self.now()),
            "unifiedMarginStatus": 6,
            "dcpStatus": "ON" if window else "OFF",
            "timeWindow": window,
            "smpGroup": 0,
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
        }

    def _wallet(self, account: str, q: dict[str, Any]) -> Any:
        if q.get("accountType") != "UNIFIED":
            raise V5Error(v5.BAD_PARAM, "accountType only support UNIFIED")
        wanted = q.get("coin")
        balances = {
            c: fl
            for c, fl in self.book.balances(account).items()
            if wanted is None or c in str(wanted).split(",")
        }
        return v5.wallet_json(balances)


def _text(v: Any) -> str:
    """A JSON body's value as its query-string spelling (the record keeps one shape)."""
    return v if isinstance(v, str) else json.dumps(v)


Public = Callable[[BybitEmulator, dict[str, Any]], Any]
Private = Callable[[BybitEmulator, str, dict[str, Any]], Any]
PUBLIC: dict[tuple[str, str], Public] = {
    ("GET", "/v5/market/time"): BybitEmulator._time,
    ("GET", "/v5/market/instruments-info"): BybitEmulator._instruments,
    ("GET", "/v5/market/kline"): BybitEmulator._kline,
}
PRIVATE: dict[tuple[str, str], Private] = {
    ("GET", "/v5/user/query-api"): BybitEmulator._query_api,
    ("GET", "/v5/account/info"): BybitEmulator._account_info,
    ("GET", "/v5/account/wallet-balance"): BybitEmulator._wallet,
    ("GET", "/v5/order/realtime"): BybitEmulator._realtime,
    ("GET", "/v5/order/history"): BybitEmulator._history,
    ("GET", "/v5/execution/list"): BybitEmulator._executions,
    ("POST", CREATE): BybitEmulator._create,
    ("POST", "/v5/order/cancel"): BybitEmulator._cancel,
    ("POST", "/v5/order/cancel-all"): BybitEmulator._cancel_all,
    ("POST", DCP): BybitEmulator._dcp,
}
