"""A market's order rules (amount and price precision, minimums), and `conform`: an order
request rounded to them, or a refusal that names the rule it breaks.

A venue reads its markets once (`rara.trading.venues.ccxt`); the engine conforms each intent
before the risk gate judges it, so the gate sees the order the exchange will get, and an order
the exchange would refuse is refused here, journaled with the rule and its numbers.

Rounding is always toward the safe side: amounts down (never more than asked or held), prices to
the nearest tick. Paper trading has no rules (its venue is not a `RuledVenue`).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from rara.domain.events import ExactDecimal
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


class RuleRefusal(BaseModel):
    """Why a request cannot be sent: ``code`` names the rule (below_min_amount, below_min_cost,
    above_max_amount, ...), ``context`` its numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    context: dict[str, str] = Field(default_factory=dict)


def conform(rules: MarketRules, request: OrderRequest, mark: Decimal) -> OrderRequest | RuleRefusal:
    """`request` rounded to `rules` (amount down to its step, limit and trigger prices to the
    nearest tick, a cost down to its step), or the first rule it breaks valued at `mark`."""
    raise NotImplementedError  # the ccxt venue's helper fills this in
