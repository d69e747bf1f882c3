"""A market's order rules (amount and price precision, minimums), and `conform`: an order
request rounded to them, or a refusal that names the rule it breaks.

A venue reads its markets once (`rara.trading.venues.ccxt`); the engine conforms each intent
before the risk gate judges it, so the gate sees the order the exchange will get, and an order
the exchange would refuse is refused here, journaled with the rule and its numbers.

Rounding is always toward the safe side: amounts down (never more than asked or held), prices to
the nearest tick. Paper trading has no rules (its venue is not a `RuledVenue`).

A market buy sized by cost (quote spent, fee included) is sent as a cost order where the venue
takes one, with the taker fee held back so that cost plus fee stays within what was asked; where
it takes none, the cost becomes a quantity at the mark, the fee likewise held back.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import ExactDecimal
from rara.domain.money import wide
from rara.domain.orders import OrderRequest


class MarketRules(BaseModel):
    """One symbol's rules at one venue (ccxt's ``market['precision']`` and ``['limits']``, as
    steps: 0.001 means three decimals). None: the venue sets no such rule."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    amount_step: ExactDecimal | None = Field(None, gt=0, description="base units")
    price_step: ExactDecimal | None = Field(None, gt=0, description="quote per base")
    cost_step: ExactDecimal | None = Field(None, gt=0, description="quote, for cost-sized buys")
    min_amount: ExactDecimal | None = Field(None, ge=0)
    max_amount: ExactDecimal | None = Field(None, gt=0)
    min_price: ExactDecimal | None = Field(None, ge=0)
    max_price: ExactDecimal | None = Field(None, gt=0)
    min_cost: ExactDecimal | None = Field(None, ge=0, description="notional, quote")
    max_cost: ExactDecimal | None = Field(None, gt=0)
    taker_fee: ExactDecimal | None = Field(
        None, ge=0, lt=1, description="fraction of the quote a market order pays; None: unknown"
    )
    cost_orders: bool = Field(
        True, description="the venue takes a market buy sized by quote cost (else: a quantity)"
    )


class RuleRefusal(BaseModel):
    """Why a request cannot be sent: ``code`` names the rule (below_min_amount, below_min_cost,
    above_max_amount, ...), ``context`` its numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    context: dict[str, str] = Field(default_factory=dict)


def conform(rules: MarketRules, request: OrderRequest, mark: Decimal) -> OrderRequest | RuleRefusal:
    """`request` rounded to `rules` (amount down to its step, limit and trigger prices to the
    nearest tick, a cost down to its step), or the first rule it breaks valued at `mark` (a limit
    or trigger order's notional at its own price, which is what the venue checks)."""
    if mark <= 0:
        raise ValueError("the mark must be a positive price")
    fee = rules.taker_fee or Decimal(0)
    prices: dict[str, Decimal] = {}
    for field in ("limit_price", "trigger_price"):
        asked = getattr(request, field)
        if asked is None:
            continue
        price = _to_step(asked, rules.price_step, ROUND_HALF_EVEN)
        if price <= 0:
            return _refuse("price_below_tick", f"{field} {asked} rounds to 0", rules, asked=asked)
        if rules.min_price is not None and price < rules.min_price:
            return _refuse(
                "below_min_price",
                f"{field} {price} < {rules.min_price}",
                rules,
                price=price,
                min_price=rules.min_price,
            )
        if rules.max_price is not None and price > rules.max_price:
            return _refuse(
                "above_max_price",
                f"{field} {price} > {rules.max_price}",
                rules,
                price=price,
                max_price=rules.max_price,
            )
        prices[field] = price
    if request.cost is not None and rules.cost_orders:
        return _conform_cost(rules, request, mark, fee)
    if request.cost is not None:  # no cost orders here: the quantity the cost buys at the mark
        asked = request.cost / (mark * (1 + fee))
    else:
        assert request.quantity is not None  # the request names one of the two
        asked = request.quantity
    quantity = _to_step(asked, rules.amount_step, ROUND_DOWN)
    if quantity <= 0:
        return _refuse(
            "amount_below_step",
            f"quantity {asked} rounds down to 0 at step {rules.amount_step}",
            rules,
            asked=asked,
        )
    price = prices.get("limit_price") or prices.get("trigger_price") or mark
    with wide():
        notional = quantity * price
    refusal = _check_amount(rules, quantity, price) or _check_cost(rules, notional, price)
    if refusal is not None:
        return refusal
    return _but(request, {"quantity": quantity, "cost": None, **prices})


def _conform_cost(
    rules: MarketRules, request: OrderRequest, mark: Decimal, fee: Decimal
) -> OrderRequest | RuleRefusal:
    assert request.cost is not None
    asked = request.cost / (1 + fee)  # the fee on top of what the cost order spends
    cost = _to_step(asked, rules.cost_step, ROUND_DOWN)
    if cost <= 0:
        return _refuse(
            "cost_below_step",
            f"cost {request.cost} rounds down to 0 at step {rules.cost_step}",
            rules,
            asked=request.cost,
        )
    refusal = _check_cost(rules, cost, mark) or _check_amount(rules, cost / mark, mark)
    if refusal is not None:
        return refusal
    return _but(request, {"cost": cost})


def _but(request: OrderRequest, changes: dict[str, object]) -> OrderRequest:
    """`request` with `changes`, validated again (a pydantic copy with updates would skip it)."""
    return OrderRequest.model_validate({**request.model_dump(), **changes})


# what each bounded quantity is called in a refusal, and the rules that bound it
_BOUNDS = {
    "amount": ("quantity", "min_amount", "max_amount"),
    "cost": ("notional", "min_cost", "max_cost"),
}


def _check(rules: MarketRules, kind: str, value: Decimal, price: Decimal) -> RuleRefusal | None:
    """The refusal of `value` (an amount or a notional) below its minimum or above its maximum
    (codes ``below_min_amount``, ``above_max_cost``, ...), or None."""
    label, low_rule, high_rule = _BOUNDS[kind]
    low, high = getattr(rules, low_rule), getattr(rules, high_rule)
    numbers: dict[str, Decimal] = {label: value, "price": price}
    if low is not None and value < low:
        message = f"{label} {value} < the minimum {low}"
        return _refuse(f"below_{low_rule}", message, rules, **numbers, **{low_rule: low})
    if high is not None and value > high:
        message = f"{label} {value} > the maximum {high}"
        return _refuse(f"above_{high_rule}", message, rules, **numbers, **{high_rule: high})
    return None


def _check_amount(rules: MarketRules, quantity: Decimal, price: Decimal) -> RuleRefusal | None:
    return _check(rules, "amount", quantity, price)


def _check_cost(rules: MarketRules, notional: Decimal, price: Decimal) -> RuleRefusal | None:
    return _check(rules, "cost", notional, price)


def _to_step(value: Decimal, step: Decimal | None, rounding: str) -> Decimal:
    """`value` as a whole number of `step`s (None: unchanged)."""
    if step is None:
        return value
    with wide():
        return (value / step).to_integral_value(rounding=rounding) * step


def _refuse(code: str, message: str, rules: MarketRules, **numbers: Decimal | None) -> RuleRefusal:
    with wide():  # normalize() rounds to the context's digits
        context = {k: format(v.normalize(), "f") for k, v in numbers.items() if v is not None}
    return RuleRefusal(code=code, message=f"{rules.symbol}: {message}", context=context)
