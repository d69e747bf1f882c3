"""The order core's vocabulary: a market's rules (`MarketSpec`), an order (`EmuOrder`) and a trade
(`EmuTrade`) as the emulated exchange keeps them, `EmuError` (a refusal with a dialect-free code
each HTTP front words its own way), and `order_quantity`: an order's size checked against its
market's precision. `tests.emulators.book` re-exports the types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Literal

Side = Literal["buy", "sell"]
Kind = Literal["market", "limit", "stop_market", "take_profit_market"]
Status = Literal["new", "partially_filled", "filled", "canceled", "expired", "rejected"]
Bar = tuple[float, float, float, float, float]  # open, high, low, close, volume
PriceAt = Callable[[str, int], Bar | None]

ZERO = Decimal(0)
FEE_QUANTUM = Decimal("0.00000001")  # fees are booked to 8 decimals, as Binance reports them
OPEN_STATUSES: tuple[Status, ...] = ("new", "partially_filled")


@dataclass(frozen=True)
class MarketSpec:
    base: str
    quote: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal
    min_notional: Decimal
    fee_rate: Decimal  # taker, also maker


@dataclass
class EmuOrder:
    order_id: str
    client_order_id: str
    account: str
    symbol: str  # unified, "BTC/USDT"
    side: Side
    kind: Kind
    quantity: Decimal | None  # base; a cost-sized buy gets the quantity it priced to
    quote_quantity: Decimal | None  # a cost-sized market buy's quote to spend
    price: Decimal | None  # limit
    trigger: Decimal | None
    status: Status
    filled: Decimal
    filled_quote: Decimal
    created_ms: int
    updated_ms: int
    canceled_by: str | None = None  # "user", "countdown", "expired"
    locked: Decimal = ZERO  # what the order holds of its locked currency now
    next_bar_ms: int = 0  # the open of the next bar `advance` examines for this order
    placed_mark: Decimal | None = None  # the price when placed, if inside a bar (not at its open)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return (self.quantity or ZERO) - self.filled


@dataclass
class EmuTrade:
    trade_id: str
    order_id: str
    client_order_id: str
    account: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    quote: Decimal
    fee: Decimal
    fee_currency: str
    time_ms: int
    maker: bool


class EmuError(Exception):
    """An order the book refuses; ``code`` is dialect-free, each front maps it to its own."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def dec_of(x: float) -> Decimal:
    return Decimal(repr(x))  # the decimal the float's shortest repr spells (prices are 2dp)


def floor_to_step(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(rounding=ROUND_DOWN) * step


def on_step(x: Decimal, step: Decimal) -> bool:
    return (x / step) == (x / step).to_integral_value()


def order_quantity(
    spec: MarketSpec,
    kind: Kind,
    side: Side,
    quantity: Decimal | None,
    quote_quantity: Decimal | None,
    price: Decimal | None,
    trigger: Decimal | None,
    mark: Decimal | None,
) -> Decimal:
    """The order's base quantity, after the precision checks."""
    if kind == "limit" and price is None:
        raise EmuError("bad_precision", "a limit order needs a price")
    if kind in ("stop_market", "take_profit_market") and trigger is None:
        raise EmuError("bad_precision", "a trigger order needs a trigger price")
    for p in (price, trigger):
        if p is not None and (p <= 0 or not on_step(p, spec.price_step)):
            raise EmuError("bad_precision", f"price {p} is not a multiple of {spec.price_step}")
    if quote_quantity is not None:
        if kind != "market" or side != "buy" or quantity is not None:
            raise EmuError("bad_precision", "only a market buy is sized by quote quantity")
        assert mark is not None
        return floor_to_step(quote_quantity / mark, spec.amount_step)
    if quantity is None:
        raise EmuError("bad_precision", "an order needs a quantity")
    if not on_step(quantity, spec.amount_step):
        raise EmuError(
            "bad_precision", f"quantity {quantity} is not a multiple of {spec.amount_step}"
        )
    return quantity
