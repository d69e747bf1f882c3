"""A Binance spot REST emulator on 127.0.0.1, enough for ccxt's ``load_markets``,
``fetch_ohlcv`` and spot trading.

Public endpoints: ``/api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo`` (with the filters
ccxt reads for precision and minimums) and ``/api/v3/klines`` (Binance's 12-field arrays). The
signed order endpoints are `tests.emulators.exchange_orders` over the dialect-free order core
`tests.emulators.book` (`BinanceEmulator.book`: the truth a test reads). Anything else answers a
JSON 404 naming the method and path, so a test can assert that no un-emulated call was needed.
Candles are a pure function of (seed, symbol, interval, bar index), so every request sees the
same history and a test can ask the emulator for the truth: `BinanceEmulator.bars` (what it
serves now) and `BinanceEmulator.closed_bars` (the final values of the bars that have closed).

Time: `BinanceEmulator.now_ms` is the exchange's clock (None: the real one), settable at any
moment, so a test walks a bar through its life. As on Binance, ``klines`` serves bars up to the
one forming at now, and the forming bar's values are partial (its close moves and its volume
grows until it closes). `freeze` halts trading in every market (a stale venue: it keeps
answering, but the bar forming at the freeze closes with the values it had then, and no bar
opens after it) and `resume` lets trading go on: the bars of the halt never exist.

Faults are scripted with `tests.emulators.server.Fault` (a status, a hang, before or after the
request is processed); the order faults are one line each: `accept_then_timeout`,
`accept_then_fail`, `timeout_before_accept`, `fail_before_accept` (never placed),
`rate_limit_orders`, `partial_fills`, `not_found_for`. Gaps (bars that the
exchange simply does not have) and listing times are per symbol. Every request is recorded.

Layout: the candles are `tests.emulators.candles`, the HTTP server with its record and faults
`tests.emulators.server`, the order core `tests.emulators.book`, the signed endpoints
`tests.emulators.exchange_orders`; this module is the venue around them (clock, halts, public
endpoints, scripting), one branch of `BinanceEmulator._answer` per public endpoint.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import numpy as np

from tests.emulators.book import Bar, Book, EmuOrder, MarketSpec, Side
from tests.emulators.candles import (
    INTERVAL_MS,
    Halt,
    Market,
    float_rows,
    klines,
)
from tests.emulators.exchange_orders import PRIVATE, Hide, SpotOrders, wire
from tests.emulators.server import Answer, Fault, FaultyServer, Recorded

__all__ = ["KLINES", "ORDER", "BinanceEmulator", "Fault", "Recorded", "default_spec"]

KLINES = "/api/v3/klines"
ORDER = "/api/v3/order"


def default_spec(m: Market) -> MarketSpec:
    """Binance-like rules: 0.00001 base, 0.01 quote ticks, a 5-quote minimum, 0.1% fee."""
    return MarketSpec(
        base=m.base,
        quote=m.quote,
        amount_step=Decimal("0.00001"),
        price_step=Decimal("0.01"),
        min_amount=Decimal("0.00001"),
        min_notional=Decimal("5"),
        fee_rate=Decimal("0.001"),
    )


class BinanceEmulator(FaultyServer):
    """Use as a context manager; ``api_url`` is what replaces ccxt's ``urls['api']['public']``
    and ``['private']``. ``api_keys`` ({key: secret}) are the accounts that may trade, each key
    its own account in `book` (named by the key); ``specs`` (by unified symbol) override a
    market's rules; ``book_interval`` is the bar length the book matches resting orders on."""

    def __init__(
        self,
        seed: int = 7,
        markets: list[Market] | None = None,
        now_ms: int | None = None,
        api_keys: dict[str, str] | None = None,
        specs: dict[str, MarketSpec] | None = None,
        book_interval: str = "1h",
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
        super().__init__()
        self.now_ms = now_ms  # the exchange's clock in UTC ms; None: real time
        self.halts: list[Halt] = []  # [start, end) without trading
        self._unified = {m.id: f"{m.base}/{m.quote}" for m in self.markets.values()}
        self._by_unified = {u: self.markets[i] for i, u in self._unified.items()}
        specs = {u: (specs or {}).get(u) or default_spec(m) for u, m in self._by_unified.items()}
        self.book_interval = book_interval
        self.book = Book(specs, self._price_at, self.now, INTERVAL_MS[book_interval])
        self.orders = SpotOrders(self.book, dict(api_keys or {}), self._unified)

    def stop(self) -> None:
        self.book.close()
        super().stop()

    @property
    def api_url(self) -> str:
        return self.url + "/api/v3"

    # ---- scripting -----------------------------------------------------------------------
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

    # ---- order faults, one line each ------------------------------------------------------
    def accept_then_timeout(self, nth: int = 1) -> Fault:
        """The ``nth`` order placed is placed, then its answer hangs (past ccxt's timeout)
        until `release`/`stop`."""
        return self.add_fault(
            Fault(path=ORDER, method="POST", nth=nth, hang=True, after_accept=True)
        )

    def accept_then_fail(self, nth: int = 1, status: int = 503) -> Fault:
        """The ``nth`` order placed is placed, then answered with a 5xx."""
        body = "Service Unavailable" if status == 503 else "Internal Server Error"
        return self.add_fault(
            Fault(path=ORDER, method="POST", nth=nth, status=status, body=body, after_accept=True)
        )

    def timeout_before_accept(self, nth: int = 1) -> Fault:
        """The ``nth`` order request hangs (past ccxt's timeout) and is never placed: released
        (`release`/`stop`), it answers 504 to a client long gone."""
        body = json.dumps({"code": -1007, "msg": "Timeout waiting for response from backend."})
        return self.add_fault(
            Fault(
                path=ORDER, method="POST", nth=nth, hang=True, dropped=True, status=504, body=body
            )
        )

    def fail_before_accept(self, nth: int = 1, status: int = 503) -> Fault:
        """The ``nth`` order request is answered with a 5xx and never placed (the client cannot
        tell this from `accept_then_fail`)."""
        body = "Service Unavailable" if status == 503 else "Internal Server Error"
        return self.add_fault(Fault(path=ORDER, method="POST", nth=nth, status=status, body=body))

    def rate_limit_orders(self, nth: int = 1, retry_after: str = "1") -> Fault:
        """The ``nth`` order request is refused with 429 and Retry-After (nothing placed)."""
        body = json.dumps({"code": -1003, "msg": "Too many requests; current limit is 50."})
        headers = {"Retry-After": retry_after}
        return self.add_fault(
            Fault(path=ORDER, method="POST", nth=nth, status=429, headers=headers, body=body)
        )

    def partial_fills(self, share: float | None) -> None:
        """Market orders fill ``share`` now and the rest at the next bar's open (None: off)."""
        self.book.partial_fill = share

    def not_found_for(self, polls: int, client_order_id: str | None = None) -> Hide:
        """The next order placed (or every order with ``client_order_id``) exists but the first
        ``polls`` reads that would show it do not: ``GET /api/v3/order`` answers "Order does
        not exist.", ``myTrades``/``openOrders``/``allOrders`` leave it out."""
        return self.orders.hide(Hide(polls=polls, client_order_id=client_order_id))

    # ---- accounts --------------------------------------------------------------------------
    def fund(self, account: str, currency: str, amount: Decimal | str) -> None:
        self.book.fund(account, currency, Decimal(amount))

    def place_external(
        self,
        account: str,
        symbol: str,
        side: Side,
        quantity: Decimal | str,
        price: Decimal | str | None = None,
        client_order_id: str = "web_4f1c2a9e0b7d4e",
    ) -> EmuOrder:
        """An order placed on ``account`` by someone else (the venue's web UI): a limit if
        ``price`` is given, else a market order, under a client id rara never makes."""
        return self.book.place(
            account,
            symbol,
            side,
            "limit" if price is not None else "market",
            quantity=Decimal(quantity),
            price=Decimal(price) if price is not None else None,
            client_order_id=client_order_id,
        )

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

    # ---- inspection ----------------------------------------------------------------------
    def now(self) -> int:
        """The exchange's clock (UTC ms)."""
        return int(time.time() * 1000) if self.now_ms is None else self.now_ms

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
            spec = self.book.markets[self._unified[m.id]]
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
                "orderTypes": ["LIMIT", "MARKET", "STOP_LOSS", "TAKE_PROFIT"],
                "icebergAllowed": True,
                "ocoAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": wire(spec.price_step),
                        "maxPrice": "1000000.00000000",
                        "tickSize": wire(spec.price_step),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": wire(spec.min_amount),
                        "maxQty": "9000.00000000",
                        "stepSize": wire(spec.amount_step),
                    },
                    {
                        "filterType": "NOTIONAL",
                        "minNotional": wire(spec.min_notional),
                        "applyMinToMarket": True,
                        "maxNotional": "9000000.00000000",
                        "applyMaxToMarket": False,
                        "avgPriceMins": 5,
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

    def _answer(self, path: str, q: dict[str, str]) -> Answer:
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

    def _price_at(self, symbol: str, bar_ms: int) -> Bar | None:
        """The book's view of a bar: its (open, high, low, close, volume) as served now."""
        m = self._by_unified[symbol]
        rows = self._klines(m, self.book_interval, bar_ms, bar_ms, limit=1)
        if not rows or rows[0][0] != bar_ms:
            return None
        o, h, lo, c, v = (float(x) for x in rows[0][1:6])
        return o, h, lo, c, v

    def _process(
        self, method: str, path: str, q: dict[str, str], raw: str, headers: dict[str, str]
    ) -> Answer:
        if path not in PRIVATE:
            if method != "GET":
                return 404, {"code": -404, "msg": f"not emulated: {method} {path}"}
            return self._answer(path, q)
        who = self.orders.authenticate(raw, headers)
        if not isinstance(who, str):
            return who
        return self.orders.answer(method, path, q, who)
