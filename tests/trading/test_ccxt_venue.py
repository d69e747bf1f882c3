"""`CcxtVenue` against the Binance spot emulator, by real ccxt over real HTTP: every order type
with rara's client id, lookups, open orders, trades as fills under the right client id,
balances, cancels, and the market rules read from exchangeInfo. The fault paths are in
`test_ccxt_venue_faults.py`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from rara.config import DataSettings
from rara.credentials import ExchangeKeys, Secrets
from rara.domain.orders import OrderRequest, client_order_id
from rara.errors import BadInput
from rara.trading.market_rules import RuleRefusal, conform
from rara.trading.venue import CancelAfterVenue, RuledVenue, Venue, VenueRejected
from rara.trading.venues.ccxt import CcxtVenue
from rara.trading_settings import AccountSettings
from tests.emulators.exchange import BinanceEmulator

KEY = "canaryKEYa1b2c3d4e5f6a7b8c9d0CANARY"
SECRET = "canarySECRETf0e1d2c3b4a5968778CANARY"
SYM = "BTC/USDT"


def cid(n: int, run: str = "run") -> str:
    return client_order_id(run, "s1", n)


@pytest.fixture
def binance() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(api_keys={KEY: SECRET}) as emu:
        emu.fund(KEY, "USDT", "100000")
        emu.fund(KEY, "BTC", "2")
        yield emu


def open_venue(
    emu: BinanceEmulator,
    *,
    mode: str = "testnet",
    timeout_ms: int = 30_000,
    key: str = KEY,
    secret: str = SECRET,
    **account: Any,
) -> CcxtVenue:
    data = DataSettings(
        url_overrides={"binance": {"public": emu.api_url, "private": emu.api_url}},
        request_timeout_ms=timeout_ms,
        rate_limit_ms=1,
    )
    settings = AccountSettings(exchange="binance", mode=mode, symbols=(SYM,), **account)  # type: ignore[arg-type]
    secrets = Secrets(
        exchanges={"binance": ExchangeKeys(api_key=SecretStr(key), secret=SecretStr(secret))}
    )
    return CcxtVenue("acct", settings, data=data, secrets=secrets)


@pytest.fixture
def venue(binance: BinanceEmulator) -> Iterator[CcxtVenue]:
    v = open_venue(binance)
    yield v
    v.close()


def last_price(emu: BinanceEmulator) -> Decimal:
    now = emu.now()
    rows = emu.bars("BTCUSDT", "1h", now - 7_200_000, now + 1)
    return Decimal(repr(float(rows[-1][4])))


def market(n: int, side: str = "buy", qty: str = "0.01") -> OrderRequest:
    return OrderRequest(
        client_order_id=cid(n), symbol=SYM, side=side, order_type="market",  # type: ignore[arg-type]
        quantity=Decimal(qty),
    )  # fmt: skip


def test_the_venue_is_every_port_it_claims(venue: CcxtVenue) -> None:
    assert isinstance(venue, Venue) and isinstance(venue, RuledVenue)
    assert not isinstance(venue, CancelAfterVenue) and not venue.supports_cancel_after
    assert venue.exchange == "binance" and venue.mode == "testnet" and venue.account == "acct"


def test_market_rules_come_from_exchange_info(venue: CcxtVenue) -> None:
    rules = venue.market_rules(SYM)
    assert rules.amount_step == Decimal("0.00001") and rules.price_step == Decimal("0.01")
    assert rules.min_amount == Decimal("0.00001") and rules.max_amount is not None
    assert rules.min_cost == Decimal(5)  # the NOTIONAL filter
    assert rules.taker_fee == Decimal("0.001") and rules.cost_orders
    with pytest.raises(BadInput) as err:
        venue.market_rules("BTC/USDC")
    assert err.value.code == "unknown_symbol"
    loads = len(venue._ex.markets)  # loaded once: asking again sends nothing
    before = venue.requests_made
    venue.market_rules("ETH/USDT")
    assert venue.requests_made == before and len(venue._ex.markets) == loads


def test_a_market_order_fills_and_its_trades_carry_the_client_id(
    binance: BinanceEmulator, venue: CcxtVenue
) -> None:
    since = binance.now() - 1
    done = venue.submit(market(0))
    assert done.client_order_id == cid(0) and done.state == "filled"
    assert done.filled_quantity == Decimal("0.01") and isinstance(done.average_price, Decimal)
    (placed,) = binance.book.orders(KEY)
    assert placed.client_order_id == cid(0) and placed.kind == "market"
    assert venue.fetch_order(cid(0), SYM) == done.model_copy(
        update={"updated_ms": venue.fetch_order(cid(0), SYM).updated_ms}  # type: ignore[union-attr]
    )
    (fill,) = venue.my_trades(since, SYM)
    (trade,) = binance.book.trades(KEY)
    assert fill.client_order_id == cid(0) and fill.venue_order_id == placed.order_id
    assert (fill.quantity, fill.price, fill.fee) == (trade.quantity, trade.price, trade.fee)
    assert fill.fee_currency == "USDT" and fill.filled_ms == trade.time_ms


def test_a_restarted_venue_maps_old_trades_to_rara_ids(binance: BinanceEmulator) -> None:
    since = binance.now() - 1
    first = open_venue(binance)
    first.submit(market(0))
    first.close()
    binance.place_external(KEY, SYM, "buy", "0.01")  # by someone else, under their own id
    again = open_venue(binance)  # knows none of these orders
    try:
        fills = again.my_trades(since, SYM)
    finally:
        again.close()
    assert [f.client_order_id for f in fills] == [cid(0), "web_4f1c2a9e0b7d4e"]


def test_a_cost_sized_buy_spends_at_most_its_cost(
    binance: BinanceEmulator, venue: CcxtVenue
) -> None:
    req = OrderRequest(
        client_order_id=cid(1), symbol=SYM, side="buy", order_type="market",
        cost=Decimal("500.00"),
    )  # fmt: skip
    done = venue.submit(req)
    assert done.state == "filled" and done.quantity is None and done.filled_quantity > 0
    (placed,) = binance.book.orders(KEY)
    assert placed.quote_quantity == Decimal("500.00")
    assert 0 < placed.filled_quote <= Decimal("500.00")
    assert done.filled_quantity == placed.filled


def test_limit_and_trigger_orders_rest_and_cancel(
    binance: BinanceEmulator, venue: CcxtVenue
) -> None:
    price = last_price(binance)
    limit = OrderRequest(
        client_order_id=cid(2), symbol=SYM, side="buy", order_type="limit",
        quantity=Decimal("0.01"), limit_price=(price / 2).quantize(Decimal("0.01")),
    )  # fmt: skip
    stop = OrderRequest(
        client_order_id=cid(3), symbol=SYM, side="sell", order_type="stop_market",
        quantity=Decimal("0.01"), trigger_price=(price * Decimal("0.8")).quantize(Decimal("0.01")),
    )  # fmt: skip
    take = OrderRequest(
        client_order_id=cid(4), symbol=SYM, side="sell", order_type="take_profit_market",
        quantity=Decimal("0.01"), trigger_price=(price * Decimal("1.3")).quantize(Decimal("0.01")),
    )  # fmt: skip
    for req in (limit, stop, take):
        ack = venue.submit(req)
        assert ack.state == "acknowledged" and ack.order_type == req.order_type
        assert ack.limit_price == req.limit_price and ack.trigger_price == req.trigger_price
    kinds = {o.client_order_id: o.kind for o in binance.book.open_orders(KEY)}
    assert kinds == {cid(2): "limit", cid(3): "stop_market", cid(4): "take_profit_market"}
    assert {o.client_order_id for o in venue.open_orders(SYM)} == {cid(2), cid(3), cid(4)}
    assert {o.client_order_id for o in venue.open_orders()} == {cid(2), cid(3), cid(4)}
    gone = venue.cancel(cid(3), SYM)
    assert gone.state == "canceled" and gone.order_type == "stop_market"
    assert venue.fetch_order(cid(3), SYM).state == "canceled"  # type: ignore[union-attr]
    assert {o.client_order_id for o in venue.open_orders(SYM)} == {cid(2), cid(4)}
    free, locked = binance.book.balances(KEY)["BTC"]
    held = venue.balances()["BTC"]
    assert (held.free, held.used) == (free, locked) and held.used == Decimal("0.01")


def test_unknown_orders_are_none_or_refused(venue: CcxtVenue) -> None:
    assert venue.fetch_order(cid(9), SYM) is None
    with pytest.raises(VenueRejected) as err:
        venue.cancel(cid(9), SYM)
    assert err.value.code == "unknown_order"


def test_refusals_have_named_codes(binance: BinanceEmulator, venue: CcxtVenue) -> None:
    with pytest.raises(VenueRejected) as poor:
        venue.submit(market(5, qty="50"))
    assert poor.value.code == "insufficient_funds"
    with pytest.raises(VenueRejected) as small:
        venue.submit(market(6, qty="0.00001"))
    assert small.value.code == "below_min_notional"
    assert binance.book.orders(KEY) == []


def test_resending_an_open_orders_id_returns_that_order(
    binance: BinanceEmulator, venue: CcxtVenue
) -> None:
    limit = OrderRequest(
        client_order_id=cid(7), symbol=SYM, side="buy", order_type="limit",
        quantity=Decimal("0.01"), limit_price=Decimal("1000.00"),
    )  # fmt: skip
    first = venue.submit(limit)
    again = venue.submit(limit)
    assert again.venue_order_id == first.venue_order_id and again.state == "acknowledged"
    assert [o.client_order_id for o in binance.book.orders(KEY)] == [cid(7)]


def test_conformed_requests_pass_and_refused_ones_would_be_refused(
    binance: BinanceEmulator, venue: CcxtVenue
) -> None:
    rules = venue.market_rules(SYM)
    mark = last_price(binance)
    odd = market(8, qty="0.0123456789")
    sent = conform(rules, odd, mark)
    assert isinstance(sent, OrderRequest) and sent.quantity == Decimal("0.01234")
    assert venue.submit(sent).state == "filled"
    dust = market(9, qty="0.0001")
    refusal = conform(rules, dust, mark)
    assert isinstance(refusal, RuleRefusal) and refusal.code == "below_min_cost"
    with pytest.raises(VenueRejected) as err:
        venue.submit(dust)
    assert err.value.code == "below_min_notional"
    assert [o.client_order_id for o in binance.book.orders(KEY)] == [cid(8)]
