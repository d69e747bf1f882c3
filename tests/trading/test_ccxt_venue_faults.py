"""`CcxtVenue` when the exchange misbehaves (the Binance emulator's faults, over real HTTP): an
answer that never comes or comes as a 5xx after the order was placed is `VenueUnavailable`, and
the order is then found by its client id; a 429 is waited out and resent with the same client
id (one order at the exchange); bad keys are a `Refused`; the testnet is switched on; and no
error's text ever holds the key or the secret."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from rara.config import DataSettings
from rara.credentials import ExchangeKeys, Secrets
from rara.errors import BadInput, RaraError, Refused
from rara.trading.venue import CancelAfterVenue, VenueError, VenueUnavailable
from rara.trading.venues.ccxt import CcxtVenue
from rara.trading_settings import AccountSettings
from tests.emulators.exchange import ORDER, BinanceEmulator
from tests.trading.test_ccxt_venue import KEY, SECRET, SYM, binance, cid, market, open_venue

__all__ = ["binance"]  # the fixture, shared


@pytest.fixture
def seen() -> Iterator[list[str]]:
    """Every error text a test met: none may hold the key or the secret."""
    texts: list[str] = []
    yield texts
    for t in texts:
        assert KEY not in t and SECRET not in t, t


def remember(texts: list[str], exc: BaseException) -> None:
    texts.append(repr(exc) + str(exc))
    if isinstance(exc, RaraError):
        texts.append(str(exc.to_dict()))
    if isinstance(exc, VenueError):
        texts.append(exc.code + exc.message)


def orders_sent(emu: BinanceEmulator) -> list[str]:
    return [r.query.get("newClientOrderId", "") for r in emu.calls(ORDER, "POST")]


def test_accepted_then_no_answer_is_unavailable_and_then_found(
    binance: BinanceEmulator, seen: list[str]
) -> None:
    fault = binance.accept_then_timeout()
    venue = open_venue(binance, timeout_ms=1_500)
    try:
        with pytest.raises(VenueUnavailable) as err:
            venue.submit(market(0))
        remember(seen, err.value)
        assert err.value.code == "timeout"
        found = venue.fetch_order(cid(0), SYM)
        assert found is not None and found.state == "filled"
    finally:
        fault.release()
        venue.close()
    assert [o.client_order_id for o in binance.book.orders(KEY)] == [cid(0)]


def test_a_5xx_after_accept_is_unavailable_and_then_found(
    binance: BinanceEmulator, seen: list[str]
) -> None:
    binance.accept_then_fail(status=503)
    venue = open_venue(binance)
    try:
        with pytest.raises(VenueUnavailable) as err:
            venue.submit(market(0))
        remember(seen, err.value)
        found = venue.fetch_order(cid(0), SYM)
    finally:
        venue.close()
    assert found is not None and found.filled_quantity > 0
    assert [o.client_order_id for o in binance.book.orders(KEY)] == [cid(0)]


def test_a_429_is_resent_with_the_same_client_id(binance: BinanceEmulator) -> None:
    binance.rate_limit_orders(nth=1, retry_after="0")
    venue = open_venue(binance)
    try:
        done = venue.submit(market(0))
    finally:
        venue.close()
    assert done.state == "filled"
    assert orders_sent(binance) == [cid(0), cid(0)]
    assert [o.client_order_id for o in binance.book.orders(KEY)] == [cid(0)]


def test_429s_past_the_retries_are_unavailable_and_nothing_is_placed(
    binance: BinanceEmulator, seen: list[str]
) -> None:
    for n in (1, 2, 3):
        binance.rate_limit_orders(nth=n, retry_after="0")
    venue = open_venue(binance, rate_limit_retries=2)
    try:
        with pytest.raises(VenueUnavailable) as err:
            venue.submit(market(0))
        remember(seen, err.value)
    finally:
        venue.close()
    assert err.value.code == "rate_limited"
    assert orders_sent(binance) == [cid(0)] * 3 and binance.book.orders(KEY) == []


def test_bad_keys_are_refused_without_showing_them(
    binance: BinanceEmulator, seen: list[str]
) -> None:
    wrong_secret = open_venue(binance, secret=SECRET[::-1])
    unknown_key = open_venue(binance, key=KEY[::-1])
    try:
        for v in (wrong_secret, unknown_key):
            with pytest.raises(Refused) as err:
                v.balances()
            remember(seen, err.value)
            assert err.value.code == "exchange_auth_failed"
            assert "RARA_BINANCE_API_KEY" in err.value.suggestion
            with pytest.raises(Refused) as again:
                v.submit(market(0))
            remember(seen, again.value)
    finally:
        wrong_secret.close()
        unknown_key.close()
    assert binance.book.orders(KEY) == []
    seen.append(SECRET[::-1] + KEY[::-1])  # never shown either: checked below
    assert all(SECRET[::-1] not in t and KEY[::-1] not in t for t in seen[:-1])
    seen.pop()


def test_testnet_mode_switches_to_the_sandbox_before_the_overrides(
    binance: BinanceEmulator,
) -> None:
    testnet = open_venue(binance)
    live = open_venue(binance, mode="live")
    try:
        assert testnet._ex.isSandboxModeEnabled and not live._ex.isSandboxModeEnabled
        assert "testnet" in str(testnet._ex.urls["api"]["v1"])  # not overridden: the sandbox's
        assert "testnet" not in str(live._ex.urls["api"]["v1"])
        assert testnet._ex.urls["api"]["private"] == binance.api_url  # overridden after
        assert testnet.balances()["USDT"].free > 0
    finally:
        testnet.close()
        live.close()


def secrets_for(exchange: str) -> Secrets:
    from pydantic import SecretStr

    return Secrets(
        exchanges={exchange: ExchangeKeys(api_key=SecretStr(KEY), secret=SecretStr(SECRET))}
    )


def test_an_exchange_without_a_testnet_is_refused_by_name() -> None:
    with pytest.raises(BadInput) as err:
        CcxtVenue(
            "k", AccountSettings(exchange="kraken"), data=DataSettings(),
            secrets=secrets_for("kraken"),
        )  # fmt: skip
    assert err.value.code == "no_testnet" and "kraken" in err.value.message


def test_an_exchange_with_cancel_after_is_a_cancel_after_venue() -> None:
    venue = CcxtVenue(
        "k", AccountSettings(exchange="kraken", mode="live"), data=DataSettings(),
        secrets=secrets_for("kraken"),
    )  # fmt: skip
    try:
        assert isinstance(venue, CancelAfterVenue) and venue.supports_cancel_after
    finally:
        venue.close()


def test_a_partial_fill_is_partially_filled_until_the_rest_fills(
    binance: BinanceEmulator,
) -> None:
    binance.partial_fills(0.5)
    venue = open_venue(binance)
    try:
        part = venue.submit(market(0, qty="0.02"))
        assert part.state == "partially_filled"
        assert part.filled_quantity == Decimal("0.01") and part.quantity == Decimal("0.02")
        assert [o.client_order_id for o in venue.open_orders(SYM)] == [cid(0)]
    finally:
        venue.close()


def test_an_order_the_venue_does_not_show_yet_is_none_then_found(
    binance: BinanceEmulator,
) -> None:
    binance.not_found_for(polls=1, client_order_id=cid(0))
    venue = open_venue(binance)
    try:
        venue.submit(market(0))
        assert venue.fetch_order(cid(0), SYM) is None  # a lagging replica: looked up again
        found = venue.fetch_order(cid(0), SYM)
    finally:
        venue.close()
    assert found is not None and found.state == "filled"
