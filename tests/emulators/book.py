"""The emulated exchange's order book: accounts, balances, orders and trades, matched against the
emulator's own candles. Dialect-free: the Binance spot front (`tests.emulators.exchange`) and the
Bybit front translate HTTP into calls on one `Book`.

Matching follows the paper venue's fill model (`rara.trading.venues.fill_model`) so a strategy
traded on the emulator fills like paper: a market order fills at once at the price of the bar
forming at `clock()` (at the bar's open instant, its open); stops and take-profits rest until a
closed bar reaches the trigger (a gap fills at the open); limits fill when a closed bar trades
through them, at the limit or the better open. Fees are ``fee_rate`` x quote, in the quote
currency. Everything booked is `Decimal`; one re-entrant lock guards it all (HTTP handler
threads and the countdown timer thread both call in).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal

from tests.emulators.book_types import (
    FEE_QUANTUM,
    ZERO,
    Bar,
    EmuError,
    EmuOrder,
    EmuTrade,
    Kind,
    MarketSpec,
    PriceAt,
    Side,
    Status,
    dec_of,
    floor_to_step,
    order_quantity,
)

__all__ = [
    "Bar",
    "Book",
    "EmuError",
    "EmuOrder",
    "EmuTrade",
    "Kind",
    "MarketSpec",
    "PriceAt",
    "Side",
    "Status",
]


class Book:
    def __init__(
        self,
        markets: dict[str, MarketSpec],
        price_at: PriceAt,
        clock: Callable[[], int],
        interval_ms: int = 3_600_000,
    ) -> None:
        self.markets = markets
        self.price_at = price_at
        self.clock = clock
        self.interval_ms = interval_ms
        self.partial_fill: float | None = None
        self.countdown_fired: list[tuple[str, int, list[str]]] = []
        self._lock = threading.RLock()
        self._balances: dict[str, dict[str, list[Decimal]]] = {}  # account -> cur -> [free, locked]
        self._orders: list[EmuOrder] = []
        self._trades: list[EmuTrade] = []
        self._ids = 0
        self._trade_ids = 0
        self._timers: dict[str, threading.Timer] = {}

    # ---- accounts ------------------------------------------------------------------------
    def fund(self, account: str, currency: str, amount: Decimal) -> None:
        with self._lock:
            self._wallet(account, currency)[0] += amount

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        with self._lock:
            self._advance()
            return {c: (v[0], v[1]) for c, v in self._balances.get(account, {}).items()}

    def _wallet(self, account: str, currency: str) -> list[Decimal]:
        return self._balances.setdefault(account, {}).setdefault(currency, [ZERO, ZERO])

    # ---- orders --------------------------------------------------------------------------
    def place(
        self,
        account: str,
        symbol: str,
        side: Side,
        kind: Kind,
        *,
        quantity: Decimal | None = None,
        quote_quantity: Decimal | None = None,
        price: Decimal | None = None,
        trigger: Decimal | None = None,
        client_order_id: str | None = None,
    ) -> EmuOrder:
        with self._lock:
            self._advance()
            spec = self.markets.get(symbol)
            if spec is None:
                raise EmuError("unknown_symbol", f"no market {symbol!r}")
            if kind not in ("market", "limit", "stop_market", "take_profit_market"):
                raise EmuError("unknown_order_type", f"no order type {kind!r}")
            if client_order_id is not None and any(
                o.client_order_id == client_order_id for o in self._open(account)
            ):
                raise EmuError("duplicate_client_id", f"an open order has id {client_order_id}")
            now = self.clock()
            mark = self._mark(symbol, now) if kind == "market" else self._mark_or_none(symbol, now)
            quantity = order_quantity(
                spec, kind, side, quantity, quote_quantity, price, trigger, mark
            )
            # the price the minimum notional is judged at, and the quote a buy locks per unit
            ref = mark if kind == "market" else (price if kind == "limit" else trigger)
            bar0 = now - now % self.interval_ms
            assert ref is not None
            notional = quantity * ref
            if quantity < spec.min_amount or quantity <= 0:
                raise EmuError("below_min_amount", f"{quantity} < {spec.min_amount}")
            if notional < spec.min_notional:
                raise EmuError("below_min_notional", f"{notional} < {spec.min_notional}")
            if side == "buy":
                cur = spec.quote
                need = (
                    quote_quantity * (1 + spec.fee_rate)
                    if quote_quantity is not None
                    else notional * (1 + spec.fee_rate)
                )
            else:
                cur, need = spec.base, quantity
            wallet = self._wallet(account, cur)
            if wallet[0] < need:
                raise EmuError("insufficient_balance", f"{cur} free {wallet[0]} < {need}")
            self._ids += 1
            oid = str(self._ids)
            order = EmuOrder(
                order_id=oid,
                client_order_id=client_order_id or f"emu-{oid}",
                account=account,
                symbol=symbol,
                side=side,
                kind=kind,
                quantity=quantity,
                quote_quantity=quote_quantity,
                price=price,
                trigger=trigger,
                status="new",
                filled=ZERO,
                filled_quote=ZERO,
                created_ms=now,
                updated_ms=now,
                locked=need,
                next_bar_ms=bar0,  # the bar forming at placement is the first one examined
                # ... from the price at placement on: what traded before it is not the order's
                placed_mark=mark if now > bar0 else None,
            )
            wallet[0] -= need
            wallet[1] += need
            self._orders.append(order)
            if kind == "market":
                assert mark is not None
                share = self.partial_fill
                now_qty = (
                    quantity
                    if share is None
                    else floor_to_step(quantity * Decimal(repr(share)), spec.amount_step)
                )
                if now_qty > 0:
                    self._fill(order, mark, now_qty, now, maker=False)
                order.next_bar_ms = bar0 + self.interval_ms  # the rest at the next bar's open
            return order

    def get(
        self,
        account: str,
        symbol: str | None = None,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> EmuOrder | None:
        """By order id, or by client id: the newest order with that id."""
        with self._lock:
            self._advance()
            for o in reversed(self._orders):
                if o.account != account or (symbol is not None and o.symbol != symbol):
                    continue
                if order_id is not None and o.order_id == order_id:
                    return o
                by_client = order_id is None and client_order_id is not None
                if by_client and o.client_order_id == client_order_id:
                    return o
            return None

    def cancel(
        self,
        account: str,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> EmuOrder:
        with self._lock:
            o = self.get(account, symbol, order_id=order_id, client_order_id=client_order_id)
            if o is None or not o.is_open:
                raise EmuError("order_not_found", "no open order with that id")
            self._close(o, "canceled", "user")
            return o

    def cancel_all(
        self, account: str, symbol: str | None = None, by: str = "user"
    ) -> list[EmuOrder]:
        with self._lock:
            self._advance()
            out = self._open(account, symbol)
            for o in out:
                self._close(o, "canceled", by)
            return out

    def open_orders(self, account: str, symbol: str | None = None) -> list[EmuOrder]:
        with self._lock:
            self._advance()
            return self._open(account, symbol)

    def orders(self, account: str, symbol: str | None = None) -> list[EmuOrder]:
        """Every order of the account, oldest first."""
        with self._lock:
            self._advance()
            return [
                o
                for o in self._orders
                if o.account == account and (symbol is None or o.symbol == symbol)
            ]

    def count_by_client_id(self, account: str) -> dict[str, int]:
        """How many orders the account has per client order id (open or not)."""
        with self._lock:
            out: dict[str, int] = {}
            for o in self._orders:
                if o.account == account:
                    out[o.client_order_id] = out.get(o.client_order_id, 0) + 1
            return out

    def trades(
        self, account: str, symbol: str | None = None, since_ms: int | None = None
    ) -> list[EmuTrade]:
        """The account's trades, oldest first."""
        with self._lock:
            self._advance()
            return [
                t
                for t in self._trades
                if t.account == account
                and (symbol is None or t.symbol == symbol)
                and (since_ms is None or t.time_ms >= since_ms)
            ]

    def _open(self, account: str, symbol: str | None = None) -> list[EmuOrder]:
        return [
            o
            for o in self._orders
            if o.account == account and o.is_open and (symbol is None or o.symbol == symbol)
        ]

    # ---- matching ------------------------------------------------------------------------
    def advance(self) -> None:
        """Match resting orders against every bar that closed since the last call (and a partly
        filled market order's rest at the open of the bar after it was placed)."""
        with self._lock:
            self._advance()

    def _advance(self) -> None:
        now = self.clock()
        for o in self._orders:
            if not o.is_open:
                continue
            if o.kind == "market":  # partly filled: the rest at the next bar's open
                while o.is_open and now >= o.next_bar_ms:
                    bar = self.price_at(o.symbol, o.next_bar_ms)
                    if bar is not None:
                        self._fill(o, dec_of(bar[0]), o.remaining, o.next_bar_ms, maker=False)
                    else:  # no bar there (a gap, a halt): the next one that opens
                        o.next_bar_ms += self.interval_ms
                continue
            while o.is_open and o.next_bar_ms + self.interval_ms <= now:
                bar_ms = o.next_bar_ms
                o.next_bar_ms += self.interval_ms
                bar = self.price_at(o.symbol, bar_ms)
                if bar is not None:
                    self._match(o, bar, bar_ms)

    def _match(self, o: EmuOrder, bar: Bar, bar_ms: int) -> None:
        at_ms = bar_ms + self.interval_ms - 1  # a fill on a closed bar is stamped at its close
        open_, high, low = bar[0], bar[1], bar[2]
        if o.placed_mark is not None and bar_ms <= o.created_ms:
            open_ = float(o.placed_mark)  # placed inside this bar: it "opens" at placement
        raw: float | None
        if o.kind == "limit":
            assert o.price is not None
            limit = float(o.price)
            if o.side == "buy":
                raw = min(open_, limit) if low <= limit else None
            else:
                raw = max(open_, limit) if high >= limit else None
            if raw is not None:
                price = o.price if raw == limit else dec_of(raw)
                self._fill(o, price, o.remaining, at_ms, maker=True)
            return
        assert o.trigger is not None
        trigger = float(o.trigger)
        falls = (o.kind == "stop_market") == (o.side == "sell")
        if falls:
            raw = open_ if open_ <= trigger else (trigger if low <= trigger else None)
        else:
            raw = open_ if open_ >= trigger else (trigger if high >= trigger else None)
        if raw is not None:
            price = o.trigger if raw == trigger else dec_of(raw)
            self._fill(o, price, o.remaining, at_ms, maker=False)

    def _fill(self, o: EmuOrder, price: Decimal, qty: Decimal, at_ms: int, *, maker: bool) -> None:
        spec = self.markets[o.symbol]
        quote = qty * price
        fee = (quote * spec.fee_rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)
        base_w, quote_w = self._wallet(o.account, spec.base), self._wallet(o.account, spec.quote)
        last = qty == o.remaining
        if o.side == "buy":
            spend = quote + fee
            if last:  # the order's whole lock comes back; what it did not need is freed
                quote_w[1] -= o.locked
                quote_w[0] += o.locked - spend
                o.locked = ZERO
            else:
                quote_w[1] -= spend
                o.locked -= spend
            if quote_w[0] < 0:  # a gap past the locked price: the venue would not fill it
                quote_w[0] += spend
                self._close(o, "expired", "expired")
                return
            base_w[0] += qty
        else:
            base_w[1] -= qty
            o.locked -= qty
            quote_w[0] += quote - fee
        self._trade_ids += 1
        self._trades.append(
            EmuTrade(
                trade_id=str(self._trade_ids),
                order_id=o.order_id,
                client_order_id=o.client_order_id,
                account=o.account,
                symbol=o.symbol,
                side=o.side,
                price=price,
                quantity=qty,
                quote=quote,
                fee=fee,
                fee_currency=spec.quote,
                time_ms=at_ms,
                maker=maker,
            )
        )
        o.filled += qty
        o.filled_quote += quote
        o.updated_ms = at_ms
        o.status = "filled" if o.remaining == 0 else "partially_filled"

    def _close(self, o: EmuOrder, status: Status, by: str) -> None:
        spec = self.markets[o.symbol]
        w = self._wallet(o.account, spec.quote if o.side == "buy" else spec.base)
        w[1] -= o.locked
        w[0] += o.locked
        o.locked = ZERO
        o.status = status
        o.canceled_by = by
        o.updated_ms = max(o.updated_ms, self.clock())

    def mark(self, symbol: str) -> Decimal | None:
        """The price now (the forming bar's close as served), or None if nothing trades."""
        with self._lock:
            return self._mark_or_none(symbol, self.clock())

    def _mark_or_none(self, symbol: str, now: int) -> Decimal | None:
        try:
            return self._mark(symbol, now)
        except EmuError:
            return None

    def _mark(self, symbol: str, now: int) -> Decimal:
        bar = self.price_at(symbol, now - now % self.interval_ms)
        if bar is None:
            raise EmuError("market_closed", f"{symbol} has no trading at {now}")
        return dec_of(bar[3])

    # ---- the countdown (dead man's switch) -----------------------------------------------
    def cancel_after(self, account: str, timeout_ms: int) -> int | None:
        """Arm or re-arm a real timer: when it fires every open order of the account is canceled
        (``canceled_by="countdown"``) and the firing recorded in `countdown_fired`. 0 disarms.
        Returns the trigger time (wall ms) or None."""
        with self._lock:
            old = self._timers.pop(account, None)
            if old is not None:
                old.cancel()
            if timeout_ms <= 0:
                return None
            timer = threading.Timer(timeout_ms / 1000, lambda: self._countdown(account, timer))
            timer.daemon = True
            self._timers[account] = timer
            timer.start()
            return int(time.time() * 1000) + timeout_ms

    def _countdown(self, account: str, timer: threading.Timer) -> None:
        with self._lock:
            if self._timers.get(account) is not timer:
                return  # re-armed or disarmed while this one was about to fire
            del self._timers[account]
            canceled = self.cancel_all(account, by="countdown")
            self.countdown_fired.append(
                (account, int(time.time() * 1000), [o.order_id for o in canceled])
            )

    def close(self) -> None:
        """Disarm every countdown (the emulator calls this when it stops)."""
        with self._lock:
            for t in self._timers.values():
                t.cancel()
            self._timers.clear()
