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
`tests.emulators.candles`, the v5 shapes are `tests.emulators.bybit_v5`; the HTTP server, the
request record and the scripted faults are `tests.emulators.server.FaultyServer`'s (one-line
order faults as on the Binance front: `accept_then_timeout`, `accept_then_fail`,
`rate_limit_orders`, `partial_fills`, `not_found_for`, plus `place_external`).
Signatures are checked against the wall clock (Bybit's rule: timestamp within recv_window
before the server's time, at most 1 s after), not the settable exchange clock, because ccxt
signs with the machine's time.

Where the emulator is stricter or simpler than Bybit, on purpose: only category spot; limit
orders are GTC; conditional (StopOrder/tpslOrder) orders are market orders; ``orderFilter``
defaults to Order on cancel and cancel-all (as Bybit documents), so a conditional order is
cancelled only with StopOrder/tpslOrder (ccxt: ``params={'trigger': True}``); reads without
orderFilter see every kind; history and executions cover at most 7 days (the last 7 without
startTime/endTime) and pages of at most 50/100, as on Bybit. Laxer: DCP takes a timeWindow of
1-2 s (Bybit: 3-300) so tests stay short, and its countdown runs from the last REST arming
(Bybit's counts from the loss of the private websocket that subscribed ``dcp``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from tests.emulators import bybit_v5 as v5
from tests.emulators.book import Bar, Book, EmuOrder, MarketSpec, Side
from tests.emulators.bybit_orders import V5Trading
from tests.emulators.bybit_v5 import V5Error
from tests.emulators.candles import INTERVAL_MS, Halt, Market, klines
from tests.emulators.exchange_orders import Hide
from tests.emulators.server import Answer, Fault, FaultyServer

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


class BybitEmulator(FaultyServer, V5Trading):
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
        super().__init__()
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
        self.dcp_windows: dict[str, int] = {}  # account -> the last timeWindow armed (s)
        self.hidden: list[Hide] = []
        self._extras: dict[str, v5.OrderExtras] = {}  # order id -> what v5 says beyond the core
        self.book = Book(dict(self.specs), self.price_at, self.now, INTERVAL_MS[interval])

    def stop(self) -> None:
        self.book.close()  # no countdown outlives the emulator
        super().stop()

    @property
    def api_url(self) -> str:
        """Where every ccxt bybit ``urls['api']`` entry points (the live-test kit's protocol)."""
        return self.url

    @property
    def api_urls(self) -> dict[str, str]:
        """ccxt bybit's ``urls['api']``, every key pointed here."""
        return dict.fromkeys(API_URL_KEYS, self.url)

    # ---- scripting -------------------------------------------------------------------------
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

    def accept_then_timeout(self, nth: int = 1) -> Fault:
        """The ``nth`` order request is placed, then its answer hangs (past ccxt's timeout)
        until `Fault.release`/`stop`."""
        return self.add_fault(Fault(path=CREATE, nth=nth, hang=True, after_accept=True))

    def accept_then_fail(self, nth: int = 1, status: int = 503) -> Fault:
        """The ``nth`` order request is placed, then answered with a 5xx."""
        body = "Service Unavailable" if status == 503 else "Internal Server Error"
        return self.add_fault(
            Fault(path=CREATE, nth=nth, status=status, body=body, after_accept=True)
        )

    def rate_limit_orders(self, nth: int = 1, retry_after: str = "1") -> Fault:
        """The ``nth`` order request is refused, nothing placed: HTTP 429 with Retry-After and
        Bybit's retCode 10006 (ccxt: RateLimitExceeded)."""
        body = json.dumps({"retCode": 10006, "retMsg": "Too many visits!", "result": {}})
        return self.fail(nth, 429, CREATE, retry_after=retry_after, body=body)

    def partial_fills(self, share: float | None) -> None:
        """Market orders fill ``share`` now and the rest at the next bar's open (None: off)."""
        self.book.partial_fill = share

    def not_found_for(self, polls: int, client_order_id: str | None = None) -> Hide:
        """The next order placed (or every order with ``client_order_id``) exists, but a read
        naming it (realtime or history by orderId/orderLinkId) finds nothing for the first
        ``polls`` such reads, and lists and executions leave it out until then."""
        hide = Hide(polls=polls, client_order_id=client_order_id)
        with self._lock:
            self.hidden.append(hide)
        return hide

    # ---- accounts ---------------------------------------------------------------------------
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

    # ---- the clock and the candles ------------------------------------------------------------
    def now(self) -> int:
        """The exchange's clock (UTC ms)."""
        return int(time.time() * 1000) if self.now_ms is None else self.now_ms

    def price_at(self, symbol: str, bar_ms: int) -> Bar | None:
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

    # ---- HTTP ------------------------------------------------------------------------------
    def _params(self, query: str, body: str) -> dict[str, str]:
        """Bybit's POST parameters are a JSON body; the record keeps them as query text."""
        q = dict(parse_qsl(query))
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                q.update({k: _text(v) for k, v in parsed.items()})
        return q

    def _process(
        self, method: str, path: str, q: dict[str, str], raw: str, headers: dict[str, str]
    ) -> Answer:
        try:
            return 200, v5.envelope(self._answer(method, path, q, raw, headers), self.now())
        except V5Error as e:
            return e.status, v5.error_body(e, self.now())

    def _authenticate(self, raw: str, headers: dict[str, str]) -> str:
        """The account (its API key) a v5-signed request is from, or a V5Error as Bybit's.
        ``raw`` is what ccxt signed: the query string of a GET, the JSON body of a POST."""
        key = headers.get("x-bapi-api-key", "")
        secret = self.api_keys.get(key)
        if secret is None:
            raise V5Error(v5.BAD_KEY, "API key is invalid.", status=401)
        ts, recv = headers.get("x-bapi-timestamp", ""), headers.get("x-bapi-recv-window", "")
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
        signed = (ts + key + recv + raw).encode()
        want = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, headers.get("x-bapi-sign", "")):
            raise V5Error(v5.BAD_SIGN, "error sign! origin_string mismatch", status=401)
        return key

    def _answer(
        self, method: str, path: str, q: dict[str, str], raw: str, headers: dict[str, str]
    ) -> Any:
        route = PUBLIC.get((method, path))
        if route is not None:
            return route(self, q)
        private = PRIVATE.get((method, path))
        if private is None:
            raise V5Error(v5.NOT_FOUND_PATH, f"not emulated: {method} {path}", status=404)
        account = self._authenticate(raw, headers)
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
