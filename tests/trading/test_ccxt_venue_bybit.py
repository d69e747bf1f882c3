"""`CcxtVenue` on Bybit v5 spot (the Bybit emulator, real ccxt ``bybit`` over real HTTP): every
order type sent with rara's client id, orders found by client id (also by a venue that never
sent them), cancels of plain and conditional orders, trades paged past Bybit's 100 as fills
under the right client id, balances, and Bybit's dead man's switch counting down by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from rara.config import DataSettings
from rara.credentials import ExchangeKeys, Secrets
from rara.domain.orders import OrderRequest, client_order_id
from rara.events import open_event_store
from rara.home import Home
from rara.trading.deadman import ExchangeDeadman
from rara.trading.deadman_choice import PairedDeadman, choose_deadman
from rara.trading.venue import CancelAfterVenue, RuledVenue, VenueRejected, VenueUnavailable
from rara.trading.venues.ccxt import CcxtVenue
from rara.trading.watchdog import VenueSpec, cancel_open
from rara.trading_settings import AccountSettings
from tests.emulators.bybit import DCP, BybitEmulator

KEY = "canaryKEYb7c6d5e4f3a2b1c0d9e8CANARY"
SECRET = "canarySECRET1a2b3c4d5e6f7a8b9cCANARY"
SYM = "BTC/USDT"
H = 3_600_000
T0 = 1_767_225_600_000  # a bar's open


def cid(n: int, run: str = "run") -> str:
    return client_order_id(run, "s1", n)


@pytest.fixture
def bybit() -> Iterator[BybitEmulator]:
    with BybitEmulator(api_keys={KEY: SECRET}, now_ms=T0 + 30 * 60_000) as emu:
        emu.fund(KEY, "USDT", "100000")
        emu.fund(KEY, "BTC", "2")
        yield emu


def open_venue(emu: BybitEmulator, timeout_ms: int = 30_000, **account: Any) -> CcxtVenue:
    data = DataSettings(
        url_overrides={"bybit": emu.api_urls}, rate_limit_ms=1, request_timeout_ms=timeout_ms
    )
    settings = AccountSettings(exchange="bybit", symbols=(SYM,), **account)
    secrets = Secrets(
        exchanges={"bybit": ExchangeKeys(api_key=SecretStr(KEY), secret=SecretStr(SECRET))}
    )
    return CcxtVenue("acct", settings, data=data, secrets=secrets)


@pytest.fixture
def venue(bybit: BybitEmulator) -> Iterator[CcxtVenue]:
    v = open_venue(bybit)
    yield v
    v.close()


def order(n: int, kind: str, side: str = "sell", **fields: Any) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid(n), symbol=SYM, side=side, order_type=kind,  # type: ignore[arg-type]
        **{"quantity": Decimal("0.01"), **fields},
    )  # fmt: skip


def test_the_venue_is_a_ruled_cancel_after_venue(venue: CcxtVenue) -> None:
    assert isinstance(venue, RuledVenue) and isinstance(venue, CancelAfterVenue)
    rules = venue.market_rules(SYM)
    assert rules.amount_step == Decimal("0.000001") and rules.price_step == Decimal("0.01")
    assert rules.min_amount == Decimal("0.000048") and rules.min_cost == Decimal(1)


def test_market_orders_fill_and_are_found_by_client_id(
    bybit: BybitEmulator, venue: CcxtVenue
) -> None:
    since = bybit.now() - 1
    done = venue.submit(order(0, "market", "buy"))
    assert done.client_order_id == cid(0) and done.state == "filled"
    assert done.filled_quantity == Decimal("0.01") and done.average_price is not None
    by_cost = venue.submit(order(1, "market", "buy", quantity=None, cost=Decimal("500.00")))
    assert by_cost.state == "filled" and by_cost.quantity is None
    placed = {o.client_order_id: o for o in bybit.book.orders(KEY)}
    assert placed[cid(1)].quote_quantity == Decimal("500.00")
    assert by_cost.filled_quantity == placed[cid(1)].filled
    found = venue.fetch_order(cid(0), SYM)
    assert found is not None and found.state == "filled"
    assert found.venue_order_id == placed[cid(0)].order_id
    fills = venue.my_trades(since, SYM)
    assert [f.client_order_id for f in fills] == [cid(0), cid(1)]
    trades = bybit.book.trades(KEY)
    assert [(f.quantity, f.price, f.fee) for f in fills] == [
        (t.quantity, t.price, t.fee) for t in trades
    ]
    assert venue.fetch_order(cid(9), SYM) is None


def test_resting_orders_of_every_type_cancel(bybit: BybitEmulator, venue: CcxtVenue) -> None:
    requests = [
        order(2, "limit", "buy", limit_price=Decimal("1000.00")),
        order(3, "stop_market", trigger_price=Decimal("1000.00")),
        order(4, "take_profit_market", trigger_price=Decimal("90000.00")),
    ]
    for req in requests:
        ack = venue.submit(req)
        assert ack.state == "acknowledged" and ack.order_type == req.order_type
        assert (ack.limit_price, ack.trigger_price) == (req.limit_price, req.trigger_price)
    kinds = {o.client_order_id: o.kind for o in bybit.book.open_orders(KEY)}
    assert kinds == {cid(2): "limit", cid(3): "stop_market", cid(4): "take_profit_market"}
    assert {o.client_order_id: o.order_type for o in venue.open_orders(SYM)} == {
        cid(2): "limit",
        cid(3): "stop_market",
        cid(4): "take_profit_market",
    }
    held = venue.balances()["BTC"]
    assert held.used == Decimal("0.02")  # both conditional sells lock their base
    for n in (2, 3):  # a plain order, then a conditional one (Bybit: orderFilter StopOrder)
        gone = venue.cancel(cid(n), SYM)
        assert gone.state == "canceled" and gone.client_order_id == cid(n)
    # a venue that never sent it finds it by client id and cancels it as what it is
    again = open_venue(bybit)
    try:
        found = again.fetch_order(cid(4), SYM)
        assert found is not None and found.order_type == "take_profit_market"
        assert again.cancel(cid(4), SYM).state == "canceled"
        assert again.fetch_order(cid(3), SYM).state == "canceled"  # type: ignore[union-attr]
        with pytest.raises(VenueRejected) as err:
            again.cancel(cid(9), SYM)
        assert err.value.code == "unknown_order"
    finally:
        again.close()
    assert bybit.book.open_orders(KEY) == []
    assert all(n == 1 for n in bybit.book.count_by_client_id(KEY).values())


def test_trades_are_paged_past_bybits_hundred(bybit: BybitEmulator, venue: CcxtVenue) -> None:
    since = bybit.now() - 1
    venue.submit(order(0, "market", "buy", quantity=Decimal("0.5")))
    for i in range(104):  # someone else's small trades: more than one page
        bybit.place_external(KEY, SYM, "sell", "0.0001", client_order_id=f"web-{i}")
    fills = venue.my_trades(since, SYM)
    assert len(fills) == 105 == len({f.fill_id for f in fills})
    assert fills[0].client_order_id == cid(0)
    assert {f.client_order_id for f in fills[1:]} == {f"web-{i}" for i in range(104)}


def test_the_countdown_cancels_by_itself(bybit: BybitEmulator, venue: CcxtVenue) -> None:
    venue.submit(order(5, "stop_market", trigger_price=Decimal("1000.00")))
    venue.cancel_all_after(2000)
    assert bybit.calls(DCP)[-1].query == {"timeWindow": "2", "product": "SPOT"}
    deadline = time.monotonic() + 60
    while not bybit.book.countdown_fired and time.monotonic() < deadline:
        time.sleep(0.05)
    [(account, _, _ids)] = bybit.book.countdown_fired
    assert account == KEY
    gone = venue.fetch_order(cid(5), SYM)
    assert gone is not None and gone.state == "canceled"
    assert venue.open_orders(SYM) == []
    venue.cancel_all_after(0)


def test_auto_on_bybit_runs_the_watchdog_beside_its_switch(venue: CcxtVenue) -> None:
    """Bybit's DCP counts from a lost private websocket, not from rara's REST re-arms: ``auto``
    adds the watchdog (at twice the timeout); ``exchange`` is the exchange's switch alone."""
    assert venue.cancel_after_needs_watchdog  # type: ignore[attr-defined]
    home = Home.from_env()
    spec = VenueSpec(factory="rara.trading.accounts:watchdog_venue", args={"name": "acct"})
    with open_event_store(home.state_db) as store:

        def choose(deadman: str) -> object:
            return choose_deadman(
                AccountSettings(exchange="bybit", deadman=deadman),  # type: ignore[arg-type]
                venue, store=store, home=home, account="acct", symbols=[SYM], venue_spec=spec,
            )  # fmt: skip

        both = choose("auto")
        assert isinstance(both, PairedDeadman) and both.label == "exchange+watchdog"
        assert both.watchdog.timeout_ms == 2 * both.exchange.timeout_ms == 120_000
        alone = choose("exchange")
        assert isinstance(alone, ExchangeDeadman) and alone.label == "exchange"


