"""Bybit v5's trading endpoints over the emulator's order core: order create, cancel,
cancel-all, the open/recent (``/v5/order/realtime``) and closed (``/v5/order/history``) order
reads, executions (``/v5/execution/list``) and the dead man's switch
(``/v5/order/disconnected-cancel-all``).

A mixin of `tests.emulators.bybit.BybitEmulator` (which owns the HTTP, the signature check and
the routing table): each endpoint takes the authenticated account (its API key) and the request's
parameters and returns the ``result`` of Bybit's envelope, or raises `V5Error`. The shapes are
`tests.emulators.bybit_v5`'s.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from tests.emulators import bybit_v5 as v5
from tests.emulators.book import Book, EmuError, EmuOrder
from tests.emulators.bybit_v5 import V5Error
from tests.emulators.candles import Market
from tests.emulators.exchange_orders import Hide


class V5Trading:
    """The trading half of the Bybit emulator (see the module docstring)."""

    book: Book
    markets: dict[str, Market]  # by Bybit symbol id, "BTCUSDT"
    dcp_windows: dict[str, int]
    _by_symbol: dict[str, Market]  # by unified symbol, "BTC/USDT"
    hidden: list[Hide]  # `not_found_for`
    _extras: dict[str, v5.OrderExtras]
    _lock: threading.Lock

    def now(self) -> int:
        raise NotImplementedError

    def _market(self, q: dict[str, Any]) -> Market:
        m = self.markets.get(str(q.get("symbol", "")))
        if m is None:
            raise V5Error(v5.BAD_PARAM, "Not supported symbols")
        return m

    @staticmethod
    def _spot_only(q: dict[str, Any]) -> None:
        if q.get("category") != "spot":
            raise V5Error(
                v5.BAD_PARAM, f"params error: category {q.get('category')!r} not emulated"
            )

    def _fee_rate(self, symbol: str) -> Decimal:
        return self.book.markets[symbol].fee_rate

    # ---- orders --------------------------------------------------------------------------------
    def _order_json(self, o: EmuOrder) -> dict[str, Any]:
        m = self._by_symbol[o.symbol]
        trades = [t for t in self.book.trades(o.account, o.symbol) if t.order_id == o.order_id]
        fee = sum((t.fee for t in trades), Decimal(0))
        extras = self._extras.get(o.order_id) or v5.OrderExtras(
            "Limit" if o.kind == "limit" else "Market", "Order", "", 0, False, "GTC"
        )
        return v5.order_json(o, m.id, extras, fee, m.quote)

    def _symbol_of(self, q: dict[str, Any]) -> str | None:
        if q.get("symbol") in (None, ""):
            return None
        m = self._market(q)
        return f"{m.base}/{m.quote}"

    def _create(self, account: str, q: dict[str, Any]) -> Any:
        symbol = self._symbol_of(q)
        if symbol is None:
            raise V5Error(170105, "Parameter 'symbol' was empty.")
        p = v5.read_create(q, self.book.mark(symbol))
        try:
            o = self.book.place(
                account, symbol, p.side, p.kind,  # type: ignore[arg-type]
                quantity=p.quantity, quote_quantity=p.quote_quantity, price=p.price,
                trigger=p.trigger, client_order_id=p.client_order_id,
            )  # fmt: skip
        except EmuError as e:
            raise V5Error.of(e) from None
        with self._lock:
            self._extras[o.order_id] = p.extras
            for h in self.hidden:
                if h.client_order_id is None and h.order_id is None:
                    h.order_id = o.order_id  # "the next order placed"
                    break
        return self._ack(o)

    def _ack(self, o: EmuOrder) -> dict[str, str]:
        """What create and cancel answer: the ids (orderLinkId "" when none was sent)."""
        extras = self._extras.get(o.order_id)
        link = o.client_order_id if extras is None or extras.has_link_id else ""
        return {"orderId": o.order_id, "orderLinkId": link}

    def _is_hidden(self, o: EmuOrder) -> bool:
        with self._lock:
            return any(h.covers(o) for h in self.hidden)

    def _polled_hidden(self, o: EmuOrder) -> bool:
        """A read naming `o`: True (it finds nothing) while a `Hide` still covers it."""
        with self._lock:
            for h in self.hidden:
                if h.covers(o):
                    h.asked += 1
                    return True
        return False

    def _find(self, account: str, q: dict[str, Any]) -> EmuOrder | None:
        """By orderId, else orderLinkId (Bybit's priority)."""
        symbol = self._symbol_of(q)
        if q.get("orderId"):
            return self.book.get(account, symbol, order_id=str(q["orderId"]))
        if q.get("orderLinkId"):
            return self.book.get(account, symbol, client_order_id=str(q["orderLinkId"]))
        return None

    def _cancel(self, account: str, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        if not q.get("orderId") and not q.get("orderLinkId"):
            raise V5Error(170105, "Parameter 'orderId' or 'orderLinkId' was empty.")
        o = self._find(account, q)
        open_ = o is not None and o.status in ("new", "partially_filled")
        if o is None or not open_ or not v5.matches_filter(o, q.get("orderFilter") or "Order"):
            raise V5Error(*v5.ERRORS["order_not_found"])
        try:
            o = self.book.cancel(account, o.symbol, order_id=o.order_id)
        except EmuError as e:
            raise V5Error.of(e) from None
        return self._ack(o)

    def _cancel_all(self, account: str, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        symbol = self._symbol_of(q)
        order_filter = q.get("orderFilter") or "Order"
        done = []
        for o in self.book.open_orders(account, symbol):
            if v5.matches_filter(o, order_filter):
                try:
                    done.append(self.book.cancel(account, o.symbol, order_id=o.order_id))
                except EmuError:
                    continue  # filled or cancelled meanwhile (the timer): not ours to report
        rows = [self._ack(o) for o in done]
        return {"list": rows, "success": "1"}

    def _realtime(self, account: str, q: dict[str, Any]) -> Any:
        """Open orders; with orderId/orderLinkId, that order whatever its state (Bybit keeps
        the recent ones here too); openOnly=1: the recent closed ones."""
        self._spot_only(q)
        if q.get("orderId") or q.get("orderLinkId"):
            o = self._find(account, q)
            found = [] if o is None or self._polled_hidden(o) else [o]
        elif str(q.get("openOnly", "0")) == "0":
            found = self.book.open_orders(account, self._symbol_of(q))[::-1]
        else:
            closed = [o for o in self.book.orders(account, self._symbol_of(q)) if not _is_open(o)]
            found = closed[::-1][:500]
        if not (q.get("orderId") or q.get("orderLinkId")):
            found = [o for o in found if not self._is_hidden(o)]
        found = [o for o in found if v5.matches_filter(o, q.get("orderFilter"))]
        return self._page(q, found, 20, 50)

    def _history(self, account: str, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        start, end = v5.window(q, self.now())
        found = [
            o
            for o in self.book.orders(account, self._symbol_of(q))[::-1]
            if not _is_open(o)
            and start <= o.created_ms <= end
            and v5.matches_filter(o, q.get("orderFilter"))
            and (not q.get("orderId") or o.order_id == q["orderId"])
            and (not q.get("orderLinkId") or o.client_order_id == q["orderLinkId"])
        ]
        if q.get("orderId") or q.get("orderLinkId"):  # a read naming the order: a poll
            found = [o for o in found if not self._polled_hidden(o)]
        else:
            found = [o for o in found if not self._is_hidden(o)]
        rows = [self._order_json(o) for o in found]
        status = q.get("orderStatus")
        if status:
            rows = [r for r in rows if r["orderStatus"] == status]
        return self._paged_rows(q, rows, 20, 50)

    def _executions(self, account: str, q: dict[str, Any]) -> Any:
        self._spot_only(q)
        if q.get("execType") not in (None, "", "Trade"):
            return {"category": "spot", "list": [], "nextPageCursor": ""}
        start, end = v5.window(q, self.now())
        orders = {o.order_id: o for o in self.book.orders(account)}
        hidden = {oid for oid, o in orders.items() if self._is_hidden(o)}
        rows = [
            v5.execution_json(
                t, self._by_symbol[t.symbol].id, orders.get(t.order_id), self._fee_rate(t.symbol)
            )
            for t in self.book.trades(account, self._symbol_of(q))[::-1]
            if start <= t.time_ms <= end
            and t.order_id not in hidden
            and (not q.get("orderId") or t.order_id == q["orderId"])
            and (not q.get("orderLinkId") or t.client_order_id == q["orderLinkId"])
        ]
        return self._paged_rows(q, rows, 50, 100)

    def _page(self, q: dict[str, Any], orders: list[EmuOrder], default: int, most: int) -> Any:
        return self._paged_rows(q, [self._order_json(o) for o in orders], default, most)

    @staticmethod
    def _paged_rows(q: dict[str, Any], rows: list[Any], default: int, most: int) -> Any:
        """One page; the cursor is the offset of the next (Bybit's is opaque)."""
        limit = v5.page_limit(q, default, most)
        at = int(q.get("cursor") or 0)
        more = at + limit < len(rows)
        return {
            "category": "spot",
            "list": rows[at : at + limit],
            "nextPageCursor": str(at + limit) if more else "",
        }

    def _dcp(self, account: str, q: dict[str, Any]) -> Any:
        """Bybit's disconnected-cancel-all: arm (or re-arm) the countdown of the account's
        spot orders for timeWindow seconds; 0 disarms. Bybit accepts 3-300 s; the emulator
        also takes 1-2 s so tests stay short."""
        if q.get("product", "OPTIONS") != "SPOT":
            raise V5Error(v5.BAD_PARAM, f"params error: product {q.get('product')!r} not emulated")
        try:
            seconds = int(q.get("timeWindow", ""))
        except (TypeError, ValueError):
            raise V5Error(170105, "Parameter 'timeWindow' was empty.") from None
        if not 0 <= seconds <= 300:
            raise V5Error(v5.BAD_PARAM, "params error: timeWindow must be within [3, 300]")
        self.book.cancel_after(account, seconds * 1000)
        with self._lock:
            self.dcp_windows[account] = seconds
        return {}


def _is_open(o: EmuOrder) -> bool:
    return o.status in ("new", "partially_filled")
