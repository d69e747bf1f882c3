"""`PaperVenue`: fills by the backtest's rules, bit for bit, on hand-made bars; its options, each
recorded in the fill; refusals; and persistence (a new venue on the same DB sees the same
account, a bar processed twice does nothing)."""

from __future__ import annotations

from decimal import Decimal, localcontext
from pathlib import Path

import numpy as np
import pytest

from rara.backtest import BacktestConfig
from rara.domain.market import Candles
from rara.domain.orders import OrderRequest, VenueFill
from rara.home import Home
from rara.trading.feed import ClosedBar
from rara.trading.venue import Venue, VenueRejected
from rara.trading.venues.paper import PaperVenue
from rara.trading_settings import PaperSettings
from tests.backtest.helpers import sma_cross
from tests.backtest.reference import RefTrade, reference_backtest
from tests.kit.candles import shipped_btc

SYM = "BTC/USDT"
FEE, SLIP = 0.001, 0.0005
H = 3_600_000


def D(x: float) -> Decimal:
    return Decimal(repr(x))


def bar(i: int, o: float, h: float, lo: float, c: float, v: float = 1000.0) -> ClosedBar:
    return ClosedBar(open_ms=i * H, open=o, high=h, low=lo, close=c, volume=v)


def venue(
    account: str = "paper:t", settings: PaperSettings | None = None, cash: int = 10_000
) -> PaperVenue:
    return PaperVenue(
        Home.from_env().state_db,
        account,
        exchange="binance",
        symbols=[SYM],
        fee=FEE,
        slippage=SLIP,
        initial_balances={"USDT": Decimal(cash)},
        settings=settings,
    )


def buy(cid: str, cost: Decimal | None = None, qty: Decimal | None = None) -> OrderRequest:
    return OrderRequest(
        client_order_id=cid, symbol=SYM, side="buy", order_type="market", cost=cost, quantity=qty
    )


def sell(cid: str, qty: Decimal, kind: str = "market", trigger: Decimal | None = None,
         limit: Decimal | None = None) -> OrderRequest:  # fmt: skip
    return OrderRequest(
        client_order_id=cid,
        symbol=SYM,
        side="sell",
        order_type=kind,  # type: ignore[arg-type]
        quantity=qty,
        trigger_price=trigger,
        limit_price=limit,
        reduce_only=kind != "market" or trigger is not None,
    )


def test_is_a_venue() -> None:
    with venue() as v:
        assert isinstance(v, Venue)
        assert v.exchange == "binance"
        assert v.balances()["USDT"].free == Decimal(10_000)


def test_entry_at_next_open_sized_by_cost_then_exit() -> None:
    with venue() as v:
        v.on_bar(bar(0, 100.0, 101.0, 99.0, 100.5))
        acked = v.submit(buy("e1", cost=Decimal(10_000)))
        assert acked.state == "acknowledged"
        assert v.balances()["USDT"].used == Decimal(10_000)  # the cost is reserved
        (f,) = v.on_bar(bar(1, 102.0, 103.0, 101.0, 102.5))
        price = 102.0 * (1 + SLIP)
        size = 10_000.0 / (price * (1 + FEE))
        assert (f.price, f.quantity, f.fee) == (D(price), D(size), D(size * price * FEE))
        assert f.fee_currency == "USDT" and f.filled_ms == H
        assert f.detail == {"price_source": "open"}
        assert v.fetch_order("e1", SYM).state == "filled"  # type: ignore[union-attr]
        bal = v.balances()
        assert bal["BTC"].free == f.quantity
        with localcontext(prec=100):  # exact, as the venue books
            assert bal["USDT"].total == Decimal(10_000) - f.quantity * f.price - f.fee
        assert abs(bal["USDT"].total) < Decimal("1e-11")  # the backtest's float dust, no more
        v.submit(sell("x1", f.quantity))
        (g,) = v.on_bar(bar(2, 104.0, 104.0, 100.0, 101.0))
        exit_price = 104.0 * (1 - SLIP)
        assert (g.price, g.fee) == (D(exit_price), D(size * exit_price * FEE))
        assert v.balances()["BTC"].total == 0
        with localcontext(prec=100):
            cash = Decimal(10_000) - f.quantity * f.price - f.fee + g.quantity * g.price - g.fee
        assert v.balances()["USDT"].total == cash


