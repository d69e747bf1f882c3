"""Binance spot's signed endpoints over the emulator's `Book`: the HTTP dialect only.

``POST/GET/DELETE /api/v3/order``, ``GET/DELETE /api/v3/openOrders``, ``GET /api/v3/allOrders``,
``GET /api/v3/myTrades``, ``GET /api/v3/account`` and the futures dead man's switch ``POST
/fapi/v1/countdownCancelAll`` (its timer is the book's and cancels the whole account's open
orders, not one symbol's), in the shapes Binance sends (strings for
every amount, integer order and trade ids, ``newOrderRespType`` FULL with its fills) and with
Binance's error JSON, so real ccxt ``binance`` parses them and raises the exception class it
raises against Binance. Every request is authenticated as Binance does it: ``X-MBX-APIKEY``
names the account and an HMAC-SHA256 of the request's parameters under the key's secret is its
``signature``.

"Not found for the first N polls" lives here too (`Hide`): an order that exists but that
``GET /api/v3/order``, ``myTrades``, ``openOrders`` and ``allOrders`` do not show for the first N
reads that would have shown it (a read replica that lags: every read moves it along, so a client
that only ever reads the trades of an order it knows is filled sees them in the end too).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.emulators.book import Book, EmuError, EmuOrder, EmuTrade, Kind

PRIVATE = {
    "/api/v3/order",
    "/api/v3/openOrders",
    "/api/v3/allOrders",
    "/api/v3/myTrades",
    "/api/v3/account",
    "/sapi/v1/capital/config/getall",  # ccxt's fetchCurrencies, when keys are set
    "/sapi/v1/margin/allPairs",  # ccxt's fetchMargins (markets' margin flags)
    "/sapi/v1/margin/isolated/allPairs",
    "/fapi/v1/countdownCancelAll",  # the futures dead man's switch (here: the whole account)
}
TYPES: dict[str, Kind] = {
    "MARKET": "market",
    "LIMIT": "limit",
    "STOP_LOSS": "stop_market",
    "TAKE_PROFIT": "take_profit_market",
}
WIRE_TYPE = {v: k for k, v in TYPES.items()}
STATUS = {
    "new": "NEW",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "rejected": "REJECTED",
}
# The book's refusals as Binance words them (ccxt maps the msg first, then the code).
ERRORS: dict[str, tuple[int, str]] = {
    "duplicate_client_id": (-2010, "Duplicate order sent."),
    "insufficient_balance": (-2010, "Account has insufficient balance for requested action."),
    "unknown_symbol": (-1121, "Invalid symbol."),
    "below_min_amount": (-1013, "Filter failure: LOT_SIZE"),
    "below_min_notional": (-1013, "Filter failure: NOTIONAL"),
    "order_not_found": (-2011, "Unknown order sent."),
    "unknown_order_type": (-1116, "Invalid orderType."),
    "market_closed": (-1013, "Market is closed."),
}
CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # Binance's rule for newClientOrderId
NOT_FOUND = (400, {"code": -2013, "msg": "Order does not exist."})

Answer = tuple[int, Any]


def _err(code: int, msg: str, status: int = 400) -> Answer:
    return status, {"code": code, "msg": msg}


def _missing(name: str) -> Answer:
    return _err(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def wire(d: Decimal | None) -> str:
    """An amount as Binance writes it: 8 decimals (more only if the value needs them)."""
    if d is None:
        return "0.00000000"
    s = f"{d:.8f}"
    return s if Decimal(s) == d else format(d.normalize(), "f")


@dataclass
class Hide:
    """Orders that exist but are not shown by the first ``polls`` reads that would have shown
    them (by id, open orders, all orders, trades). With a ``client_order_id`` it covers that
    id's orders (placed before or after); without one, the next order placed (of any
    account)."""

    polls: int
    client_order_id: str | None = None
    order_id: str | None = None  # the order it attached to, once placed
    asked: int = 0

    def covers(self, o: EmuOrder) -> bool:
        if self.asked >= self.polls:
            return False
        if self.client_order_id is not None:
            return o.client_order_id == self.client_order_id
        return self.order_id == o.order_id


class SpotOrders:
    """The signed endpoints of one emulator (the paths in `PRIVATE`)."""

    def __init__(self, book: Book, api_keys: dict[str, str], symbols: dict[str, str]) -> None:
        self.book = book
        self.api_keys = api_keys  # key -> secret; the key is the account's name in the book
        self.symbols = symbols  # Binance id "BTCUSDT" -> unified "BTC/USDT"
        self.hidden: list[Hide] = []
        self._lock = threading.Lock()  # one signed request at a time: a read sees one state

    def hide(self, hide: Hide) -> Hide:
        with self._lock:
            self.hidden.append(hide)
        return hide

    # ---- auth ----------------------------------------------------------------------------
    def authenticate(self, raw: str, headers: dict[str, str]) -> str | Answer:
        """The account a signed request acts for, or Binance's refusal. ``raw`` is the query
        string followed by the body: what Binance signs."""
        key = headers.get("x-mbx-apikey")
        secret = self.api_keys.get(key) if key is not None else None
        if key is None or secret is None:
            return _err(-2014, "API-key format invalid.", status=401)
        head, sep, sig = raw.rpartition("&signature=")
        if not sep or "&" in sig:
            return _missing("signature")
        want = hmac.new(secret.encode(), head.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig):
            return _err(-1022, "Signature for this request is not valid.")
        if "timestamp=" not in head:
            return _missing("timestamp")
        return key

    # ---- endpoints -----------------------------------------------------------------------
    def answer(self, method: str, path: str, q: dict[str, str], account: str) -> Answer:
        with self._lock:
            return self._answer(method, path, q, account)

    def _answer(self, method: str, path: str, q: dict[str, str], account: str) -> Answer:
        self.book.advance()
        symbol = self.symbols.get(q.get("symbol", ""))
        if path == "/api/v3/account":
            return 200, self._account(account)
        if path == "/sapi/v1/capital/config/getall" and method == "GET":
            return 200, self._coins(account)
        if path.startswith("/sapi/v1/margin/") and method == "GET":
            return 200, []  # no margin trading here
        if path == "/fapi/v1/countdownCancelAll" and method == "POST":
            countdown = _int(q, "countdownTime")
            if symbol is None or countdown is None or countdown < 0:
                return _missing("symbol" if symbol is None else "countdownTime")
            self.book.cancel_after(account, countdown)  # 0 disarms, as on Binance
            return 200, {"symbol": q["symbol"], "countdownTime": str(countdown)}
        if "symbol" in q and symbol is None:
            return _err(-1121, "Invalid symbol.")
        if path == "/api/v3/order" and method == "POST":
            if symbol is None:
                return _missing("symbol")
            return self._place(account, symbol, q)
        if path == "/api/v3/order" and method in ("GET", "DELETE"):
            if symbol is None:
                return _missing("symbol")
            if "orderId" not in q and "origClientOrderId" not in q:
                return _missing("orderId")
            if method == "DELETE":
                return self._cancel(account, symbol, q)
            o = self.book.get(
                account,
                symbol,
                order_id=q.get("orderId"),
                client_order_id=q.get("origClientOrderId"),
            )
            if o is None or self._polled_hidden(o):
                return NOT_FOUND
            return 200, self.order_json(o)
        if path == "/api/v3/openOrders" and method == "GET":
            return 200, [
                self.order_json(o) for o in self._visible(self.book.open_orders(account, symbol))
            ]
        if path == "/api/v3/openOrders" and method == "DELETE":
            if symbol is None:
                return _missing("symbol")
            canceled = self.book.cancel_all(account, symbol)
            if not canceled:  # as Binance: nothing to cancel is an unknown order
                return _err(*ERRORS["order_not_found"])
            return 200, [self._cancel_json(o, None) for o in canceled]
        if path == "/api/v3/allOrders" and method == "GET":
            if symbol is None:
                return _missing("symbol")
            orders = self._visible(self.book.orders(account, symbol))
            start = _int(q, "startTime")
            from_id = _int(q, "orderId")
            orders = [
                o
                for o in orders
                if (start is None or o.created_ms >= start)
                and (from_id is None or int(o.order_id) >= from_id)
            ]
            return 200, [self.order_json(o) for o in orders[: _int(q, "limit") or 500]]
        if path == "/api/v3/myTrades" and method == "GET":
            if symbol is None:
                return _missing("symbol")
            return 200, self._my_trades(account, symbol, q)
        return 404, {"code": -404, "msg": f"not emulated: {method} {path}"}

    def _place(self, account: str, symbol: str, q: dict[str, str]) -> Answer:
        kind = TYPES.get(q.get("type", ""))
        if kind is None:
            return _err(-1116, "Invalid orderType.")
        side = q.get("side", "").lower()
        if side not in ("buy", "sell"):
            return _err(-1117, "Invalid side.")
        try:
            amounts = {
                k: Decimal(q[k])
                for k in ("quantity", "quoteOrderQty", "price", "stopPrice")
                if k in q
            }
        except InvalidOperation:
            return _err(-1100, "Illegal characters found in a parameter.")
        if kind == "limit" and "price" not in amounts:
            return _missing("price")
        if kind == "limit" and "timeInForce" not in q:
            return _missing("timeInForce")
        if kind in ("stop_market", "take_profit_market") and "stopPrice" not in amounts:
            return _missing("stopPrice")
        if "quantity" not in amounts and "quoteOrderQty" not in amounts:
            return _missing("quantity")
        cid = q.get("newClientOrderId")
        if cid is not None and not CLIENT_ID.match(cid):
            return _err(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                f"'{CLIENT_ID.pattern}'.",
            )
        stop = amounts.get("stopPrice")
        mark = self.book.mark(symbol) if stop is not None else None
        if stop is not None and mark is not None:
            # Binance refuses a trigger the market is already past (ccxt: OrderImmediatelyFillable)
            falls = (kind == "stop_market") == (side == "sell")
            if (mark <= stop) if falls else (mark >= stop):
                return _err(-2010, "Stop price would trigger immediately.")
        try:
            o = self.book.place(
                account,
                symbol,
                side,  # type: ignore[arg-type]
                kind,
                quantity=amounts.get("quantity"),
                quote_quantity=amounts.get("quoteOrderQty"),
                price=amounts.get("price") if kind == "limit" else None,
                trigger=amounts.get("stopPrice"),
                client_order_id=q.get("newClientOrderId"),
            )
        except EmuError as e:
            return self._refusal(e)
        for h in self.hidden:
            if h.client_order_id is None and h.order_id is None:
                h.order_id = o.order_id  # "the next order placed"
                break
        body = self.order_json(o)
        body.pop("isWorking")
        body["transactTime"] = o.created_ms
        if q.get("newOrderRespType", "FULL") == "FULL":
            body["fills"] = [
                {
                    "price": wire(t.price),
                    "qty": wire(t.quantity),
                    "commission": wire(t.fee),
                    "commissionAsset": t.fee_currency,
                    "tradeId": int(t.trade_id),
                }
                for t in self.book.trades(account, symbol)
                if t.order_id == o.order_id
            ]
        return 200, body

    def _cancel(self, account: str, symbol: str, q: dict[str, str]) -> Answer:
        try:
            o = self.book.cancel(
                account,
                symbol,
                order_id=q.get("orderId"),
                client_order_id=q.get("origClientOrderId"),
            )
        except EmuError as e:
            return self._refusal(e)
        return 200, self._cancel_json(o, q.get("newClientOrderId"))

    def _refusal(self, e: EmuError) -> Answer:
        if e.code == "bad_precision":
            rule = "PRICE_FILTER" if e.message.startswith("price") else "LOT_SIZE"
            return _err(-1013, f"Filter failure: {rule}")
        code, msg = ERRORS.get(e.code, (-1000, e.message))
        return _err(code, msg)

    def _my_trades(self, account: str, symbol: str, q: dict[str, str]) -> list[dict[str, Any]]:
        hidden = self._hidden_in(self.book.orders(account, symbol))
        start, end, from_id = _int(q, "startTime"), _int(q, "endTime"), _int(q, "fromId")
        order_id = q.get("orderId")
        out = [
            t
            for t in self.book.trades(account, symbol)
            if t.order_id not in hidden
            and (order_id is None or t.order_id == order_id)
            and (from_id is None or int(t.trade_id) >= from_id)
            and (from_id is not None or start is None or t.time_ms >= start)
            and (from_id is not None or end is None or t.time_ms <= end)
        ]
        limit = min(_int(q, "limit") or 500, 1000)
        # Binance: with a time window or fromId the oldest `limit`, else the newest `limit`
        out = out[:limit] if (start is not None or from_id is not None) else out[-limit:]
        return [self.trade_json(t) for t in out]

    def _account(self, account: str) -> dict[str, Any]:
        return {
            "makerCommission": 10,
            "takerCommission": 10,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.book.clock(),
            "accountType": "SPOT",
            "balances": [
                {"asset": c, "free": wire(free), "locked": wire(locked)}
                for c, (free, locked) in sorted(self.book.balances(account).items())
            ],
            "permissions": ["SPOT"],
        }

    def _coins(self, account: str) -> list[dict[str, Any]]:
        held = self.book.balances(account)
        coins = sorted(
            {c for s in self.book.markets.values() for c in (s.base, s.quote)} | set(held)
        )
        return [
            {
                "coin": c,
                "name": c,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "trading": True,
                "isLegalMoney": False,
                "free": wire(held.get(c, (Decimal(0), Decimal(0)))[0]),
                "locked": wire(held.get(c, (Decimal(0), Decimal(0)))[1]),
                "networkList": [],
            }
            for c in coins
        ]

    # ---- "not found for the first N polls" -------------------------------------------------
    def _hidden_in(self, orders: list[EmuOrder]) -> set[str]:
        """The order ids among `orders` that a `Hide` still covers; the read counts as one
        poll of each such `Hide`."""
        out: set[str] = set()
        polled: dict[int, Hide] = {}
        for o in orders:
            for h in self.hidden:
                if h.covers(o):
                    out.add(o.order_id)
                    polled[id(h)] = h
                    break
        for h in polled.values():
            h.asked += 1
        return out

    def _polled_hidden(self, o: EmuOrder) -> bool:
        """A poll by id of `o`: True (answer "does not exist") while a `Hide` still covers it."""
        return bool(self._hidden_in([o]))

    def _visible(self, orders: list[EmuOrder]) -> list[EmuOrder]:
        hidden = self._hidden_in(orders)
        return [o for o in orders if o.order_id not in hidden]

    # ---- JSON shapes ---------------------------------------------------------------------
    def order_json(self, o: EmuOrder) -> dict[str, Any]:
        return {
            "symbol": o.symbol.replace("/", ""),
            "orderId": int(o.order_id),
            "orderListId": -1,
            "clientOrderId": o.client_order_id,
            "price": wire(o.price),  # 0 unless a limit
            "origQty": wire(o.quantity),
            "executedQty": wire(o.filled),
            "cummulativeQuoteQty": wire(o.filled_quote),
            "status": STATUS[o.status],
            "timeInForce": "GTC",
            "type": WIRE_TYPE[o.kind],
            "side": o.side.upper(),
            "stopPrice": wire(o.trigger),
            "icebergQty": wire(None),
            "time": o.created_ms,
            "updateTime": o.updated_ms,
            "isWorking": o.kind in ("market", "limit"),
            "workingTime": o.created_ms,
            "origQuoteOrderQty": wire(o.quote_quantity),
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def _cancel_json(self, o: EmuOrder, cancel_id: str | None) -> dict[str, Any]:
        body = self.order_json(o)
        for k in ("isWorking", "time", "updateTime", "workingTime", "icebergQty"):
            body.pop(k)
        # As Binance: clientOrderId is the cancel request's own id; the order's is orig...
        body["origClientOrderId"] = o.client_order_id
        body["clientOrderId"] = cancel_id or secrets.token_hex(11)
        body["transactTime"] = o.updated_ms
        return body

    def trade_json(self, t: EmuTrade) -> dict[str, Any]:
        return {
            "symbol": t.symbol.replace("/", ""),
            "id": int(t.trade_id),
            "orderId": int(t.order_id),
            "orderListId": -1,
            "price": wire(t.price),
            "qty": wire(t.quantity),
            "quoteQty": wire(t.quote),
            "commission": wire(t.fee),
            "commissionAsset": t.fee_currency,
            "time": t.time_ms,
            "isBuyer": t.side == "buy",
            "isMaker": t.maker,
            "isBestMatch": True,
        }


def _int(q: dict[str, str], key: str) -> int | None:
    v = q.get(key)
    return int(v) if v is not None and v.lstrip("-").isdigit() else None
