"""`conform`: an order request rounded to a market's rules, or a refusal naming the rule it
breaks. Properties over random rules and requests: a conformed amount is never above the one
asked and lies on the step; a cost never exceeds the one asked once the fee is added; every
refusal names a rule the request really breaks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara.domain.orders import OrderRequest
from rara.trading.market_rules import MarketRules, RuleRefusal, conform

CID = "rara" + "0" * 28
BTC = MarketRules(
    symbol="BTC/USDT",
    amount_step=Decimal("0.00001"),
    price_step=Decimal("0.01"),
    cost_step=Decimal("0.01"),
    min_amount=Decimal("0.0001"),
    max_amount=Decimal("9000"),
    min_price=Decimal("0.01"),
    max_price=Decimal("1000000"),
    min_cost=Decimal("5"),
    taker_fee=Decimal("0.001"),
)


def market(qty: str, side: str = "buy") -> OrderRequest:
    return OrderRequest(
        client_order_id=CID,
        symbol="BTC/USDT",
        side=side,  # type: ignore[arg-type]
        order_type="market",
        quantity=Decimal(qty),
    )


def test_amount_rounds_down_to_its_step() -> None:
    out = conform(BTC, market("0.123456789"), Decimal(30_000))
    assert isinstance(out, OrderRequest)
    assert out.quantity == Decimal("0.12345")


def test_prices_go_to_the_nearest_tick() -> None:
    req = OrderRequest(
        client_order_id=CID, symbol="BTC/USDT", side="buy", order_type="limit",
        quantity=Decimal("0.01"), limit_price=Decimal("30000.016"),
    )  # fmt: skip
    out = conform(BTC, req, Decimal(30_000))
    assert isinstance(out, OrderRequest) and out.limit_price == Decimal("30000.02")
    stop = OrderRequest(
        client_order_id=CID, symbol="BTC/USDT", side="sell", order_type="stop_market",
        quantity=Decimal("0.01"), trigger_price=Decimal("29000.004"),
    )  # fmt: skip
    out = conform(BTC, stop, Decimal(30_000))
    assert isinstance(out, OrderRequest) and out.trigger_price == Decimal("29000.00")


def test_a_cost_order_holds_the_fee_back_and_rounds_down() -> None:
    req = OrderRequest(
        client_order_id=CID, symbol="BTC/USDT", side="buy", order_type="market",
        cost=Decimal("1000"),
    )  # fmt: skip
    out = conform(BTC, req, Decimal(30_000))
    assert isinstance(out, OrderRequest)
    assert out.cost == Decimal("999.00")  # 1000 / 1.001 = 999.000999.. down to the cent
    assert out.quantity is None


def test_without_cost_orders_a_cost_becomes_a_quantity_at_the_mark() -> None:
    rules = BTC.model_copy(update={"cost_orders": False})
    req = OrderRequest(
        client_order_id=CID, symbol="BTC/USDT", side="buy", order_type="market",
        cost=Decimal("1001"),
    )  # fmt: skip
    out = conform(rules, req, Decimal(1000))
    assert isinstance(out, OrderRequest)
    assert out.cost is None and out.quantity == Decimal("1.00000")  # 1001 / (1000 x 1.001)


@pytest.mark.parametrize(
    ("qty", "mark", "code", "context"),
    [
        ("0.000001", "30000", "amount_below_step", {"asked": "0.000001"}),
        ("0.00005", "300000", "below_min_amount", {"min_amount": "0.0001"}),
        ("0.0001", "30000", "below_min_cost", {"notional": "3", "min_cost": "5"}),
        ("9000.1", "1", "above_max_amount", {"max_amount": "9000"}),
    ],
)
def test_a_refusal_names_its_rule_and_numbers(
    qty: str, mark: str, code: str, context: dict[str, str]
) -> None:
    out = conform(BTC, market(qty), Decimal(mark))
    assert isinstance(out, RuleRefusal)
    assert out.code == code
    assert context.items() <= out.context.items()
    assert "BTC/USDT" in out.message


STEPS = st.sampled_from([None, "1", "0.1", "0.001", "0.00001", "0.5", "0.025"])
AMOUNTS = st.decimals(
    min_value=Decimal("0.0000001"), max_value=Decimal("100000"), places=8, allow_nan=False
)
PRICES = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=4)
LIMITS = st.one_of(
    st.none(), st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(5000), places=8)
)


@st.composite
def rules_st(draw: st.DrawFn) -> MarketRules:
    def dec(s: str | None) -> Decimal | None:
        return None if s is None else Decimal(s)

    lo_amount, hi_amount = draw(LIMITS), draw(LIMITS)
    lo_cost, hi_cost = draw(LIMITS), draw(LIMITS)
    return MarketRules(
        symbol="X/Y",
        amount_step=dec(draw(STEPS)),
        price_step=dec(draw(st.sampled_from([None, "0.01", "0.5", "0.001"]))),
        cost_step=dec(draw(st.sampled_from([None, "0.01", "1"]))),
        min_amount=lo_amount,
        max_amount=hi_amount,
        min_cost=lo_cost,
        max_cost=hi_cost,
        min_price=draw(st.one_of(st.none(), st.just(Decimal("0.01")))),
        max_price=draw(st.one_of(st.none(), st.just(Decimal(50_000)))),
        taker_fee=draw(st.sampled_from([None, Decimal(0), Decimal("0.001"), Decimal("0.0075")])),
        cost_orders=draw(st.booleans()),
    )


@st.composite
def request_st(draw: st.DrawFn) -> OrderRequest:
    kind = draw(st.sampled_from(["market", "market_cost", "limit", "stop_market"]))
    side = "buy" if kind == "market_cost" else draw(st.sampled_from(["buy", "sell"]))
    size = draw(AMOUNTS)
    return OrderRequest(
        client_order_id=CID,
        symbol="X/Y",
        side=side,  # type: ignore[arg-type]
        order_type="market" if kind == "market_cost" else kind,  # type: ignore[arg-type]
        quantity=None if kind == "market_cost" else size,
        cost=size if kind == "market_cost" else None,
        limit_price=draw(PRICES) if kind == "limit" else None,
        trigger_price=draw(PRICES) if kind == "stop_market" else None,
    )


def _on_step(value: Decimal, step: Decimal | None) -> bool:
    return step is None or value % step == 0


@settings(max_examples=400, derandomize=True, deadline=None)
@given(rules=rules_st(), req=request_st(), mark=PRICES)
def test_conform_never_asks_more_and_refuses_only_broken_rules(
    rules: MarketRules, req: OrderRequest, mark: Decimal
) -> None:
    out = conform(rules, req, mark)
    fee = rules.taker_fee or Decimal(0)
    if isinstance(out, OrderRequest):
        assert out.client_order_id == req.client_order_id and out.side == req.side
        for field in ("limit_price", "trigger_price"):
            price = getattr(out, field)
            if price is not None:
                assert _on_step(price, rules.price_step) and price > 0
                assert abs(price - getattr(req, field)) <= (rules.price_step or 0) / 2
        if out.quantity is not None:
            if req.quantity is not None:
                assert out.quantity <= req.quantity
            else:  # a cost turned into a quantity at the mark
                assert req.cost is not None and not rules.cost_orders
                assert out.quantity * mark * (1 + fee) <= req.cost
            assert out.quantity > 0 and _on_step(out.quantity, rules.amount_step)
            assert rules.min_amount is None or out.quantity >= rules.min_amount
            assert rules.max_amount is None or out.quantity <= rules.max_amount
            price = out.limit_price or out.trigger_price or mark
            assert rules.min_cost is None or out.quantity * price >= rules.min_cost
            assert rules.max_cost is None or out.quantity * price <= rules.max_cost
        else:
            assert out.cost is not None and req.cost is not None and rules.cost_orders
            assert out.cost * (1 + fee) <= req.cost and _on_step(out.cost, rules.cost_step)
            assert rules.min_cost is None or out.cost >= rules.min_cost
        return
    # a refusal: the rule it names is broken by the request as rounded
    n = {k: Decimal(v) for k, v in out.context.items()}
    broken = {
        "amount_below_step": lambda: (
            rules.amount_step is not None and n["asked"] < rules.amount_step
        ),
        "cost_below_step": lambda: (
            rules.cost_step is not None and n["asked"] / (1 + fee) < rules.cost_step
        ),
        "price_below_tick": lambda: (
            rules.price_step is not None and n["asked"] < rules.price_step / 2
        ),
        "below_min_amount": lambda: n["quantity"] < n["min_amount"] == rules.min_amount,
        "above_max_amount": lambda: n["quantity"] > n["max_amount"] == rules.max_amount,
        "below_min_cost": lambda: n["notional"] < n["min_cost"] == rules.min_cost,
        "above_max_cost": lambda: n["notional"] > n["max_cost"] == rules.max_cost,
        "below_min_price": lambda: n["price"] < n["min_price"] == rules.min_price,
        "above_max_price": lambda: n["price"] > n["max_price"] == rules.max_price,
    }
    assert broken[out.code](), out
