"""Real ccxt ``binance`` (sandbox mode, its spot URLs pointed at the emulator) trading on the
emulator over HTTP: orders by id and client id, open orders, trades, balances, the refusals and
the exception classes ccxt raises for them, triggers against the emulator's own candles, every
order fault, an order placed by someone else, and the countdown that cancels an account's
orders."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import ccxt
import pytest

from tests.emulators.exchange import ORDER, BinanceEmulator

H = 3_600_000
T0 = 1_760_000_000_000 - 1_760_000_000_000 % H  # a bar open
KEY, SECRET = "emu-key-a", "emu-secret-a"
SYM = "BTC/USDT"


@contextmanager
def binance(
    emu: BinanceEmulator, key: str = KEY, secret: str = SECRET, timeout_ms: int = 10_000
) -> Iterator[ccxt.binance]:
    """ccxt's binance as a venue adapter configures it: sandbox, then the spot URLs overridden;
    spot markets only, no currencies or margin calls."""
    ex = ccxt.binance({"apiKey": key, "secret": secret, "timeout": timeout_ms})
    ex.set_sandbox_mode(True)
    ex.urls["api"]["public"] = emu.api_url
    ex.urls["api"]["private"] = emu.api_url
    ex.options["fetchMarkets"] = {"types": ["spot"]}
    ex.options["fetchMargins"] = False
    ex.has["fetchCurrencies"] = False
    try:
        ex.load_markets()
        yield ex
    finally:
        ex.session.close()


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(now_ms=T0, api_keys={KEY: SECRET, "emu-key-b": "emu-secret-b"}) as e:
        e.fund(KEY, "USDT", "100000")
        e.fund(KEY, "BTC", "1")
        yield e


def test_orders_by_id_and_client_id(emu: BinanceEmulator) -> None:
    with binance(emu) as ex:
        o = ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "rara-1"})
        assert (o["clientOrderId"], o["status"], o["price"], o["amount"]) == (
            "rara-1",
            "open",
            20_000.0,
            0.01,
        )
        assert ex.fetch_order(o["id"], SYM)["clientOrderId"] == "rara-1"
        assert ex.fetch_order(None, SYM, {"clientOrderId": "rara-1"})["id"] == o["id"]
        assert [x["id"] for x in ex.fetch_open_orders(SYM)] == [o["id"]]
        assert emu.book.balances(KEY)["USDT"][1] == Decimal("200.2")  # the limit's lock + fee
        canceled = ex.cancel_order(None, SYM, {"clientOrderId": "rara-1"})
        assert (canceled["id"], canceled["status"]) == (o["id"], "canceled")
        with pytest.raises(ccxt.OrderNotFound):
            ex.cancel_order(o["id"], SYM)
        with pytest.raises(ccxt.OrderNotFound):
            ex.fetch_order("999", SYM)
        with pytest.raises(ccxt.OrderNotFound):
            ex.fetch_order(None, SYM, {"clientOrderId": "never-sent"})
        ids = {
            ex.create_order(SYM, "limit", "sell", 0.01, 50_000, {"clientOrderId": f"rara-{i}"})[
                "id"
            ]
            for i in (2, 3)
        }
        assert {x["id"] for x in ex.cancel_all_orders(SYM)} == ids
        with pytest.raises(ccxt.OrderNotFound):  # as Binance: nothing open is an unknown order
            ex.cancel_all_orders(SYM)
        assert ex.fetch_open_orders(SYM) == []
        assert [o["status"] for o in ex.fetch_orders(SYM)] == ["canceled"] * 3  # allOrders
    assert emu.book.balances(KEY) == {
        "USDT": (Decimal("100000"), Decimal(0)),
        "BTC": (Decimal("1"), Decimal(0)),
    }
    assert emu.book.count_by_client_id(KEY) == {"rara-1": 1, "rara-2": 1, "rara-3": 1}


def test_market_orders_trades_and_balances(emu: BinanceEmulator) -> None:
    with binance(emu) as ex:
        first = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "m-1"})
        opening = float(emu.bars("BTCUSDT", "1h", T0, T0 + 1)[0, 1])
        assert (first["status"], first["average"], first["filled"]) == ("closed", opening, 0.01)
        assert first["fee"] == {"currency": "USDT", "cost": pytest.approx(opening * 0.01 * 0.001)}
        by_cost = ex.create_order(
            SYM, "market", "buy", None, None, {"cost": 100, "clientOrderId": "m-2"}
        )
        assert by_cost["filled"] == float(emu.book.get(KEY, order_id=by_cost["id"]).quantity)  # type: ignore[union-attr]
        assert by_cost["cost"] <= 100
        emu.now_ms = T0 + H // 2
        sold = ex.create_order(SYM, "market", "sell", 0.015, None, {"clientOrderId": "m-3"})
        assert sold["average"] == float(
            emu.bars("BTCUSDT", "1h", T0, T0 + 1)[0, 4]
        )  # partial close
        truth = emu.book.trades(KEY)
        mine = ex.fetch_my_trades(SYM, since=T0)
        assert [(t["id"], t["order"], t["price"], t["amount"], t["fee"]["cost"]) for t in mine] == [
            (t.trade_id, t.order_id, float(t.price), float(t.quantity), float(t.fee)) for t in truth
        ]
        assert [t["id"] for t in ex.fetch_my_trades(SYM, params={"fromId": truth[1].trade_id})] == [
            truth[1].trade_id,
            truth[2].trade_id,
        ]
        assert [t["id"] for t in ex.fetch_my_trades(SYM, limit=1)] == [truth[2].trade_id]
        assert ex.fetch_my_trades(SYM, since=T0 + H // 2 + 1) == []
        balance = ex.fetch_balance()
        for cur, (free, locked) in emu.book.balances(KEY).items():
            assert (balance[cur]["free"], balance[cur]["used"]) == (float(free), float(locked))
        spent = sum(t.quote + t.fee for t in truth if t.side == "buy")
        got = sum(t.quote - t.fee for t in truth if t.side == "sell")
        assert emu.book.balances(KEY)["USDT"][0] == Decimal("100000") - spent + got


def test_refusals_raise_what_ccxt_raises_against_binance(emu: BinanceEmulator) -> None:
    with binance(emu) as ex:
        ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "dup"})
        with pytest.raises(ccxt.InvalidOrder) as dup:
            ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "dup"})
        assert "Duplicate order sent." in str(dup.value)
        with pytest.raises(ccxt.InsufficientFunds):
            ex.create_order(SYM, "market", "buy", 10, None, {"clientOrderId": "big"})
        with pytest.raises(ccxt.InsufficientFunds):
            ex.create_order(SYM, "market", "sell", 2, None, {"clientOrderId": "big-sell"})
        with pytest.raises(ccxt.BadRequest) as small:  # 0.0001 BTC ~ 3 USDT < 5
            ex.create_order(SYM, "market", "buy", 0.0001, None, {"clientOrderId": "small"})
        assert "NOTIONAL" in str(small.value)
        with pytest.raises(ccxt.BadSymbol):  # ccxt knows the symbol; the raw call does not
            ex.private_post_order(
                {"symbol": "DOGEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
            )
        with pytest.raises(ccxt.BadRequest) as bad_id:  # Binance: [.A-Z:/a-z0-9_-]{1,36}
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "x" * 37})
        assert "newClientOrderId" in str(bad_id.value)
        with pytest.raises(ccxt.OrderImmediatelyFillable):  # a sell stop above the market
            ex.create_order(SYM, "market", "sell", 0.01, None, {"stopLossPrice": 40_000})
    for key, secret in ((KEY, "wrong-secret"), ("unknown-key", SECRET)):
        with binance(emu, key, secret) as ex, pytest.raises(ccxt.AuthenticationError):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "x"})
    assert emu.book.count_by_client_id(KEY) == {"dup": 1}
    assert emu.book.orders("unknown-key") == []


def test_each_key_is_its_own_account(emu: BinanceEmulator) -> None:
    emu.fund("emu-key-b", "USDT", "50")
    with binance(emu, "emu-key-b", "emu-secret-b") as b, binance(emu) as a:
        b.create_order(SYM, "limit", "buy", 0.001, 20_000, {"clientOrderId": "same"})
        a.create_order(SYM, "limit", "buy", 0.001, 20_000, {"clientOrderId": "same"})
        assert b.fetch_balance()["USDT"] == {"free": 29.98, "used": 20.02, "total": 50.0}
        assert [o["clientOrderId"] for o in b.fetch_open_orders(SYM)] == ["same"]
        assert len(a.fetch_open_orders(SYM)) == 1


def test_trigger_orders_fill_at_the_trigger_against_the_candles(emu: BinanceEmulator) -> None:
    emu.now_ms = T0 + 48 * H
    bars = emu.closed_bars("BTCUSDT", "1h", T0, T0 + 48 * H).tolist()  # floats, not numpy's
    # a bar whose low is well under its open: a sell stop just above the low fires at itself
    j = next(i for i, b in enumerate(bars) if b[1] - b[3] >= 1.0)
    ts, open_, high, low = int(bars[j][0]), bars[j][1], bars[j][2], bars[j][3]
    emu.now_ms = ts
    stop = round(low + 0.5, 2)
    take = round(high - 0.5, 2)
    with binance(emu) as ex:
        sl = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"stopLossPrice": stop, "clientOrderId": "sl"}
        )
        tp = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"takeProfitPrice": take, "clientOrderId": "tp"}
        )
        tr = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"triggerPrice": stop, "clientOrderId": "tr"}
        )
        sent = [r.query["type"] for r in emu.calls(ORDER, "POST")]
        assert sent == ["STOP_LOSS", "TAKE_PROFIT", "STOP_LOSS"]
        assert (sl["status"], sl["triggerPrice"], tp["triggerPrice"]) == ("open", stop, take)
        emu.now_ms = ts + H - 1  # the bar has not closed: nothing fires yet
        assert ex.fetch_order(sl["id"], SYM)["status"] == "open"
        emu.now_ms = ts + H
        for o, at in ((sl, stop), (tr, stop), (tp, take)):
            got = ex.fetch_order(o["id"], SYM)
            assert (got["status"], got["average"], got["filled"]) == ("closed", at, 0.01)
        assert {t.time_ms for t in emu.book.trades(KEY)} == {ts + H - 1}
    assert open_ > stop


def test_a_stop_fills_at_the_open_across_a_gap(emu: BinanceEmulator) -> None:
    emu.now_ms = T0 + 400 * H
    bars = emu.closed_bars("BTCUSDT", "1h", T0, T0 + 400 * H).tolist()
    # the exchange is down from bar j+1 to m-1; bar m opens below everything bar j traded
    j, m = next(
        (j, m)
        for j in range(len(bars) - 30)
        for m in range(j + 2, j + 30)
        if bars[m][1] < bars[j][3] - 1.0
    )
    gap_open = bars[m][1]
    emu.omit("BTCUSDT", int(bars[j + 1][0]), int(bars[m][0]))
    emu.now_ms = int(bars[j][0])
    with binance(emu) as ex:
        stop = round(gap_open + 0.5, 2)
        o = ex.create_order(
            SYM, "market", "sell", 0.01, None, {"stopLossPrice": stop, "clientOrderId": "g"}
        )
        emu.now_ms = int(bars[m][0])  # the gap has passed; bar m is forming
        assert ex.fetch_order(o["id"], SYM)["status"] == "open"
        emu.now_ms = int(bars[m][0]) + H
        got = ex.fetch_order(o["id"], SYM)
        assert (got["status"], got["average"]) == ("closed", gap_open)
        assert got["average"] < stop


# ---- faults ------------------------------------------------------------------------------


def test_accept_then_timeout_places_the_order_and_never_answers(emu: BinanceEmulator) -> None:
    fault = emu.accept_then_timeout()
    with binance(emu, timeout_ms=1_000) as ex:
        with pytest.raises(ccxt.RequestTimeout):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "t-1"})
        assert fault.entered.is_set()
        assert ex.fetch_order(None, SYM, {"clientOrderId": "t-1"})["status"] == "closed"
    assert emu.book.count_by_client_id(KEY) == {"t-1": 1}


def test_5xx_after_accept_places_the_order(emu: BinanceEmulator) -> None:
    emu.accept_then_fail(status=503)
    with binance(emu) as ex:
        with pytest.raises(ccxt.ExchangeNotAvailable):
            ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "f-1"})
        assert [o["clientOrderId"] for o in ex.fetch_open_orders(SYM)] == ["f-1"]
    assert emu.book.count_by_client_id(KEY) == {"f-1": 1}


def test_429_with_retry_after_places_nothing(emu: BinanceEmulator) -> None:
    emu.rate_limit_orders(retry_after="2")
    with binance(emu) as ex:
        with pytest.raises(ccxt.DDoSProtection):
            ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "r-1"})
        assert ex.last_response_headers["Retry-After"] == "2"
        assert emu.book.orders(KEY) == []
        ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "r-1"})  # the retry
    assert emu.book.count_by_client_id(KEY) == {"r-1": 1}


def test_partial_fill_fills_the_rest_at_the_next_open(emu: BinanceEmulator) -> None:
    emu.partial_fills(0.5)
    with binance(emu) as ex:
        o = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "p-1"})
        assert (o["status"], o["filled"], o["remaining"]) == ("open", 0.005, 0.005)
        emu.now_ms = T0 + H
        done = ex.fetch_order(o["id"], SYM)
        assert (done["status"], done["filled"]) == ("closed", 0.01)
        prices = [t["price"] for t in ex.fetch_my_trades(SYM, since=T0)]
        assert prices == [float(emu.bars("BTCUSDT", "1h", t, t + 1)[0, 1]) for t in (T0, T0 + H)]


def test_order_not_found_for_the_first_polls(emu: BinanceEmulator) -> None:
    emu.not_found_for(polls=4)
    with binance(emu) as ex:
        o = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "n-1"})
        for _ in range(2):  # every read leaves it out, and counts, until the polls are spent
            assert ex.fetch_my_trades(SYM, since=T0) == []
            with pytest.raises(ccxt.OrderNotFound):
                ex.fetch_order(None, SYM, {"clientOrderId": "n-1"})
        assert ex.fetch_order(None, SYM, {"clientOrderId": "n-1"})["id"] == o["id"]
        assert [t["order"] for t in ex.fetch_my_trades(SYM, since=T0)] == [o["id"]]


def test_timeout_then_not_found_is_resolved_by_polling(emu: BinanceEmulator) -> None:
    emu.accept_then_timeout()
    emu.not_found_for(polls=2, client_order_id="u-1")
    with binance(emu, timeout_ms=1_000) as ex:
        with pytest.raises(ccxt.RequestTimeout):
            ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "u-1"})
        assert ex.fetch_open_orders(SYM) == []
        with pytest.raises(ccxt.OrderNotFound):
            ex.fetch_order(None, SYM, {"clientOrderId": "u-1"})
        assert ex.fetch_order(None, SYM, {"clientOrderId": "u-1"})["status"] == "open"
    assert emu.book.count_by_client_id(KEY) == {"u-1": 1}


# ---- someone else, and the countdown ------------------------------------------------------


def test_an_external_order_shows_with_its_own_client_id(emu: BinanceEmulator) -> None:
    ext = emu.place_external(KEY, SYM, "buy", "0.01", price="20000")
    with binance(emu) as ex:
        (o,) = ex.fetch_open_orders(SYM)
        assert (o["id"], o["clientOrderId"]) == (ext.order_id, ext.client_order_id)
        assert o["clientOrderId"].startswith("web_")


def test_the_countdown_cancels_the_accounts_open_orders(emu: BinanceEmulator) -> None:
    with binance(emu) as ex:
        ex.urls["api"]["fapiPrivate"] = emu.url + "/fapi/v1"
        o = ex.create_order(SYM, "limit", "buy", 0.01, 20_000, {"clientOrderId": "c-1"})
        arm = {"symbol": "BTCUSDT", "countdownTime": 60_000}
        assert ex.fapiPrivatePostCountdownCancelAll(arm)["countdownTime"] == "60000"
        ex.fapiPrivatePostCountdownCancelAll({**arm, "countdownTime": 0})  # disarmed
        ex.fapiPrivatePostCountdownCancelAll({**arm, "countdownTime": 300})  # re-armed, short
        waited = threading.Event()
        for _ in range(200):  # up to 20 s on a loaded machine
            if emu.book.countdown_fired:
                break
            waited.wait(0.1)
        assert ex.fetch_order(o["id"], SYM)["status"] == "canceled"
        assert [(a, ids) for a, _, ids in emu.book.countdown_fired] == [(KEY, [o["id"]])]
        assert emu.book.get(KEY, order_id=o["id"]).canceled_by == "countdown"  # type: ignore[union-attr]


def test_a_client_that_only_reads_trades_sees_them_in_the_end(emu: BinanceEmulator) -> None:
    """A lagging replica catches up with every read, not only with lookups by id: the trades
    of an order the client already knows is filled show after the hidden reads."""
    emu.not_found_for(polls=2, client_order_id="t-1")
    with binance(emu) as ex:
        o = ex.create_order(SYM, "market", "buy", 0.01, None, {"clientOrderId": "t-1"})
        assert o["status"] == "closed"
        for _ in range(2):
            assert ex.fetch_my_trades(SYM, since=T0) == []
        assert [t["order"] for t in ex.fetch_my_trades(SYM, since=T0)] == [o["id"]]
