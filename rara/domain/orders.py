"""Orders, fills and balances: the vocabulary of the one order path that paper and live share.

A strategy's signal on a closed bar becomes an `OrderIntent` (what the engine wants); the risk gate
judges the intent; an allowed intent is journaled (a ``trading_order_submitted`` event) with its
deterministic `client_order_id` and then sent to a venue as an `OrderRequest`. The venue answers
with `VenueOrder` snapshots and `VenueFill` records, and the account's `Balance` per currency.

Money is exact: every quantity, price and fee is a `Decimal` (`ExactDecimal` in a model), never a
float. Quantities are in base currency units, prices in quote per base, costs in quote.

Order states and the only moves between them (`ORDER_TRANSITIONS`; `advance()` refuses others)::

    intent ─► submitted ─► acknowledged ─► partially_filled ─► filled
       │          │              │                 │
       └► rejected ├► rejected    ├► canceled       └► canceled
                   ├► unknown     ├► filled
                   ├► filled      └► unknown
                   └► ...

``unknown`` is what a send whose answer never came leaves behind (a timeout, a dropped
connection): the order is looked up by its client id, never resent under a new id, and resolves
to whichever state the venue reports.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rara.domain.events import ExactDecimal, IntentReason, OrderState, OrderType, Side
from rara.domain.money import exact

TERMINAL_STATES: frozenset[OrderState] = frozenset({"filled", "canceled", "rejected"})
OPEN_STATES: frozenset[OrderState] = frozenset(
    {"submitted", "acknowledged", "partially_filled", "unknown"}
)

ORDER_TRANSITIONS: MappingProxyType[OrderState, frozenset[OrderState]] = MappingProxyType(
    {
        "intent": frozenset({"submitted", "rejected"}),
        # A venue may answer a send with the order already filled (a market order) or refused.
        "submitted": frozenset(
            {"acknowledged", "partially_filled", "filled", "canceled", "rejected", "unknown"}
        ),
        "acknowledged": frozenset({"partially_filled", "filled", "canceled", "unknown"}),
        "partially_filled": frozenset({"partially_filled", "filled", "canceled", "unknown"}),
        # A lookup resolves an unknown order to whatever the venue says it is.
        "unknown": frozenset(
            {"acknowledged", "partially_filled", "filled", "canceled", "rejected", "unknown"}
        ),
        "filled": frozenset(),
        "canceled": frozenset(),
        "rejected": frozenset(),
    }
)


class IllegalTransition(ValueError):
    """An order was asked to move between two states that the state machine does not connect."""


def advance(current: OrderState, to: OrderState) -> OrderState:
    """`to`, if the state machine allows current -> to; else IllegalTransition."""
    if to not in ORDER_TRANSITIONS[current]:
        raise IllegalTransition(f"an order cannot go from {current} to {to}")
    return to


def client_order_id(run_id: str, strategy_id: str, seq: int) -> str:
    """The deterministic client order id of intent `seq` of `strategy_id` in deployment run
    `run_id`: the same three always give the same id, so a restart that re-derives an intent
    finds it in the journal (and at the venue) instead of sending it again.

    32 characters of [0-9a-z] after a ``rara`` prefix: within every major venue's limit
    (Binance 36, OKX 32 alphanumerics, Bybit 36, Kraken 18 digits need the live adapter's own
    mapping, which it derives from this id)."""
    if seq < 0:
        raise ValueError("intent seq must be >= 0")
    digest = hashlib.sha256(f"{run_id}\x1f{strategy_id}\x1f{seq}".encode()).hexdigest()
    return "rara" + digest[:28]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderRequest(_Model):
    """What is sent to a venue. A market buy may name its size by quote cost instead of quantity
    (``cost``: quote spent, fee included, as the backtest commits cash), which is how an entry
    sized on cash fills without knowing the next open in advance. Trigger orders (stop-loss and
    take-profit) are market orders released when the price crosses ``trigger_price``."""

    client_order_id: str = Field(min_length=1)
    symbol: str
    side: Side
    order_type: OrderType
    quantity: ExactDecimal | None = Field(None, gt=0, description="base units")
    cost: ExactDecimal | None = Field(None, gt=0, description="quote spent, fee included")
    limit_price: ExactDecimal | None = Field(None, gt=0)
    trigger_price: ExactDecimal | None = Field(None, gt=0)
    reduce_only: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        if (self.quantity is None) == (self.cost is None):
            raise ValueError("an order names exactly one of quantity and cost")
        if self.cost is not None and (self.side != "buy" or self.order_type != "market"):
            raise ValueError("only a market buy may be sized by cost")
        if (self.order_type == "limit") != (self.limit_price is not None):
            raise ValueError("a limit order, and only a limit order, has a limit_price")
        is_trigger = self.order_type in ("stop_market", "take_profit_market")
        if is_trigger != (self.trigger_price is not None):
            raise ValueError("a trigger order, and only a trigger order, has a trigger_price")
        return self


class OrderIntent(_Model):
    """What the engine wants before the risk gate and the journal have seen it: an order request
    plus who wants it and why. ``mark_price`` is the price the gate values it at (the last close),
    since a market order's fill price is not known in advance."""

    seq: int = Field(ge=0, description="this deployment's intent sequence for the strategy")
    strategy_id: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1, description="the deployment's id")
    request: OrderRequest
    reason: IntentReason
    signal_bar_ms: int | None = Field(description="open time of the closed bar; None if manual")
    mark_price: ExactDecimal = Field(gt=0)
    # An entry's protective orders, as fractions of its fill (rule 4 of the backtest): placed by
    # the engine once the entry has filled; journaled with the intent so a restart knows them.
    stop_loss_fraction: float | None = Field(None, ge=0, lt=1, allow_inf_nan=False)
    take_profit_fraction: float | None = Field(None, ge=0, allow_inf_nan=False)

    @property
    def reduces(self) -> bool:
        """Whether this intent can only shrink exposure (a sell on long-only spot, or flagged)."""
        return self.request.reduce_only or self.request.side == "sell"


