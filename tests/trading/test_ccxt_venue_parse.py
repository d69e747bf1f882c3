"""The ccxt venue's translations that need no exchange: client ids in each exchange's format and
back, ccxt order statuses as rara's states, precision modes as steps, and errors as codes."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rara.domain.orders import client_order_id
from rara.trading.venue import VenueRejected, VenueUnavailable
from rara.trading.venues import ccxt_parse as parse


@settings(max_examples=100, derandomize=True, deadline=None)
@given(seq=st.integers(min_value=0, max_value=10**9), exchange=st.sampled_from(
    ["binance", "bybit", "okx", "kraken", "bitvavo", "gate", "someexchange"]
))  # fmt: skip
def test_client_ids_fit_each_exchange_and_map_back(seq: int, exchange: str) -> None:
    cid = client_order_id("run", "s1", seq)
    sent = parse.to_venue_client_id(exchange, cid)
    fmt = parse.CLIENT_ID_FORMATS.get(exchange, parse.DEFAULT_CLIENT_ID_FORMAT)
    assert len(sent) <= fmt.max_length
    assert parse.to_venue_client_id(exchange, cid) == sent  # deterministic
    assert parse.from_venue_client_id(sent) == cid
    if exchange in ("kraken", "bitvavo"):
        assert parse.from_venue_client_id(sent.upper()) == cid  # a UUID's case is not meaning


def test_foreign_ids_stay_as_they_are() -> None:
    for foreign in ("web_4f1c2a9e0b7d4e", "x-R4BD3S82abc", "3b241101-e2bb-4255-8caf-4136c566a962"):
        assert parse.from_venue_client_id(foreign) == foreign
    assert parse.from_venue_client_id(None) is None and parse.from_venue_client_id("") is None
    with pytest.raises(VenueRejected) as err:
        parse.to_venue_client_id("binance", "x" * 37)
    assert err.value.code == "invalid_client_id"


@pytest.mark.parametrize(
    ("status", "filled", "state"),
    [
        ("open", "0", "acknowledged"),
        (None, "0", "acknowledged"),
        ("open", "0.5", "partially_filled"),
        ("closed", "1", "filled"),
        ("canceled", "0.2", "canceled"),
        ("expired", "0", "canceled"),
        ("rejected", "0", "rejected"),
    ],
)
def test_statuses_become_states(status: str | None, filled: str, state: str) -> None:
    assert parse.order_state(status, Decimal(filled)) == state


def test_precision_modes_become_steps() -> None:
    market = {
        "symbol": "X/Y",
        "precision": {"amount": "3", "price": "2"},
        "limits": {"amount": {"min": "0.001", "max": None}, "cost": {"min": "10"}},
        "taker": 0.0026,
    }
    rules = parse.market_rules(market, ccxt.DECIMAL_PLACES, cost_orders=False)
    assert (rules.amount_step, rules.price_step) == (Decimal("0.001"), Decimal("0.01"))
    assert rules.min_cost == Decimal(10) and rules.max_amount is None
    assert rules.taker_fee == Decimal("0.0026") and not rules.cost_orders
    ticks = parse.market_rules(
        {**market, "precision": {"amount": "0.0005", "price": "0.5"}}, ccxt.TICK_SIZE,
        cost_orders=True,
    )  # fmt: skip
    assert (ticks.amount_step, ticks.price_step) == (Decimal("0.0005"), Decimal("0.5"))
    digits = parse.market_rules(market, ccxt.SIGNIFICANT_DIGITS, cost_orders=True)
    assert digits.amount_step is None  # significant digits have no step


def test_a_trade_without_a_fee_currency_or_with_a_rebate() -> None:
    t = {
        "id": "77", "order": "9", "symbol": "BTC/USDT", "side": "sell", "amount": "0.5",
        "price": "30000.10", "timestamp": 1_700_000_000_000, "takerOrMaker": "maker",
        "fee": {"cost": "-0.15", "currency": None},
    }  # fmt: skip
    fill = parse.venue_fill(t, "rara" + "0" * 28)
    assert fill.fill_id == "BTC/USDT#77" and fill.venue_order_id == "9"
    assert fill.fee == 0 and fill.fee_currency == "USDT" and fill.detail["rebate"] == "0.15"
    assert fill.price == Decimal("30000.10") and fill.quantity == Decimal("0.5")


@pytest.mark.parametrize(
    ("exc", "status", "kind", "code"),
    [
        (ccxt.RequestTimeout("t"), None, VenueUnavailable, "timeout"),
        (ccxt.ExchangeNotAvailable("x"), 503, VenueUnavailable, "exchange_error_5xx"),
        (ccxt.NetworkError("reset"), None, VenueUnavailable, "network"),
        (ccxt.BadResponse("garbled"), 200, VenueUnavailable, "bad_response"),
        (ccxt.ExchangeNotAvailable("404"), 404, VenueRejected, "exchange_error"),
        (ccxt.InsufficientFunds("x"), 400, VenueRejected, "insufficient_funds"),
        (ccxt.InvalidOrder("Duplicate order sent."), 400, VenueRejected, "duplicate_client_id"),
        (ccxt.InvalidOrder("Filter failure: NOTIONAL"), 400, VenueRejected, "below_min_notional"),
        (ccxt.InvalidOrder("Filter failure: LOT_SIZE"), 400, VenueRejected, "bad_amount"),
        (ccxt.InvalidOrder("no"), 400, VenueRejected, "invalid_order"),
        (ccxt.OrderNotFound("x"), 400, VenueRejected, "unknown_order"),
        (ccxt.BadSymbol("x"), 400, VenueRejected, "bad_symbol"),
    ],
)
def test_errors_become_the_venues(
    exc: ccxt.BaseError, status: int | None, kind: type, code: str
) -> None:
    err = parse.venue_error(exc, status, str(exc))
    assert type(err) is kind and err.code == code
    assert parse.is_rate_limited(ccxt.RateLimitExceeded("x"), 429)
    assert parse.is_rate_limited(ccxt.DDoSProtection("x"), None)
    assert not parse.is_rate_limited(exc, status)
