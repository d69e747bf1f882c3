"""The Bybit v5 emulator through real ccxt ``bybit`` (sandbox mode, urls pointed at it) over
HTTP: markets and candles, every order call rara's venue makes (by id and by client id), the
errors ccxt must classify, the signature check, and the disconnected-cancel-all countdown firing
on its own in real time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from rara.config import DataSettings
from rara.data.ccxt_source import CcxtSource
from rara.domain.market import Timeframe
from tests.emulators.book import MarketSpec
from tests.emulators.bybit import CREATE, DCP, BybitEmulator
from tests.emulators.candles import klines

KEY, SECRET = "emu-key-1", "emu-secret-1"
KEY2, SECRET2 = "emu-key-2", "emu-secret-2"
H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, a bar boundary
SYM = "BTC/USDT"


@pytest.fixture
def emu() -> Iterator[BybitEmulator]:
    with BybitEmulator(api_keys={KEY: SECRET, KEY2: SECRET2}, now_ms=T0 + 30 * 60_000) as e:
        e.fund(KEY, "USDT", Decimal("100000"))
        e.fund(KEY, "BTC", Decimal("1"))
        yield e


@contextmanager
def bybit(emu: BybitEmulator, key: str = KEY, secret: str = SECRET) -> Iterator[Any]:
    """Real ccxt bybit as rara configures it: sandbox, spot markets only, no currencies call,
    every urls['api'] key at the emulator (after set_sandbox_mode, which swaps urls)."""
    ex = ccxt.bybit(
        {
            "apiKey": key,
            "secret": secret,
            "enableRateLimit": False,  # the throttle only slows the test; the emulator has none
            "options": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}},
        }
    )
    ex.set_sandbox_mode(True)
    ex.urls["api"] = emu.api_urls
    ex.has["fetchCurrencies"] = False
    try:
        yield ex
    finally:
        ex.session.close()


def final_bar(emu: BybitEmulator, bar_ms: int) -> list[float]:
    """The bar's closed values (open, high, low, close), whatever the emulator's clock."""
    row = klines(emu.seed, emu.markets["BTCUSDT"], "1h", bar_ms, bar_ms, 1, bar_ms + 2 * H, [])
    return [float(v) for v in row[0][1:5]]


def wait_until(cond: Any, timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


def test_time_markets_and_candles() -> None:
    spec = MarketSpec(
        base="BTC",
        quote="USDT",
        amount_step=Decimal("0.0001"),
        price_step=Decimal("0.1"),
        min_amount=Decimal("0.0002"),
        min_notional=Decimal("5"),
        fee_rate=Decimal("0.001"),
    )
    with (
        BybitEmulator(api_keys={KEY: SECRET}, specs={SYM: spec}, now_ms=T0 + 5) as emu,
        bybit(emu) as ex,
    ):
        assert ex.fetch_time() == T0 + 5
        markets = ex.load_markets()
        assert sorted(markets) == ["BTC/USDT", "ETH/USDT"]
        m = markets[SYM]
        assert m["spot"] and m["id"] == "BTCUSDT"
        assert m["precision"] == {"amount": 0.0001, "price": 0.1}
        assert m["limits"]["amount"]["min"] == 0.0002
        assert m["limits"]["cost"]["min"] == 5
        assert ex.amount_to_precision(SYM, 0.12345) == "0.1234"
        rows = ex.fetch_ohlcv(SYM, "1h", since=T0 - 5 * H, limit=5)
        truth = klines(emu.seed, emu.markets["BTCUSDT"], "1h", T0 - 5 * H, None, 5, T0 + 5, [])
        assert [r[0] for r in rows] == [T0 - k * H for k in range(5, 0, -1)]
        assert rows == [[r[0], *(float(v) for v in r[1:6])] for r in truth]
        latest = ex.fetch_ohlcv(SYM, "1h", limit=2)  # the forming bar last, as Bybit serves
        assert [r[0] for r in latest] == [T0 - H, T0]
        assert {r.path for r in emu.calls()} == {
            "/v5/market/time",
            "/v5/market/instruments-info",
            "/v5/market/kline",
        }


def test_market_orders_by_quantity_and_by_cost(emu: BybitEmulator) -> None:
    with bybit(emu) as ex:
        buy = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "rara-q-1"})
        assert buy["clientOrderId"] == "rara-q-1"
        assert emu.calls(CREATE)[-1].query["marketUnit"] == "baseCoin"
        done = ex.fetch_closed_order(buy["id"], SYM)
        assert (done["status"], done["filled"], done["amount"]) == ("closed", 0.01, 0.01)
        assert done["clientOrderId"] == "rara-q-1" and done["type"] == "market"
        assert done["fee"]["currency"] == "USDT" and done["fee"]["cost"] > 0

        by_cost = ex.create_market_buy_order_with_cost(SYM, 500, {"clientOrderId": "rara-c-1"})
        assert "marketUnit" not in emu.calls(CREATE)[-1].query  # Bybit's buy default: quote
        o = ex.fetch_closed_order(by_cost["id"], SYM)
        core = emu.book.get(KEY, SYM, order_id=by_cost["id"])
        assert core is not None and core.quote_quantity == Decimal("500")
        assert o["status"] == "closed" and o["cost"] == float(core.filled_quote) <= 500
        assert o["filled"] == float(core.filled) > 0

        sell = ex.create_order(SYM, "market", "sell", 0.005, None, {"clientOrderId": "rara-s-1"})
        assert ex.fetch_closed_order(sell["id"], SYM)["side"] == "sell"

        trades = ex.fetch_my_trades(SYM)
        assert [t["order"] for t in trades] == [buy["id"], by_cost["id"], sell["id"]]
        for t, core_t in zip(trades, emu.book.trades(KEY, SYM), strict=True):
            assert (t["price"], t["amount"]) == (float(core_t.price), float(core_t.quantity))
            assert t["fee"] == {"currency": "USDT", "cost": float(core_t.fee), "rate": 0.001}
        by_order = ex.fetch_my_trades(SYM, params={"orderLinkId": "rara-s-1"})
        assert [t["order"] for t in by_order] == [sell["id"]]

        balance = ex.fetch_balance()
        for cur, (free, locked) in emu.book.balances(KEY).items():
            assert balance[cur]["total"] == float(free + locked)
            assert balance[cur]["free"] == pytest.approx(float(free))


def test_limit_order_by_id_and_by_client_id(emu: BybitEmulator) -> None:
    bar1 = final_bar(emu, T0 + H)
    with bybit(emu) as ex:
        far = ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "rara-l-1"})
        assert ex.fetch_open_order(far["id"], SYM)["status"] == "open"
        by_link = ex.fetch_open_orders(SYM, params={"orderLinkId": "rara-l-1"})
        assert [o["id"] for o in by_link] == [far["id"]]
        got = ex.fetch_order(far["id"], SYM, {"acknowledged": True})
        assert (got["price"], got["amount"], got["remaining"]) == (1000, 0.01, 0.01)
        assert ex.fetch_balance()["USDT"]["used"] > 10  # the buy locks its quote
        ex.cancel_order(None, SYM, {"orderLinkId": "rara-l-1"})
        closed = ex.fetch_canceled_and_closed_orders(SYM, params={"orderLinkId": "rara-l-1"})
        assert [(o["id"], o["status"]) for o in closed] == [(far["id"], "canceled")]
        assert ex.fetch_open_orders(SYM) == []
        assert ex.fetch_balance()["USDT"]["used"] == 0

        limit = round(bar1[2] + 0.01, 2)  # the next bar trades through it
        near = ex.create_order(SYM, "limit", "buy", 0.01, limit, {"clientOrderId": "rara-l-2"})
        emu.now_ms = T0 + 2 * H + 60_000  # bars 0 and 1 have closed
        filled = ex.fetch_order(near["id"], SYM, {"acknowledged": True})
        assert (filled["status"], filled["filled"]) == ("closed", 0.01)
        assert filled["average"] <= limit
        [trade] = ex.fetch_my_trades(SYM, params={"orderId": near["id"]})
        assert trade["takerOrMaker"] == "maker" and trade["timestamp"] < emu.now()


def test_conditional_orders_rest_trigger_and_cancel(emu: BybitEmulator) -> None:
    bar1 = final_bar(emu, T0 + H)
    with bybit(emu) as ex:
        far_sl = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"clientOrderId": "sl-far", "stopLossPrice": 1000}
        )
        tp = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"clientOrderId": "tp", "takeProfitPrice": 90000}
        )
        trig = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"clientOrderId": "trig", "triggerPrice": 2000}
        )
        stop = round(bar1[2] + 0.01, 2)  # a stop the next bar falls through
        sl = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"clientOrderId": "sl", "stopLossPrice": stop}
        )
        kinds = {o.client_order_id: o.kind for o in emu.book.open_orders(KEY)}
        assert kinds == {
            "sl-far": "stop_market",
            "tp": "take_profit_market",
            "trig": "stop_market",
            "sl": "stop_market",
        }
        opened = {o["clientOrderId"]: o for o in ex.fetch_open_orders(SYM)}
        assert opened["sl-far"]["stopLossPrice"] == 1000 and opened["sl-far"]["reduceOnly"]
        assert opened["tp"]["takeProfitPrice"] == 90000
        assert opened["trig"]["triggerPrice"] == 2000
        assert opened["sl"]["info"]["orderStatus"] == "Untriggered"

        emu.now_ms = T0 + 2 * H + 60_000
        fired = ex.fetch_closed_order(sl["id"], SYM)
        assert fired["filled"] == 0.01 and fired["average"] <= stop

        # a conditional order is cancelled with orderFilter StopOrder (ccxt: trigger=True)
        with pytest.raises(ccxt.OrderNotFound):
            ex.cancel_order(trig["id"], SYM)
        ex.cancel_order(trig["id"], SYM, {"trigger": True})
        assert ex.cancel_all_orders(SYM) == []  # Bybit's default filter: plain orders only
        gone = ex.cancel_all_orders(SYM, {"trigger": True})
        assert sorted(o["id"] for o in gone) == sorted([far_sl["id"], tp["id"]])
        assert ex.fetch_open_orders(SYM) == []


def test_errors_raise_the_ccxt_class(emu: BybitEmulator) -> None:
    with bybit(emu) as ex:
        with pytest.raises(ccxt.InsufficientFunds):
            ex.create_order(SYM, "market", "buy", 50, None, {"clientOrderId": "too-big"})
        ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "dup"})
        with pytest.raises(ccxt.InvalidOrder) as dup:
            ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "dup"})
        assert "110072" in str(dup.value)
        with pytest.raises(ccxt.InvalidOrder):  # below minOrderQty
            ex.create_order(SYM, "market", "sell", 0.00001, None, {"clientOrderId": "tiny"})
        with pytest.raises(ccxt.BadRequest):  # orderLinkId: at most 36 characters
            ex.create_order(SYM, "market", "sell", 0.01, None, {"clientOrderId": "x" * 37})
        with pytest.raises(ccxt.OrderNotFound):
            ex.cancel_order("999999", SYM)
        with pytest.raises(ccxt.OrderNotFound):
            ex.fetch_open_order("999999", SYM)
        with pytest.raises(ccxt.BadRequest):  # ccxt's default product is DERIVATIVES
            ex.cancel_all_orders_after(10_000)
        # rara sends one order per client id: the refusals left nothing behind
        assert emu.book.count_by_client_id(KEY) == {"dup": 1}


def test_keys_are_accounts_and_bad_signatures_are_refused(emu: BybitEmulator) -> None:
    with bybit(emu) as ex:
        ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "mine"})
    with bybit(emu, KEY2, SECRET2) as other:
        assert other.fetch_open_orders(SYM) == []
        assert other.fetch_balance()["total"] == {}
    with bybit(emu, KEY, "not-the-secret") as forged, pytest.raises(ccxt.AuthenticationError):
        forged.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "forged"})
    with bybit(emu, "no-such-key", SECRET) as stranger, pytest.raises(ccxt.AuthenticationError):
        stranger.fetch_balance()
    assert [o.client_order_id for o in emu.book.orders(KEY)] == ["mine"]
    refused = [r for r in emu.calls() if r.status == 401]
    assert len(refused) >= 2 and all(r.path != CREATE for r in refused)


def test_countdown_cancels_a_resting_stop_by_itself(emu: BybitEmulator) -> None:
    with bybit(emu) as ex:
        sl = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"clientOrderId": "dms-sl", "stopLossPrice": 1000}
        )
        ex.cancel_all_orders_after(1000, {"type": "spot"})
        assert emu.calls(DCP)[-1].query == {"timeWindow": "1", "product": "SPOT"}
        # nobody re-arms: the emulator cancels on its own
        assert wait_until(lambda: bool(emu.book.countdown_fired))
        [(account, _, ids)] = emu.book.countdown_fired
        assert (account, ids) == (KEY, [sl["id"]])
        assert ex.fetch_open_orders(SYM) == []
        after = ex.fetch_order(sl["id"], SYM, {"acknowledged": True})
        assert after["status"] == "canceled"
        assert after["info"]["cancelType"] == "CancelByDCP"


def test_rearming_keeps_orders_and_zero_disarms(emu: BybitEmulator) -> None:
    with bybit(emu) as ex:
        ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "kept"})
        ex.cancel_all_orders_after(2000, {"type": "spot"})
        end = time.monotonic() + 3.5  # well past the first window: only re-arming keeps it
        while time.monotonic() < end:
            ex.cancel_all_orders_after(2000, {"type": "spot"})
            time.sleep(0.2)
        ex.cancel_all_orders_after(0, {"type": "spot"})
        time.sleep(2.5)  # past the last window: disarmed, nothing fires
        assert emu.book.countdown_fired == []
        assert [o["clientOrderId"] for o in ex.fetch_open_orders(SYM)] == ["kept"]


def test_scripted_faults_partial_fills_and_external_orders(emu: BybitEmulator) -> None:
    emu.fail(1, 503)
    emu.rate_limit_orders(2, retry_after="1")
    hung = emu.hang(3)
    with bybit(emu) as ex:
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "f-1"})
        with pytest.raises(ccxt.RateLimitExceeded):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "f-2"})
        ex.timeout = 500
        with pytest.raises(ccxt.RequestTimeout):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "f-3"})
        hung.release()  # the hung request is answered (placing it) to a client long gone
        assert wait_until(lambda: emu.calls(CREATE)[-1].status == 200)
        assert [o.client_order_id for o in emu.book.orders(KEY)] == ["f-3"]
        assert [r.status for r in emu.calls(CREATE)] == [503, 429, 200]
        ex.timeout = 10_000

        emu.partial_fills(0.5)
        half = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "p-1"})
        now = ex.fetch_open_order(half["id"], SYM)
        assert (now["status"], now["filled"], now["remaining"]) == ("open", 0.005, 0.005)
        emu.now_ms = T0 + H + 1  # the rest fills at the next bar's open
        rest = ex.fetch_closed_order(half["id"], SYM)
        assert (rest["status"], rest["filled"]) == ("closed", 0.01)
        assert len(ex.fetch_my_trades(SYM, params={"orderId": half["id"]})) == 2

        theirs = emu.place_external(KEY, SYM, "sell", "0.02", price="90000")
        [seen] = ex.fetch_open_orders(SYM)
        assert seen["id"] == theirs.order_id and seen["clientOrderId"] is None
        assert (seen["side"], seen["amount"], seen["price"]) == ("sell", 0.02, 90000)


def test_rara_candle_source_reads_the_emulator(emu: BybitEmulator) -> None:
    """rara's own ccxt path (url_overrides on every urls['api'] key) loads the markets and
    pages candles from the emulator."""
    settings = DataSettings(url_overrides={"bybit": emu.api_urls}, rate_limit_ms=1)
    source = CcxtSource("bybit", settings)
    try:
        source.validate_symbol(SYM)
        rows = source.fetch_page(SYM, Timeframe.parse("1h"), T0 - 3 * H, 3)
    finally:
        source.close()
    truth = klines(emu.seed, emu.markets["BTCUSDT"], "1h", T0 - 3 * H, None, 3, emu.now(), [])
    assert rows == [[float(r[0]), *(float(v) for v in r[1:6])] for r in truth]
    assert {r.path for r in emu.calls()} == {"/v5/market/instruments-info", "/v5/market/kline"}


def test_accepted_orders_whose_answer_is_lost_and_late_visibility(emu: BybitEmulator) -> None:
    emu.accept_then_fail(1)
    late = emu.accept_then_timeout(2)
    emu.not_found_for(2, client_order_id="nf-1")
    with bybit(emu) as ex:
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "a-1"})
        ex.timeout = 500
        with pytest.raises(ccxt.RequestTimeout):
            ex.create_order(SYM, "limit", "buy", 0.01, 1000, {"clientOrderId": "a-2"})
        ex.timeout = 10_000
        # the exchange did the work: both exist, found by client id
        [a1] = ex.fetch_canceled_and_closed_orders(SYM, params={"orderLinkId": "a-1"})
        assert (a1["status"], a1["filled"]) == ("closed", 0.01)
        [a2] = ex.fetch_open_orders(SYM, params={"orderLinkId": "a-2"})
        assert a2["status"] == "open"
        late.release()

        ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "nf-1"})
        assert "nf-1" not in {t["info"]["orderLinkId"] for t in ex.fetch_my_trades(SYM)}
        for _ in range(2):  # it exists, but the first two reads naming it find nothing
            assert ex.fetch_canceled_and_closed_orders(SYM, params={"orderLinkId": "nf-1"}) == []
        [nf] = ex.fetch_canceled_and_closed_orders(SYM, params={"orderLinkId": "nf-1"})
        assert nf["status"] == "closed"
        assert "nf-1" in {t["info"]["orderLinkId"] for t in ex.fetch_my_trades(SYM)}
    assert emu.book.count_by_client_id(KEY) == {"a-1": 1, "a-2": 1, "nf-1": 1}