class VenueOrder(_Model):
    """A venue's answer about one order: its state and how much of it has filled."""

    client_order_id: str = Field(min_length=1)
    venue_order_id: str | None
    symbol: str
    side: Side
    order_type: OrderType
    state: OrderState
    quantity: ExactDecimal | None = Field(description="base units asked; None: sized by cost")
    filled_quantity: ExactDecimal = Field(ge=0)
    average_price: ExactDecimal | None = Field(description="None until something filled")
    limit_price: ExactDecimal | None = None
    trigger_price: ExactDecimal | None = None
    updated_ms: int = Field(description="the venue's time of this state")
    detail: str = ""


class VenueFill(_Model):
    """One fill (a trade of ours at the venue). ``fill_id`` is unique per venue and is what the
    ledger books once. ``detail`` records how a simulated fill was made (half-spread, volume cap,
    limit touch) so a paper result can be explained."""

    fill_id: str = Field(min_length=1)
    client_order_id: str = Field(min_length=1)
    venue_order_id: str | None
    symbol: str
    side: Side
    quantity: ExactDecimal = Field(gt=0)
    price: ExactDecimal = Field(gt=0)
    fee: ExactDecimal = Field(ge=0)
    fee_currency: str
    filled_ms: int
    reason: IntentReason | None = Field(None, description="why the order was placed, if known")
    detail: dict[str, str] = Field(default_factory=dict)

    @property
    def notional(self) -> Decimal:
        with exact():  # the default 28 digits would round it
            return self.quantity * self.price


class Balance(_Model):
    """One currency of an account at a venue."""

    currency: str
    free: ExactDecimal
    used: ExactDecimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        with exact():
            return self.free + self.used


def base_and_quote(symbol: str) -> tuple[str, str]:
    """("BTC", "USDT") for "BTC/USDT" (and for "BTC/USDT:USDT")."""
    base, _, rest = symbol.partition("/")
    return base, rest.partition(":")[0]
