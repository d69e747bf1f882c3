"""The paper venue's fill model: at what price, how much and at what fee an order fills on one
closed bar. Pure float arithmetic, the backtest's operations in the backtest's order (see the
numbered rules of `rara.backtest.engine` and the plain-Python loop in ``tests/backtest``), so a
paper fill equals the backtest's bit for bit before `exact` turns it into a booked `Decimal`.

Defaults are the backtest's semantics; the options of `PaperSettings` (a half-spread, a volume
cap, limit orders) change only what they name, and every fill says which applied (`Quote.detail`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rara.domain.events import OrderType, Side
from rara.domain.money import from_float
from rara.trading.feed import ClosedBar

MIN_CAPPED_FILL = 1e-9  # base units


exact = from_float  # the float as the decimal its shortest repr spells


@dataclass(frozen=True, slots=True)
class Quote:
    """One fill the model makes: floats as computed, and how it was made."""

    price: float
    quantity: float
    fee: float
    source: str  # "open", "trigger", "close" or "limit": which price the fill started from
    detail: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FillModel:
    """Costs of a fill. ``fee`` and ``slippage`` are the caller's (the backtest's config);
    ``half_spread`` moves the quote before slippage (buys pay the ask, sells receive the bid);
    ``volume_cap`` caps one fill at that fraction of the bar's volume."""

    fee: float
    slippage: float
    half_spread: float = 0.0
    volume_cap: float | None = None

    def taker_price(self, side: Side, raw: float) -> float:
        """A market fill's price from the raw price it executes at. With no half-spread this is
        ``raw * (1 + slippage)`` (buy) or ``raw * (1 - slippage)`` (sell), exactly the
        backtest's expression (multiplying by ``1 + 0.0`` changes no float)."""
        if side == "buy":
            return (raw * (1 + self.half_spread)) * (1 + self.slippage)
        return (raw * (1 - self.half_spread)) * (1 - self.slippage)

    def quote(
        self,
        side: Side,
        bar: ClosedBar,
        raw: float,
        source: str,
        *,
        quantity: float | None = None,
        cost: float | None = None,
        taker: bool = True,
        volume_used: float = 0.0,
    ) -> Quote:
        """The fill of an order for `quantity` (base) or, for a market buy, `cost` (quote to
        spend, fee included: ``size = cost / (price * (1 + fee))`` as the backtest commits cash),
        executing at `raw` on `bar`. A taker fill pays slippage and the half-spread; a limit
        fill (``taker=False``) fills at `raw` itself. The volume cap, if set, bounds the size by
        what the bar's volume still allows after `volume_used` (earlier fills on the bar)."""
        price = self.taker_price(side, raw) if taker else raw
        if cost is not None:
            size = cost / (price * (1 + self.fee))
        elif quantity is not None:
            size = quantity
        else:
            raise ValueError("a quote needs a quantity or a cost")
        detail: dict[str, str] = {"price_source": source}
        if not taker:
            detail["limit"] = "maker fill at the limit or better, no slippage"
        if taker and self.half_spread:
            detail["half_spread"] = repr(self.half_spread)
        if self.volume_cap is not None:
            cap = self.volume_cap * bar.volume - volume_used
            detail["volume_cap"] = repr(self.volume_cap)
            detail["bar_volume"] = repr(bar.volume)
            if size > cap:
                # Below a nanounit of base the bar has no volume left for us (and a fill of
                # 1e-300 would be noise with hundreds of digits in every balance).
                size = cap if cap >= MIN_CAPPED_FILL else 0.0
                detail["capped"] = "true"
        fee = size * price * self.fee
        return Quote(price=price, quantity=size, fee=fee, source=source, detail=detail)


def trigger_raw(order_type: OrderType, side: Side, trigger: float, bar: ClosedBar) -> float | None:
    """The raw price a trigger order executes at on `bar`, or None if the bar does not reach
    it. With the open first (rule 4): a sell stop fires when ``open <= trigger`` (at the open,
    a gap) or ``low <= trigger`` (at the trigger); a sell take-profit when ``open >= trigger`` or
    ``high >= trigger``. Buy-side triggers mirror them."""
    falls = (order_type == "stop_market") == (side == "sell")
    if falls:
        if bar.open <= trigger:
            return bar.open
        return trigger if bar.low <= trigger else None
    if bar.open >= trigger:
        return bar.open
    return trigger if bar.high >= trigger else None


def limit_raw(side: Side, limit: float, bar: ClosedBar) -> float | None:
    """The price a limit order fills at when the bar trades through it: a buy if
    ``low <= limit``, at ``min(open, limit)``; a sell if ``high >= limit``, at
    ``max(open, limit)``. None if the bar does not reach the limit."""
    if side == "buy":
        return min(bar.open, limit) if bar.low <= limit else None
    return max(bar.open, limit) if bar.high >= limit else None
