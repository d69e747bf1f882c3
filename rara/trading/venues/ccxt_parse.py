"""Translation between ccxt and rara's order vocabulary, for `rara.trading.venues.ccxt`: client
order ids in each exchange's format, ccxt orders and trades as `VenueOrder`/`VenueFill`, a
market's precision and limits as `MarketRules`, and ccxt's exceptions as the venue's errors.

Numbers: the venue sets ccxt's ``number`` to ``str``, so every amount, price and fee arrives as
the exchange's own decimal string and becomes a `Decimal` without passing through a float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt

from rara.domain.events import OrderState, OrderType
from rara.domain.orders import Balance, VenueFill, VenueOrder
from rara.trading.market_rules import MarketRules
from rara.trading.venue import VenueError, VenueRejected, VenueUnavailable

# ---- client order ids ---------------------------------------------------------------------
# rara's ids are "rara" + 28 hex digits (`rara.domain.orders.client_order_id`). Most exchanges
# take them as they are; the ones that do not get a mapping that can be undone without state,
# so an order found at the venue after a restart is still recognised as rara's.
_RARA_ID = re.compile(r"^rara([0-9a-f]{28})$")
_UUID_TAIL = "7a7a"  # marks a UUID made from a rara id (the 4 hex digits after its 28)
_UUID = re.compile(r"^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$")


@dataclass(frozen=True)
class ClientIdFormat:
    """How one exchange takes client order ids: ``style`` is ``plain`` (rara's id as it is),
    ``uuid`` (the id's 28 hex digits and a marker, as a UUID) or ``gate`` (``t-`` + the 28 hex
    digits: gate allows 28 characters after its ``t-``)."""

    max_length: int
    style: str = "plain"


CLIENT_ID_FORMATS: dict[str, ClientIdFormat] = {
    "binance": ClientIdFormat(36),
    "binanceus": ClientIdFormat(36),
    "bybit": ClientIdFormat(36),
    "okx": ClientIdFormat(32),  # alphanumerics only, which rara's ids are
    "kucoin": ClientIdFormat(40),
    "bitget": ClientIdFormat(40),
    "coinbase": ClientIdFormat(64),
    "kraken": ClientIdFormat(36, "uuid"),  # cl_ord_id: a UUID, or 18 characters
    "bitvavo": ClientIdFormat(36, "uuid"),
    "gate": ClientIdFormat(30, "gate"),
}
DEFAULT_CLIENT_ID_FORMAT = ClientIdFormat(32)


def to_venue_client_id(exchange: str, client_order_id: str) -> str:
    """rara's client id as `exchange` takes it."""
    fmt = CLIENT_ID_FORMATS.get(exchange, DEFAULT_CLIENT_ID_FORMAT)
    m = _RARA_ID.match(client_order_id)
    if fmt.style == "plain" or m is None:
        if len(client_order_id) > fmt.max_length:
            raise VenueRejected(
                "invalid_client_id",
                f"client order id {client_order_id!r} is longer than {exchange}'s "
                f"{fmt.max_length} characters",
            )
        return client_order_id
    digits = m.group(1)
    if fmt.style == "gate":
        return "t-" + digits
    h = digits + _UUID_TAIL
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def from_venue_client_id(venue_client_id: str | None) -> str | None:
    """rara's client id for an id the venue reports (undoing `to_venue_client_id`); any other
    id unchanged."""
    if not venue_client_id:
        return None
    if venue_client_id.startswith("t-") and _RARA_ID.match("rara" + venue_client_id[2:]):
        return "rara" + venue_client_id[2:]
    m = _UUID.match(venue_client_id.lower())
    if m is not None:
        h = "".join(m.groups())
        if h.endswith(_UUID_TAIL):
            return "rara" + h[:28]
    return venue_client_id


# ---- numbers ------------------------------------------------------------------------------
def dec(value: Any) -> Decimal | None:
    """A ccxt number as a Decimal: its string as given (ccxt's ``number`` is ``str`` here). A
    float only comes from a static table in ccxt (a market's fee rate), spelled by its repr."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _dec0(value: Any) -> Decimal:
    return dec(value) or Decimal(0)


# ---- orders and trades -------------------------------------------------------------------
_STATES: dict[str, OrderState] = {
    "closed": "filled",
    "canceled": "canceled",
    "cancelled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}


def order_state(status: str | None, filled: Decimal) -> OrderState:
    """A ccxt order status as rara's state (open: acknowledged until something fills)."""
    if status in _STATES:
        return _STATES[status]
    return "partially_filled" if filled > 0 else "acknowledged"


def order_type_of(o: dict[str, Any]) -> OrderType:
    """An order's rara type from what ccxt parsed (for an order rara did not send)."""
    kind = str(o.get("type") or "").lower()
    if o.get("takeProfitPrice") is not None or "take_profit" in kind:
        return "take_profit_market"
    if o.get("triggerPrice") is not None or o.get("stopLossPrice") is not None or "stop" in kind:
        return "stop_market"
    return "limit" if kind == "limit" else "market"


def venue_order(
    o: dict[str, Any],
    client_order_id: str,
    *,
    order_type: OrderType | None = None,
    by_cost: bool = False,
    now_ms: int,
) -> VenueOrder:
    """A ccxt order as a `VenueOrder` under rara's `client_order_id`. ``order_type`` and
    ``by_cost`` are what rara asked, when it sent the order."""
    kind = order_type or order_type_of(o)
    filled = _dec0(o.get("filled"))
    average = dec(o.get("average"))
    if average is None and filled > 0 and dec(o.get("cost")):
        average = _dec0(o.get("cost")) / filled
    trigger = dec(o.get("triggerPrice") or o.get("stopPrice"))
    if trigger is None:
        trigger = dec(o.get("stopLossPrice") or o.get("takeProfitPrice"))
    updated = o.get("lastUpdateTimestamp") or o.get("lastTradeTimestamp") or o.get("timestamp")
    return VenueOrder(
        client_order_id=client_order_id,
        venue_order_id=str(o["id"]) if o.get("id") is not None else None,
        symbol=o["symbol"],
        side=o["side"],
        order_type=kind,
        state=order_state(o.get("status"), filled),
        quantity=None if by_cost else dec(o.get("amount")),
        filled_quantity=filled,
        average_price=average if filled > 0 else None,
        limit_price=dec(o.get("price")) if kind == "limit" else None,
        trigger_price=trigger if kind in ("stop_market", "take_profit_market") else None,
        updated_ms=int(updated) if updated is not None else now_ms,
        detail=str(o.get("status") or ""),
    )


def venue_fill(t: dict[str, Any], client_order_id: str) -> VenueFill:
    """A ccxt trade as a `VenueFill`. Its id is the trade id within its symbol (binance numbers
    trades per symbol). Fees in more than one currency: the first is the fill's fee, the others
    are in ``detail``; a rebate (a negative fee) is a zero fee with the rebate in ``detail``."""
    fees = [f for f in (t.get("fees") or [t.get("fee")]) if f and f.get("cost") is not None]
    detail: dict[str, str] = {"trade_id": str(t["id"])}
    if t.get("takerOrMaker"):
        detail["liquidity"] = str(t["takerOrMaker"])
    fee, currency = Decimal(0), ""
    for i, f in enumerate(fees):
        cost = _dec0(f.get("cost"))
        if i == 0:
            fee, currency = cost, str(f.get("currency") or "")
        elif cost:
            detail[f"fee_{f.get('currency')}"] = str(cost)
    if fee < 0:
        detail["rebate"] = str(-fee)
        fee = Decimal(0)
    if not currency:
        currency = str(t["symbol"]).partition("/")[2].partition(":")[0]
    return VenueFill(
        fill_id=f"{t['symbol']}#{t['id']}",
        client_order_id=client_order_id,
        venue_order_id=str(t["order"]) if t.get("order") is not None else None,
        symbol=t["symbol"],
        side=t["side"],
        quantity=_dec0(t.get("amount")),
        price=_dec0(t.get("price")),
        fee=fee,
        fee_currency=currency,
        filled_ms=int(t["timestamp"]),
        detail=detail,
    )


def balances(raw: dict[str, Any]) -> dict[str, Balance]:
    """A ccxt balance structure: every currency with something in it."""
    out: dict[str, Balance] = {}
    for currency, entry in raw.items():
        if currency in ("info", "free", "used", "total", "timestamp", "datetime", "debt"):
            continue
        if not isinstance(entry, dict):
            continue
        free, used = _dec0(entry.get("free")), _dec0(entry.get("used"))
        if free or used:
            out[currency] = Balance(currency=currency, free=free, used=used)
    return out


# ---- market rules -----------------------------------------------------------------------
def _step(value: Any, precision_mode: int) -> Decimal | None:
    """A ccxt precision as a step (0.001): TICK_SIZE gives it, DECIMAL_PLACES a count of
    decimals; significant digits have no step."""
    d = dec(value)
    if d is None or d <= 0:
        return None
    if precision_mode == ccxt.TICK_SIZE:
        return d
    if precision_mode == ccxt.DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(d))
    return None


