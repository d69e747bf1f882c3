"""Bybit v5's dialect over the emulator's order core: the JSON shapes Bybit answers with, and a
create-order request read into `tests.emulators.book.Book.place` arguments.

Pure functions of the `Book`'s objects (no HTTP, no clock): `tests.emulators.bybit` serves them.
Shapes follow Bybit's v5 documentation for a unified (UTA) spot account, with the fields ccxt's
``bybit`` parses; numbers are strings, as Bybit sends them. Error codes are the ones for which
ccxt's ``bybit.exceptions`` raises the right class (see `ERRORS`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.emulators.book import EmuError, EmuOrder, EmuTrade, MarketSpec
from tests.emulators.candles import Market

# Book error code -> (Bybit retCode, retMsg). ccxt: 110072/170136/170137/170140/170116 ->
# InvalidOrder, 170131 -> InsufficientFunds, 110001 -> OrderNotFound, "Not supported symbols"
# (broad match) -> BadSymbol.
ERRORS: dict[str, tuple[int, str]] = {
    "duplicate_client_id": (110072, "OrderLinkedID is duplicate"),
    "insufficient_balance": (170131, "Insufficient balance."),
    "unknown_symbol": (10001, "Not supported symbols"),
    "below_min_amount": (170136, "Order quantity lower than the minimum."),
    "below_min_notional": (170140, "Order value lower than the minimum."),
    "bad_precision": (170137, "Order quantity has too many decimals."),
    "order_not_found": (110001, "Order does not exist."),
    "unknown_order_type": (170116, "Invalid orderType."),
    "market_closed": (170210, "New order rejected."),
}
BAD_PARAM = 10001  # ccxt: BadRequest
BAD_KEY = 10003  # ccxt: AuthenticationError
BAD_SIGN = 10004  # ccxt: AuthenticationError
BAD_TIMESTAMP = 10002  # ccxt: InvalidNonce
NOT_FOUND_PATH = 10017  # ccxt: BadRequest

# orderLinkId: at most 36 of letters, digits, dash and underscore (Bybit's rule).
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
CONDITIONAL_FILTERS = ("StopOrder", "tpslOrder")
DAY_MS = 86_400_000
INTERVALS = {  # Bybit's kline interval -> the candles' name for it
    "1": "1m",
    "3": "3m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "120": "2h",
    "240": "4h",
    "360": "6h",
    "720": "12h",
    "D": "1d",
    "W": "1w",
}


class V5Error(Exception):
    """An answer with a non-zero retCode (HTTP ``status``)."""

    def __init__(self, ret_code: int, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.ret_code, self.message, self.status = ret_code, message, status

    @classmethod
    def of(cls, err: EmuError) -> V5Error:
        code, msg = ERRORS.get(err.code, (BAD_PARAM, "params error"))
        return cls(code, f"{msg} ({err.message})")


def envelope(result: Any, now_ms: int) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}


def error_body(err: V5Error, now_ms: int) -> dict[str, Any]:
    return {
        "retCode": err.ret_code,
        "retMsg": err.message,
        "result": {},
        "retExtInfo": {},
        "time": now_ms,
    }


def s(x: Decimal | None) -> str:
    """A Decimal as Bybit writes it (plain notation, no exponent); None -> ""."""
    return "" if x is None else format(x.normalize(), "f")


def decimal_param(q: dict[str, Any], name: str) -> Decimal | None:
    v = q.get(name)
    if v is None or v == "":
        return None
    try:
        d = Decimal(str(v))
    except InvalidOperation:
        raise V5Error(BAD_PARAM, f"params error: {name} invalid") from None
    if not d.is_finite():
        raise V5Error(BAD_PARAM, f"params error: {name} invalid")
    return d


# ---- market data ------------------------------------------------------------------------------
def instrument(m: Market, spec: MarketSpec) -> dict[str, Any]:
    return {
        "symbol": m.id,
        "baseCoin": m.base,
        "quoteCoin": m.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "none",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": s(spec.amount_step),
            "quotePrecision": "0.00000001",
            "minOrderQty": s(spec.min_amount),
            "maxOrderQty": "100000",
            "minOrderAmt": s(spec.min_notional),
            "maxOrderAmt": "100000000",
        },
        "priceFilter": {"tickSize": s(spec.price_step)},
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
    }


def kline_row(row: list[Any]) -> list[str]:
    """A Binance-style 12-field row (what `tests.emulators.candles.klines` makes) as Bybit's
    7 strings: start, open, high, low, close, volume, turnover."""
    return [str(row[0]), *(str(Decimal(v).normalize()) for v in row[1:6]), str(row[7])]


# ---- orders -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderExtras:
    """What a v5 order says that the dialect-free `EmuOrder` does not keep."""

    order_type: str  # "Market" | "Limit"
    order_filter: str  # "Order" | "StopOrder" | "tpslOrder"
    market_unit: str  # "baseCoin" | "quoteCoin" | "" (limit orders)
    trigger_direction: int  # 0 (none), 1 (rises to the trigger), 2 (falls to it)
    reduce_only: bool
    time_in_force: str
    has_link_id: bool = True  # False: the core named it; Bybit shows ""


@dataclass(frozen=True)
class Placement:
    """A create-order request read into `Book.place` arguments."""

    symbol_id: str
    side: str  # "buy" | "sell"
    kind: str
    quantity: Decimal | None
    quote_quantity: Decimal | None
    price: Decimal | None
    trigger: Decimal | None
    client_order_id: str | None
    extras: OrderExtras


def read_create(q: dict[str, Any], last_price: Decimal | None) -> Placement:
    """Read ``POST /v5/order/create`` as Bybit does for a UTA spot account. ``last_price`` is
    the market's price now: a spot trigger order without triggerDirection triggers on the side
    of the trigger it is not on yet."""
    if q.get("category") != "spot":
        raise V5Error(BAD_PARAM, "params error: category only spot is emulated")
    side_raw = str(q.get("side", ""))
    if side_raw not in ("Buy", "Sell"):
        raise V5Error(170117, "Invalid side.")
    side = side_raw.lower()
    order_type = str(q.get("orderType", ""))
    if order_type not in ("Market", "Limit"):
        raise V5Error(*ERRORS["unknown_order_type"])
    link = q.get("orderLinkId")
    if link is not None and not LINK_ID.match(str(link)):
        raise V5Error(BAD_PARAM, "params error: orderLinkId must be 1-36 of [A-Za-z0-9_-]")
    tif = str(q.get("timeInForce", "GTC" if order_type == "Limit" else "IOC"))
    if order_type == "Limit" and tif != "GTC":  # the core models resting GTC limits only
        raise V5Error(170115, f"Invalid timeInForce. (the emulator serves GTC, not {tif})")
    if str(q.get("isLeverage", "0")) not in ("0", "false"):
        raise V5Error(170037, "Cross Margin Trading not emulated")
    qty = decimal_param(q, "qty")
    if qty is None or qty <= 0:
        raise V5Error(170105, "Parameter 'qty' was empty.")
    price = decimal_param(q, "price")
    trigger = decimal_param(q, "triggerPrice")
    order_filter = str(q.get("orderFilter", "Order"))
    if order_filter not in ("Order", *CONDITIONAL_FILTERS):
        raise V5Error(BAD_PARAM, f"params error: orderFilter {order_filter} not emulated")
    conditional = order_filter in CONDITIONAL_FILTERS
    if conditional and trigger is None:
        raise V5Error(170105, "Parameter 'triggerPrice' was empty.")
    if not conditional and trigger is not None:
        raise V5Error(BAD_PARAM, "params error: triggerPrice needs orderFilter StopOrder")
    unit = str(q.get("marketUnit", ""))
    if order_type == "Market" and unit == "":
        unit = "quoteCoin" if side == "buy" else "baseCoin"  # Bybit's spot default
    if unit not in ("", "baseCoin", "quoteCoin"):
        raise V5Error(BAD_PARAM, f"params error: marketUnit {unit}")
    direction = int(q.get("triggerDirection", 0) or 0)
    kind: str
    if order_type == "Limit":
        if price is None:
            raise V5Error(170105, "Parameter 'price' was empty.")
        if conditional:
            raise V5Error(*ERRORS["unknown_order_type"])  # no stop-limit in the core
        kind, unit = "limit", ""
    elif conditional:
        assert trigger is not None
        if direction == 0 and last_price is not None:
            direction = 2 if trigger < last_price else 1
        if direction not in (1, 2):
            raise V5Error(BAD_PARAM, "params error: triggerDirection")
        # A stop is a sell that triggers on a fall or a buy on a rise; the rest take profit.
        stop = (side == "sell") == (direction == 2)
        kind = "stop_market" if stop else "take_profit_market"
    else:
        kind = "market"
    return Placement(
        symbol_id=str(q.get("symbol", "")),
        side=side,
        kind=kind,
        quantity=None if unit == "quoteCoin" else qty,
        quote_quantity=qty if unit == "quoteCoin" else None,
        price=price if kind == "limit" else None,
        trigger=trigger if conditional else None,
        client_order_id=str(link) if link is not None else None,
        extras=OrderExtras(
            order_type=order_type,
            order_filter=order_filter,
            market_unit=unit,
            trigger_direction=direction if conditional else 0,
            reduce_only=str(q.get("reduceOnly", "false")).lower() == "true",
            time_in_force=tif,
            has_link_id=link is not None,
        ),
    )


def matches_filter(order: EmuOrder, order_filter: str | None) -> bool:
    """Bybit's orderFilter on reads: none -> every kind; Order -> plain; the others ->
    conditional (the emulator does not tell StopOrder from tpslOrder apart)."""
    conditional = order.kind in ("stop_market", "take_profit_market")
    if order_filter is None or order_filter == "":
        return True
    return conditional if order_filter in CONDITIONAL_FILTERS else not conditional


def order_status(o: EmuOrder) -> str:
    conditional = o.kind in ("stop_market", "take_profit_market")
    if o.status == "new":
        return "Untriggered" if conditional and o.filled == 0 else "New"
    if o.status == "partially_filled":
        return "PartiallyFilled"
    if o.status == "filled":
        return "Filled"
    if o.status == "rejected":
        return "Rejected"
    if o.filled > 0:  # canceled or expired after a partial fill
        return "PartiallyFilledCanceled"
    return "Deactivated" if conditional else "Cancelled"


CANCEL_TYPES = {"user": "CancelByUser", "countdown": "CancelByDCP", "expired": "CancelByAdmin"}


def order_json(
    o: EmuOrder, symbol_id: str, extras: OrderExtras, fee: Decimal, fee_currency: str
) -> dict[str, Any]:
    """A v5 order record (``/v5/order/realtime``, ``/v5/order/history``); ``fee`` is the sum
    of its executions' fees."""
    qty = o.quote_quantity if extras.market_unit == "quoteCoin" else o.quantity
    if o.quantity is not None:
        leaves = o.quantity - o.filled if o.status in ("new", "partially_filled") else Decimal(0)
    else:
        leaves = Decimal(0)
    return {
        "orderId": o.order_id,
        "orderLinkId": o.client_order_id if extras.has_link_id else "",
        "blockTradeId": "",
        "symbol": symbol_id,
        "price": s(o.price) if o.price is not None else "0",
        "qty": s(qty),
        "side": o.side.capitalize(),
        "isLeverage": "0",
        "positionIdx": 0,
        "orderStatus": order_status(o),
        "cancelType": CANCEL_TYPES.get(o.canceled_by or "", "UNKNOWN"),
        "rejectReason": "EC_NoError",
        "avgPrice": s(o.filled_quote / o.filled) if o.filled > 0 else "",
        "leavesQty": s(leaves),
        "leavesValue": s(leaves * o.price) if o.price is not None else "0",
        "cumExecQty": s(o.filled),
        "cumExecValue": s(o.filled_quote),
        "cumExecFee": s(fee),
        "timeInForce": extras.time_in_force,
        "orderType": extras.order_type,
        "stopOrderType": {"StopOrder": "Stop", "tpslOrder": "tpslOrder"}.get(
            extras.order_filter, ""
        ),
        "orderIv": "",
        "marketUnit": extras.market_unit,
        "triggerPrice": s(o.trigger) if o.trigger is not None else "0",
        "takeProfit": "0",
        "stopLoss": "0",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": extras.trigger_direction,
        "triggerBy": "LastPrice" if o.trigger is not None else "",
        "reduceOnly": extras.reduce_only,
        "closeOnTrigger": False,
        "placeType": "",
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    } | ({"cumFeeDetail": {fee_currency: s(fee)}} if fee > 0 else {})