def test_the_watchdogs_own_connection_cancels_every_kind(bybit: BybitEmulator) -> None:
    """The watchdog opens the account on its own (a venue that sent nothing) and cancels what
    is open: a plain order and a conditional one (Bybit: orderFilter StopOrder)."""
    sender = open_venue(bybit)
    try:
        sender.submit(order(6, "limit", "buy", limit_price=Decimal("1000.00")))
        sender.submit(order(7, "stop_market", trigger_price=Decimal("1000.00")))
    finally:
        sender.close()
    watchdog = open_venue(bybit)
    try:
        canceled, answered = cancel_open(watchdog, [SYM])
    finally:
        watchdog.close()
    assert answered and sorted(canceled) == sorted([cid(6), cid(7)])
    assert bybit.book.open_orders(KEY) == []


def test_an_order_whose_answer_is_lost_is_found_by_client_id(bybit: BybitEmulator) -> None:
    late = bybit.accept_then_timeout(1)
    bybit.not_found_for(1, client_order_id=cid(8))
    venue = open_venue(bybit, timeout_ms=1000)
    try:
        venue.market_rules(SYM)  # the markets first: only the order's answer is lost
        with pytest.raises(VenueUnavailable):
            venue.submit(order(8, "limit", "buy", limit_price=Decimal("1000.00")))
        assert venue.fetch_order(cid(8), SYM) is None  # not visible yet: the first read misses
        found = venue.fetch_order(cid(8), SYM)
        assert found is not None and found.state == "acknowledged"
    finally:
        late.release()
        venue.close()
    assert bybit.book.count_by_client_id(KEY) == {cid(8): 1}