def _run_engine(v: PaperVenue, c: Candles, entries: np.ndarray, exits: np.ndarray,
                sl: float | None, tp: float | None) -> list[RefTrade]:  # fmt: skip
    """A minimal engine over the venue: the backtest's rules 1-5 as orders, trades out."""
    cash = 10_000.0  # the backtest's float cash: the cost it commits
    trades: list[RefTrade] = []
    held: RefTrade | None = None
    base = Decimal(0)
    why: dict[str, str] = {}  # client order id -> the exit reason it stands for
    seq = 0

    def send(req: OrderRequest, reason: str) -> None:
        why[req.client_order_id] = reason
        v.submit(req)

    def apply(fills: list[VenueFill], i: int) -> None:
        nonlocal cash, held, base, seq
        for f in fills:
            p, q, fee = float(f.price), float(f.quantity), float(f.fee)
            if f.side == "buy":
                cash -= q * p + fee
                base += f.quantity
                held = RefTrade(i, p, q, fee, None, None)
                if sl is not None:
                    seq += 1
                    send(sell(f"t{seq}", base, "stop_market", D(p * (1 - sl))), "stop_loss")
                if tp is not None:
                    seq += 1
                    send(
                        sell(f"t{seq}", base, "take_profit_market", D(p * (1 + tp))), "take_profit"
                    )
            else:
                cash += q * p - fee
                base -= f.quantity
                assert held is not None
                held.exit_idx, held.exit_price, held.exit_fee = i, p, fee
                held.exit_reason = why[f.client_order_id]
                trades.append(held)
                held = None

    n = len(c)
    for i in range(n):
        ohlcv = (float(getattr(c, k)[i]) for k in ("open", "high", "low", "close", "volume"))
        apply(v.on_bar(ClosedBar(i * H, *ohlcv)), i)
        if i == n - 1:
            break
        go_long = bool(entries[i]) and not bool(exits[i])
        go_flat = bool(exits[i]) and not bool(entries[i])
        seq += 1
        if base > 0 and go_flat:
            send(sell(f"m{seq}", base), "signal")
        elif base == 0 and go_long:
            send(buy(f"m{seq}", cost=D(cash)), "entry")
    if base > 0:
        send(sell("end", base), "end")
        apply(v.on_feed_end(ClosedBar((n - 1) * H, 0, 0, 0, float(c.close[-1]), 0)), n - 1)
    return trades


def _walk(n: int, seed: int) -> Candles:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    ts = np.arange(n, dtype=np.int64) * H
    return Candles(ts, open_, high, low, close, np.full(n, 1e6))


@pytest.mark.parametrize(
    "seed,sl,tp", [(1, None, None), (2, 0.01, 0.02), (3, 0.015, None), (4, None, 0.01)]
)
def test_fills_equal_the_backtest_reference_loop(
    seed: int, sl: float | None, tp: float | None
) -> None:
    c = _walk(300, seed)
    rng = np.random.default_rng(seed + 100)
    entries, exits = rng.random(300) < 0.1, rng.random(300) < 0.08
    ref, _ = reference_backtest(c, entries, exits, BacktestConfig(fee=FEE, slippage=SLIP), sl, tp)
    with venue(f"paper:{seed}") as v:
        got = _run_engine(v, c, entries, exits, sl, tp)
    assert len(ref) > 5
    assert [(t.entry_idx, t.exit_idx, t.exit_reason) for t in got] == [
        (t.entry_idx, t.exit_idx, t.exit_reason) for t in ref
    ]
    for g, r in zip(got, ref, strict=True):  # float for float, not approximately
        assert (g.entry_price, g.size, g.entry_fee) == (r.entry_price, r.size, r.entry_fee)
        assert (g.exit_price, g.exit_fee) == (r.exit_price, r.exit_fee)
    if sl is not None:
        assert "stop_loss" in {t.exit_reason for t in ref}


def test_fills_equal_the_backtest_on_the_shipped_candles() -> None:
    c = shipped_btc("1h").slice(0, 3000)
    entries, exits = sma_cross(c.close, 10, 40)
    cfg = BacktestConfig(fee=FEE, slippage=SLIP)
    ref, _ = reference_backtest(c, entries, exits, cfg, 0.01, 0.03)
    with venue("paper:shipped") as v:
        got = _run_engine(v, c, entries, exits, 0.01, 0.03)
    assert len(ref) > 20 and {t.exit_reason for t in ref} >= {"stop_loss", "take_profit"}
    assert [(t.entry_idx, t.exit_idx, t.exit_reason) for t in got] == [
        (t.entry_idx, t.exit_idx, t.exit_reason) for t in ref
    ]
    for g, r in zip(got, ref, strict=True):
        assert (g.entry_price, g.size, g.entry_fee, g.exit_price, g.exit_fee) == (
            r.entry_price, r.size, r.entry_fee, r.exit_price, r.exit_fee,
        )  # fmt: skip


def _long(v: PaperVenue) -> Decimal:
    """Enter at bar 1's open (100 x (1 + slippage)); returns the base held."""
    v.on_bar(bar(0, 100.0, 100.0, 100.0, 100.0))
    v.submit(buy("entry", cost=Decimal(1000)))
    (f,) = v.on_bar(bar(1, 100.0, 100.5, 99.5, 100.0))
    return f.quantity


