"""The paper venue's books in the state DB: the ``paper_*`` tables, an order as the venue keeps
it (`PaperOrder`), an account's balances inside one transaction (`Wallet`), and the exact decimal
arithmetic every balance moves by (any rounding raises, so balances never drift from the fills).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rara.domain.events import OrderState, OrderType, Side
from rara.domain.money import EXACT, ZERO
from rara.domain.orders import VenueOrder, base_and_quote
from rara.state import append_only

SCHEMA = """
CREATE TABLE IF NOT EXISTS paper_accounts (
    account TEXT PRIMARY KEY,
    exchange TEXT NOT NULL,
    orders INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS paper_balances (
    account TEXT NOT NULL,
    currency TEXT NOT NULL,
    free TEXT NOT NULL,
    used TEXT NOT NULL,
    PRIMARY KEY (account, currency)
);
CREATE TABLE IF NOT EXISTS paper_clocks (
    account TEXT NOT NULL,
    symbol TEXT NOT NULL,
    last_bar_ms INTEGER NOT NULL,
    last_close TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
CREATE TABLE IF NOT EXISTS paper_orders (
    account TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    venue_order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    quantity TEXT,
    cost TEXT,
    limit_price TEXT,
    trigger_price TEXT,
    reduce_only INTEGER NOT NULL,
    state TEXT NOT NULL,
    filled_quantity TEXT NOT NULL,
    filled_notional TEXT NOT NULL,
    remaining TEXT NOT NULL,
    reserved TEXT NOT NULL,
    triggered INTEGER NOT NULL,
    fills INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (account, client_order_id)
);
CREATE INDEX IF NOT EXISTS paper_orders_by_state ON paper_orders (account, state, seq);
CREATE TABLE IF NOT EXISTS paper_fills (
    seq INTEGER PRIMARY KEY,
    account TEXT NOT NULL,
    fill_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    filled_ms INTEGER NOT NULL,
    fill TEXT NOT NULL,
    UNIQUE (account, fill_id)
);
CREATE INDEX IF NOT EXISTS paper_fills_by_time ON paper_fills (account, filled_ms);
""" + append_only("paper_fills", "append-only: a fill, once made, is history")

# Exact decimal arithmetic: any rounding raises, so balances never drift from the fills.
_EXACT = EXACT
ONE = Decimal(1)
OPEN: tuple[OrderState, ...] = ("acknowledged", "partially_filled")


def add(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.add(a, b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.subtract(a, b)


def mul(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.multiply(a, b)


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@dataclass
class PaperOrder:
    """One order as the venue keeps it (mutable inside one transaction)."""

    client_order_id: str
    seq: int
    venue_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal | None
    cost: Decimal | None
    limit_price: Decimal | None
    trigger_price: Decimal | None
    reduce_only: bool
    state: OrderState
    filled_quantity: Decimal
    filled_notional: Decimal
    remaining: Decimal  # base still to fill, or quote still to spend (an order sized by cost)
    reserved: Decimal  # held in Balance.used for this order (quote for buys, base for sells)
    triggered: bool  # a trigger order that fired and still has something to fill
    fills: int
    updated_ms: int
    detail: str

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def is_trigger(self) -> bool:
        return self.order_type in ("stop_market", "take_profit_market")

    def view(self) -> VenueOrder:
        average = None
        if self.filled_quantity > 0:
            average = self.filled_notional / self.filled_quantity  # rounded to 28 digits
        return VenueOrder(
            client_order_id=self.client_order_id,
            venue_order_id=self.venue_order_id,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            state=self.state,
            quantity=self.quantity,
            filled_quantity=self.filled_quantity,
            average_price=average,
            limit_price=self.limit_price,
            trigger_price=self.trigger_price,
            updated_ms=self.updated_ms,
            detail=self.detail,
        )


ORDER_COLUMNS = (
    "client_order_id, seq, venue_order_id, symbol, side, order_type, quantity, cost, limit_price, "
    "trigger_price, reduce_only, state, filled_quantity, filled_notional, remaining, reserved, "
    "triggered, fills, updated_ms, detail"
)


def order_from(r: Sequence[object]) -> PaperOrder:
    return PaperOrder(
        client_order_id=str(r[0]),
        seq=int(str(r[1])),
        venue_order_id=str(r[2]),
        symbol=str(r[3]),
        side=str(r[4]),  # type: ignore[arg-type]
        order_type=str(r[5]),  # type: ignore[arg-type]
        quantity=dec(r[6]),  # type: ignore[arg-type]
        cost=dec(r[7]),  # type: ignore[arg-type]
        limit_price=dec(r[8]),  # type: ignore[arg-type]
        trigger_price=dec(r[9]),  # type: ignore[arg-type]
        reduce_only=bool(r[10]),
        state=str(r[11]),  # type: ignore[arg-type]
        filled_quantity=Decimal(str(r[12])),
        filled_notional=Decimal(str(r[13])),
        remaining=Decimal(str(r[14])),
        reserved=Decimal(str(r[15])),
        triggered=bool(r[16]),
        fills=int(str(r[17])),
        updated_ms=int(str(r[18])),
        detail=str(r[19]),
    )


def order_row(account: str, o: PaperOrder) -> tuple[object, ...]:
    return (
        account,
        o.client_order_id,
        o.seq,
        o.venue_order_id,
        o.symbol,
        o.side,
        o.order_type,
        text(o.quantity),
        text(o.cost),
        text(o.limit_price),
        text(o.trigger_price),
        int(o.reduce_only),
        o.state,
        text(o.filled_quantity),
        text(o.filled_notional),
        text(o.remaining),
        text(o.reserved),
        int(o.triggered),
        o.fills,
        o.updated_ms,
        o.detail,
    )


class Wallet:
    """An account's balances inside one transaction: currency -> [free, used]."""

    def __init__(self, rows: Sequence[Sequence[str]]) -> None:
        self.amounts: dict[str, list[Decimal]] = {
            str(c): [Decimal(f), Decimal(u)] for c, f, u in rows
        }

    def free(self, currency: str) -> Decimal:
        return self.amounts.get(currency, [ZERO, ZERO])[0]

    def total(self, currency: str) -> Decimal:
        free, used = self.amounts.get(currency, [ZERO, ZERO])
        return add(free, used)

    def move(self, currency: str, free: Decimal = ZERO, used: Decimal = ZERO) -> None:
        """Add `free` and `used` (negate with ``copy_negate()``: unary minus rounds to 28
        digits)."""
        amounts = self.amounts.setdefault(currency, [ZERO, ZERO])
        amounts[0] = add(amounts[0], free)
        amounts[1] = add(amounts[1], used)


def load_wallet(conn: sqlite3.Connection, account: str) -> Wallet:
    return Wallet(
        conn.execute(
            "SELECT currency, free, used FROM paper_balances WHERE account = ?", (account,)
        ).fetchall()
    )


def load_order(conn: sqlite3.Connection, account: str, client_order_id: str) -> PaperOrder | None:
    row = conn.execute(
        f"SELECT {ORDER_COLUMNS} FROM paper_orders WHERE account = ? AND client_order_id = ?",
        (account, client_order_id),
    ).fetchone()
    return None if row is None else order_from(row)


def load_orders(
    conn: sqlite3.Connection, account: str, symbol: str | None, *, open_only: bool
) -> list[PaperOrder]:
    """The account's orders (of `symbol`, if given), oldest first."""
    sql = f"SELECT {ORDER_COLUMNS} FROM paper_orders WHERE account = ?"
    args: list[object] = [account]
    if open_only:
        sql += " AND state IN ('acknowledged', 'partially_filled')"
    if symbol is not None:
        sql += " AND symbol = ?"
        args.append(symbol)
    return [order_from(r) for r in conn.execute(sql + " ORDER BY seq", args).fetchall()]


def save(
    conn: sqlite3.Connection, account: str, orders: Sequence[PaperOrder], wallet: Wallet
) -> None:
    """Write `orders` and every balance of `wallet` (inside the caller's transaction)."""
    conn.executemany(
        f"INSERT OR REPLACE INTO paper_orders (account, {ORDER_COLUMNS}) "
        f"VALUES ({', '.join('?' * 21)})",
        [order_row(account, o) for o in orders],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO paper_balances VALUES (?, ?, ?, ?)",
        [
            (account, c, text(free), text(used))
            for c, (free, used) in sorted(wallet.amounts.items())
        ],
    )


def close_order(order: PaperOrder, wallet: Wallet, state: OrderState, detail: str) -> None:
    """Move an open order to a final state and release what it still reserves."""
    if order.reserved:
        base, quote = base_and_quote(order.symbol)
        currency = quote if order.side == "buy" else base
        wallet.move(currency, free=order.reserved, used=order.reserved.copy_negate())
        order.reserved = ZERO
    order.state = state
    order.triggered = False
    order.detail = detail


def stored_balances(conn: sqlite3.Connection) -> dict[str, dict[str, Decimal]]:
    """Every paper account's balances (free + reserved, per currency), as the venue keeps them:
    what `rara ledger verify` holds the books against. Empty where no paper venue ever ran."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'paper_balances'"
    ).fetchone()
    out: dict[str, dict[str, Decimal]] = {}
    if exists is None:
        return out
    for account, currency, free, used in conn.execute(
        "SELECT account, currency, free, used FROM paper_balances ORDER BY account, currency"
    ):
        total = add(Decimal(free), Decimal(used))
        if total:
            out.setdefault(account, {})[currency] = total
    return out