def market_rules(market: dict[str, Any], precision_mode: int, *, cost_orders: bool) -> MarketRules:
    """A ccxt market's ``precision`` and ``limits`` as rara's rules. A cost is sized to the
    market's cost precision, else its price precision (which is what ccxt itself truncates a
    binance quoteOrderQty to)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def lim(kind: str, end: str) -> Decimal | None:
        v = dec((limits.get(kind) or {}).get(end))
        return v if v is not None and (end == "min" or v > 0) else None

    return MarketRules(
        symbol=market["symbol"],
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
        cost_step=_step(precision.get("cost") or precision.get("price"), precision_mode),
        min_amount=lim("amount", "min"),
        max_amount=lim("amount", "max"),
        min_price=lim("price", "min"),
        max_price=lim("price", "max"),
        min_cost=lim("cost", "min"),
        max_cost=lim("cost", "max"),
        taker_fee=dec(market.get("taker")),
        cost_orders=cost_orders,
    )


# ---- errors -------------------------------------------------------------------------------
# What a refusal says, checked in order against the exception's class, then its message.
_REFUSED_BY_CLASS: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.InsufficientFunds, "insufficient_funds"),
    (ccxt.DuplicateOrderId, "duplicate_client_id"),
    (ccxt.OrderNotFound, "unknown_order"),
    (ccxt.OrderImmediatelyFillable, "would_trigger_immediately"),
    (ccxt.BadSymbol, "bad_symbol"),
    (ccxt.MarketClosed, "market_closed"),
    (ccxt.NotSupported, "not_supported"),
)
_REFUSED_BY_TEXT: tuple[tuple[str, str], ...] = (
    ("duplicate", "duplicate_client_id"),
    ("insufficient", "insufficient_funds"),
    ("notional", "below_min_notional"),
    ("lot_size", "bad_amount"),
    ("price_filter", "bad_price"),
    ("unknown order", "unknown_order"),
    ("does not exist", "unknown_order"),
)
RATE_LIMIT_STATUSES = frozenset({418, 429})
# ccxt maps these statuses to ExchangeNotAvailable (a NetworkError), but the request was refused
# (nothing was processed), and asking again will not make it work.
PERMANENT_STATUSES = frozenset({400, 401, 404, 405, 407, 410, 422, 451})


def is_rate_limited(exc: Exception, status: int | None) -> bool:
    """A 429/418: the exchange did not process the request (safe to resend, same client id)."""
    limited = isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded))
    return limited or status in RATE_LIMIT_STATUSES


def venue_error(exc: ccxt.BaseError, status: int | None, message: str) -> VenueError:
    """The venue's error for a ccxt exception (``message``: its text, already redacted). No
    answer (a timeout, a dropped connection, a 5xx) is `VenueUnavailable`: the outcome is
    unknown. An answer that refused is `VenueRejected` with a stable code."""
    if isinstance(exc, ccxt.RequestTimeout):
        return VenueUnavailable("timeout", message)
    if status is not None and status >= 500:
        return VenueUnavailable("exchange_error_5xx", message)
    if isinstance(exc, ccxt.NetworkError) and status not in PERMANENT_STATUSES:
        code = "exchange_unavailable" if isinstance(exc, ccxt.ExchangeNotAvailable) else "network"
        return VenueUnavailable(code, message)
    if isinstance(exc, ccxt.OperationFailed) and not isinstance(exc, ccxt.NetworkError):
        return VenueUnavailable("bad_response", message)  # an answer that cannot be read
    for cls, code in _REFUSED_BY_CLASS:
        if isinstance(exc, cls):
            return VenueRejected(code, message)
    lowered = message.lower()
    for text, code in _REFUSED_BY_TEXT:
        if text in lowered:
            return VenueRejected(code, message)
    if isinstance(exc, ccxt.InvalidOrder):
        return VenueRejected("invalid_order", message)
    if isinstance(exc, ccxt.BadRequest):
        return VenueRejected("bad_request", message)
    return VenueRejected("exchange_error", message)
