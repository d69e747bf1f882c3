"""The fills of one bar for one symbol of a paper account (`BarRun`), inside the transaction
`rara.trading.venues.paper.PaperVenue.on_bar` holds: market orders at the open, limit orders
the bar trades through, then stops before take-profits, with one-cancels-other among a
position's reduce-only trigger orders. Prices and sizes come from `fill_model`; balances move by
exact decimals (`paper_book`).
"""

from __future__ import annotations

import sqlite3

from rara.domain.orders import VenueFill, base_and_quote
from rara.trading.feed import ClosedBar
from rara.trading.venues.fill_model import FillModel, exact, limit_raw, trigger_raw
from rara.trading.venues.paper_book import (
    PaperOrder,
    add,
    close_order,
    load_orders,
    load_wallet,
    mul,
    save,
    sub,
)


class BarRun:
    """The fills of one bar (or of the feed's end) for one symbol, inside one transaction."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        account: str,
        model: FillModel,
        symbol: str,
        bar: ClosedBar,
    ) -> None:
        self.conn = conn
        self.account = account
        self.model = model
        self.symbol = symbol
        self.bar = bar
        self.base, self.quote = base_and_quote(symbol)
        self.wallet = load_wallet(conn, account)
        self.orders = load_orders(conn, account, symbol, open_only=True)
        self.fills: list[VenueFill] = []
        self.volume_used = 0.0
        self.touched = False  # an order or the wallet changed: only `_fill` changes them

    def markets(self, raw: float, source: str) -> None:
        """Market orders, and triggered orders with something left, at `raw` in order."""
        for o in self.orders:
            if o.is_open and (o.order_type == "market" or o.triggered):
                self._fill(o, raw, source)

    def limits(self) -> None:
        for o in self.orders:
            if o.is_open and o.order_type == "limit" and o.limit_price is not None:
                raw = limit_raw(o.side, float(o.limit_price), self.bar)
                if raw is not None:
                    self._fill(o, raw, "limit", taker=False)

    def triggers(self) -> None:
        # Every stop before any take-profit: when both are inside one bar the stop wins.
        for kind in ("stop_market", "take_profit_market"):
            for o in self.orders:
                if o.is_open and o.order_type == kind and not o.triggered:
                    assert o.trigger_price is not None
                    raw = trigger_raw(kind, o.side, float(o.trigger_price), self.bar)
                    if raw is not None:
                        o.triggered = True
                        self._fill(o, raw, "open" if raw == self.bar.open else "trigger")

    def finish(self) -> list[VenueFill]:
        if self.touched:  # a bar that filled nothing changes nothing but the clock
            save(self.conn, self.account, self.orders, self.wallet)
        self.conn.executemany(
            "INSERT INTO paper_fills (account, fill_id, symbol, filled_ms, fill) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (self.account, f.fill_id, f.symbol, f.filled_ms, f.model_dump_json())
                for f in self.fills
            ],
        )
        return self.fills

    def _fill(self, o: PaperOrder, raw: float, source: str, *, taker: bool = True) -> None:
        bar, wallet, model = self.bar, self.wallet, self.model
        self.touched = True
        o.updated_ms = bar.open_ms
        extra: dict[str, str] = {}
        want = o.remaining
        if o.side == "sell":
            want = o.remaining
            available = add(wallet.free(self.base), o.reserved)
            if want > available:  # the order shrinks to what is held
                want = o.remaining = available
                extra["clamped_to_held"] = format(available, "f")
            if want <= 0:
                close_order(o, wallet, "canceled", "canceled: no position left to sell")
                return
            q = model.quote(
                "sell",
                bar,
                raw,
                source,
                quantity=float(want),
                taker=taker,
                volume_used=self.volume_used,
            )
        elif o.cost is not None:
            q = model.quote(
                "buy",
                bar,
                raw,
                source,
                cost=float(o.remaining),
                taker=taker,
                volume_used=self.volume_used,
            )
        else:
            q = model.quote(
                "buy",
                bar,
                raw,
                source,
                quantity=float(want),
                taker=taker,
                volume_used=self.volume_used,
            )
        if not q.quantity > 0:  # the volume cap left nothing in this bar
            return
        capped = "capped" in q.detail
        # A whole fill by quantity takes the exact quantity asked; a capped or cost-sized one
        # the backtest's float size.
        qty = want if (o.cost is None and not capped) else exact(q.quantity)
        if o.cost is None:
            qty = min(qty, want)
        price, fee = exact(q.price), exact(q.fee)
        notional = mul(qty, price)
        if o.side == "buy":
            debit = add(notional, fee)
            take = min(o.reserved, debit)
            rest = sub(debit, take)
            if o.cost is None and rest > wallet.free(self.quote):
                close_order(
                    o, wallet, "canceled", f"canceled: insufficient funds at the fill ({debit})"
                )
                return
            wallet.move(self.quote, free=rest.copy_negate(), used=take.copy_negate())
            wallet.move(self.base, free=qty)
            o.reserved = sub(o.reserved, take)
            o.remaining = sub(o.remaining, debit if o.cost is not None else qty)
        else:
            take = min(o.reserved, qty)
            wallet.move(self.base, free=sub(take, qty), used=take.copy_negate())
            wallet.move(self.quote, free=sub(notional, fee))
            o.reserved = sub(o.reserved, take)
            o.remaining = sub(o.remaining, qty)
        self.volume_used += q.quantity
        o.fills += 1
        o.filled_quantity = add(o.filled_quantity, qty)
        o.filled_notional = add(o.filled_notional, notional)
        done = not capped or o.remaining <= 0
        if done:
            close_order(o, wallet, "filled", "")
        else:
            o.state = "partially_filled"
            o.detail = f"{o.remaining} left after the volume cap"
        detail = {**q.detail, **extra}
        if capped and not done:
            detail["remaining"] = format(o.remaining, "f")
        self.fills.append(
            VenueFill(
                fill_id=f"{o.client_order_id}-{o.fills}",
                client_order_id=o.client_order_id,
                venue_order_id=o.venue_order_id,
                symbol=o.symbol,
                side=o.side,
                quantity=qty,
                price=price,
                fee=fee,
                fee_currency=self.quote,
                filled_ms=bar.open_ms,
                detail=detail,
            )
        )
        if o.side == "sell":
            self._one_cancels_other(o)

    def _one_cancels_other(self, filled: PaperOrder) -> None:
        """After a sell: a reduce-only trigger order that filled cancels its siblings, and with
        the position gone no reduce-only order is left open."""
        flat = self.wallet.total(self.base) <= 0
        for o in self.orders:
            if o is filled or not o.is_open or not o.reduce_only:
                continue
            if flat:
                why = "canceled: the position is closed"
            elif filled.reduce_only and filled.is_trigger and o.is_trigger:
                why = f"canceled: one-cancels-other with {filled.client_order_id}"
            else:
                continue
            o.updated_ms = self.bar.open_ms
            close_order(o, self.wallet, "canceled", why)