def _sl_tp(v: PaperVenue, qty: Decimal, sl: float = 98.0, tp: float = 103.0) -> None:
    v.submit(sell("sl", qty, "stop_market", trigger=D(sl)))
    v.submit(sell("tp", qty, "take_profit_market", trigger=D(tp)))


@pytest.mark.parametrize(
    "b,cid,raw,source",
    [
        (bar(2, 99.0, 99.5, 97.0, 98.5), "sl", 98.0, "trigger"),  # low reaches the stop
        (bar(2, 97.0, 99.0, 96.0, 98.5), "sl", 97.0, "open"),  # gap below the stop
        (bar(2, 101.0, 104.0, 100.5, 103.5), "tp", 103.0, "trigger"),
        (bar(2, 104.0, 105.0, 103.5, 104.5), "tp", 104.0, "open"),  # gap above the target
        (bar(2, 100.0, 104.0, 97.0, 100.0), "sl", 98.0, "trigger"),  # both inside: stop wins
    ],
)
def test_stops_fill_like_the_backtest_and_cancel_each_other(
    b: ClosedBar, cid: str, raw: float, source: str
) -> None:
    with venue() as v:
        qty = _long(v)
        _sl_tp(v, qty)
        (f,) = v.on_bar(b)
        price = raw * (1 - SLIP)
        assert (f.client_order_id, f.price, f.quantity) == (cid, D(price), qty)
        assert f.fee == D(float(qty) * price * FEE)
        assert f.detail == {"price_source": source}
        other = v.fetch_order("tp" if cid == "sl" else "sl", SYM)
        assert other is not None and other.state == "canceled"
        assert "one-cancels-other" in other.detail or "position is closed" in other.detail
        assert v.open_orders() == []


def test_stops_wait_inside_the_range_and_an_exit_signal_cancels_them() -> None:
    with venue() as v:
        qty = _long(v)
        _sl_tp(v, qty)
        assert v.on_bar(bar(2, 100.0, 102.0, 98.5, 101.0)) == []
        assert {o.client_order_id for o in v.open_orders()} == {"sl", "tp"}
        v.submit(sell("exit", qty))  # the exit at the open comes before the stop (rule 4)
        (f,) = v.on_bar(bar(3, 97.0, 99.0, 96.0, 98.0))
        assert (f.client_order_id, f.price) == ("exit", D(97.0 * (1 - SLIP)))
        assert v.open_orders() == []


def test_end_of_feed_fills_at_the_last_close() -> None:
    with venue() as v:
        qty = _long(v)
        _sl_tp(v, qty)
        last = bar(2, 100.0, 101.0, 99.0, 100.7)
        v.on_bar(last)
        v.submit(sell("end", qty))
        (f,) = v.on_feed_end(last)
        assert f.price == D(100.7 * (1 - SLIP)) and f.detail["price_source"] == "close"
        assert f.fee == D(float(qty) * 100.7 * (1 - SLIP) * FEE)
        assert v.open_orders() == []  # the stops went with the position
        assert v.fetch_order("sl", SYM).detail == "canceled: the position is closed"  # type: ignore[union-attr]


def test_half_spread_is_paid_both_ways_and_recorded() -> None:
    with venue(settings=PaperSettings(half_spread=0.001)) as v:
        qty = _long(v)
        (entry,) = v.my_trades(0)
        assert entry.price == D(100.0 * (1 + 0.001) * (1 + SLIP))
        assert entry.detail["half_spread"] == "0.001"
        v.submit(sell("x", qty))
        (f,) = v.on_bar(bar(2, 100.0, 100.0, 100.0, 100.0))
        assert f.price == D(100.0 * (1 - 0.001) * (1 - SLIP))
        assert f.detail["half_spread"] == "0.001"


def test_volume_cap_fills_part_and_carries_the_rest() -> None:
    with venue(settings=PaperSettings(volume_cap=0.1)) as v:
        v.on_bar(bar(0, 100.0, 100.0, 100.0, 100.0))
        v.submit(buy("b", qty=Decimal(15)))
        (f1,) = v.on_bar(bar(1, 100.0, 100.0, 100.0, 100.0, v=100.0))
        assert f1.quantity == Decimal(10) and f1.detail["capped"] == "true"
        assert Decimal(f1.detail["remaining"]) == 5 and f1.detail["volume_cap"] == "0.1"
        o = v.fetch_order("b", SYM)
        assert o is not None and o.state == "partially_filled" and o.filled_quantity == 10
        (f2,) = v.on_bar(bar(2, 101.0, 101.0, 101.0, 101.0, v=100.0))
        assert f2.quantity == Decimal(5) and "capped" not in f2.detail
        assert f2.price == D(101.0 * (1 + SLIP)) and f2.fill_id == "b-2"
        o = v.fetch_order("b", SYM)
        assert o is not None and o.state == "filled" and o.filled_quantity == 15
        assert v.balances()["BTC"].free == 15