def execution_json(
    t: EmuTrade, symbol_id: str, o: EmuOrder | None, fee_rate: Decimal
) -> dict[str, Any]:
    """A v5 execution (``/v5/execution/list``)."""
    return {
        "symbol": symbol_id,
        "orderId": t.order_id,
        "orderLinkId": t.client_order_id or "",
        "side": t.side.capitalize(),
        "orderPrice": s(o.price) if o is not None and o.price is not None else "0",
        "orderQty": s(o.quantity) if o is not None and o.quantity is not None else "0",
        "leavesQty": "0",
        "orderType": "Limit" if o is not None and o.kind == "limit" else "Market",
        "stopOrderType": "",
        "execFee": s(t.fee),
        "feeCurrency": t.fee_currency,
        "feeCoin": t.fee_currency,  # the field ccxt reads; the core charges the quote currency
        "execId": t.trade_id,
        "execPrice": s(t.price),
        "execQty": s(t.quantity),
        "execType": "Trade",
        "execValue": s(t.quote),
        "execTime": str(t.time_ms),
        "isMaker": t.maker,
        "feeRate": s(fee_rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": "",
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "",
        "seq": 0,
    }


def wallet_json(balances: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Any]:
    """``/v5/account/wallet-balance`` for a UNIFIED account: walletBalance is free + locked;
    availableToWithdraw is "" as on UTA 2.0, so ccxt derives free = total - locked."""
    coins = [
        {
            "coin": cur,
            "walletBalance": s(free + locked),
            "equity": s(free + locked),
            "locked": s(locked),
            "availableToWithdraw": "",
            "totalOrderIM": "0",
            "totalPositionIM": "0",
            "borrowAmount": "0",
            "accruedInterest": "0",
            "unrealisedPnl": "0",
            "cumRealisedPnl": "0",
            "usdValue": "",
            "marginCollateral": True,
            "collateralSwitch": True,
        }
        for cur, (free, locked) in sorted(balances.items())
    ]
    return {"list": [{"accountType": "UNIFIED", "accountIMRate": "0", "coin": coins}]}


def window(q: dict[str, Any], now_ms: int) -> tuple[int, int]:
    """Bybit's [startTime, endTime] for history reads: at most 7 days; none given -> the last
    7 days; one given -> 7 days from/to it."""
    start = int(q["startTime"]) if q.get("startTime") not in (None, "") else None
    end = int(q["endTime"]) if q.get("endTime") not in (None, "") else None
    if start is None and end is None:
        return now_ms - 7 * DAY_MS, now_ms
    if start is None:
        assert end is not None
        return end - 7 * DAY_MS, end
    if end is None:
        return start, start + 7 * DAY_MS
    if end - start > 7 * DAY_MS or end < start:
        raise V5Error(BAD_PARAM, "params error: the time range must be within 7 days")
    return start, end


def page_limit(q: dict[str, Any], default: int, most: int) -> int:
    try:
        n = int(q.get("limit", default))
    except ValueError:
        raise V5Error(BAD_PARAM, "params error: limit") from None
    if not 1 <= n <= most:
        raise V5Error(BAD_PARAM, f"params error: limit must be 1-{most}")
    return n