def test_limit_orders_fill_only_when_traded_through() -> None:
    with pytest.raises(VenueRejected) as err, venue("paper:nolimit") as v:
        v.submit(OrderRequest(client_order_id="l", symbol=SYM, side="buy", order_type="limit",
                              quantity=Decimal(1), limit_price=Decimal(99)))  # fmt: skip
    assert err.value.code == "unsupported_order_type"
    with venue(settings=PaperSettings(limit_orders=True)) as v:
        req = OrderRequest(client_order_id="l", symbol=SYM, side="buy", order_type="limit",
                           quantity=Decimal(1), limit_price=Decimal(99))  # fmt: skip
        v.submit(req)
        assert v.balances()["USDT"].used == Decimal(99) * Decimal("1.001")
        assert v.on_bar(bar(0, 100.0, 101.0, 99.5, 100.0)) == []  # never as low as 99
        (f,) = v.on_bar(bar(1, 100.0, 100.0, 98.0, 99.0))
        assert f.price == Decimal(99) and f.fee == D(1.0 * 99.0 * FEE)
        assert f.detail["price_source"] == "limit" and "limit" in f.detail
        v.submit(req.model_copy(update={"client_order_id": "l2"}))
        (g,) = v.on_bar(bar(2, 97.0, 98.0, 96.0, 97.0))  # opens below the limit: at the open
        assert g.price == Decimal(97)
        v.submit(OrderRequest(client_order_id="s", symbol=SYM, side="sell", order_type="limit",
                              quantity=Decimal(2), limit_price=Decimal(105)))  # fmt: skip
        assert v.on_bar(bar(3, 100.0, 104.9, 99.0, 100.0)) == []
        (s,) = v.on_bar(bar(4, 104.0, 106.0, 103.0, 105.0))
        assert s.price == Decimal(105) and v.balances()["USDT"].used == 0


def test_refusals_have_codes() -> None:
    with venue(cash=100) as v:
        codes = []
        for req in (
            buy("a", cost=Decimal(101)),
            sell("b", Decimal(1)),
            OrderRequest(
                client_order_id="c",
                symbol="ETH/USDT",
                side="buy",
                order_type="market",
                cost=Decimal(1),
            ),
        ):
            with pytest.raises(VenueRejected) as err:
                v.submit(req)
            codes.append(err.value.code)
        with pytest.raises(VenueRejected) as err:
            v.cancel("nope", SYM)
        codes.append(err.value.code)
        assert codes == ["insufficient_funds", "insufficient_funds", "bad_symbol", "unknown_order"]
        assert v.fetch_order("a", SYM) is None and v.orders() == []
        v.submit(buy("ok", cost=Decimal(60)))
        with pytest.raises(VenueRejected):  # 60 of the 100 are reserved
            v.submit(buy("twice", cost=Decimal(60)))
        canceled = v.cancel("ok", SYM)
        assert canceled.state == "canceled" and v.balances()["USDT"].free == 100
        assert v.cancel("ok", SYM).state == "canceled"  # canceling twice changes nothing


def test_state_survives_a_new_venue_and_bars_are_processed_once(rara_home: Path) -> None:
    v = venue()
    qty = _long(v)
    _sl_tp(v, qty)
    same = v.submit(sell("sl", Decimal(1), "stop_market", trigger=Decimal(1)))  # known id
    assert same.trigger_price == D(98.0) and len(v.orders()) == 3
    before = (v.balances(), v.orders(), v.my_trades(0), v.last_bar_ms())
    v.close()
    with venue(cash=1) as again:  # initial balances apply only to a new account
        assert (again.balances(), again.orders(), again.my_trades(0), again.last_bar_ms()) == before
        crash = bar(1, 50.0, 50.0, 10.0, 50.0)  # bar 1 again (a restart): nothing happens
        assert again.on_bar(crash) == []
        assert again.orders() == before[1] and again.balances() == before[0]
        (f,) = again.on_bar(bar(2, 99.0, 99.0, 97.0, 98.0))
        assert f.client_order_id == "sl" and f.fill_id == "sl-1"
        assert again.my_trades(2 * H) == [f] and len(again.my_trades(0)) == 2


def test_a_fill_is_history() -> None:
    import sqlite3

    with venue() as v:
        _long(v)
    conn = sqlite3.connect(Home.from_env().state_db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE paper_fills SET fill = '{}'")
    conn.close()
