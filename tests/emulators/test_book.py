"""The emulator's order core on hand-written bars: market, limit, stop and take-profit fills at
the paper fill model's prices, balances and locks, client-id uniqueness, partial fills and the
real countdown timer."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.emulators.book import Bar, Book, EmuError, MarketSpec

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H
SPEC = MarketSpec(
    base="BTC",
    quote="USDT",
    amount_step=Decimal("0.001"),
    price_step=Decimal("0.01"),
    min_amount=Decimal("0.001"),
    min_notional=Decimal("5"),
    fee_rate=Decimal("0.001"),
)


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def make(bars: dict[int, Bar], now: int = T0) -> tuple[Book, Clock]:
    """A book over ``bars`` (bar index from T0 -> final OHLCV; the forming bar is served with
    its close moved by the share of the hour traded, as the emulator's candles are)."""
    clock = Clock(now)

    def price_at(symbol: str, bar_ms: int) -> Bar | None:
        assert symbol == "BTC/USDT"
        b = bars.get((bar_ms - T0) // H)
        if b is None:
            return None
        share = min(1.0, (clock.ms - bar_ms) / H)
        if share >= 1.0:
            return b
        c = round(b[0] + (b[3] - b[0]) * share, 2)
        return (b[0], max(b[0], c), min(b[0], c), c, b[4] * share)

    book = Book({"BTC/USDT": SPEC}, price_at, clock)
    book.fund("a", "USDT", Decimal("10000"))
    book.fund("a", "BTC", Decimal("1"))
    return book, clock


BARS: dict[int, Bar] = {
    0: (100.0, 110.0, 95.0, 105.0, 10.0),
    1: (105.0, 106.0, 90.0, 92.0, 10.0),
    2: (80.0, 85.0, 70.0, 84.0, 10.0),  # a gap down at the open
    3: (84.0, 130.0, 84.0, 120.0, 10.0),
}


def test_market_buy_fills_at_the_forming_bars_price_and_charges_fee_in_quote() -> None:
    book, clock = make(BARS)
    o = book.place("a", "BTC/USDT", "buy", "market", quantity=Decimal("2"), client_order_id="c1")
    assert (o.status, o.filled, o.filled_quote) == ("filled", Decimal("2"), Decimal("200.0"))
    (t,) = book.trades("a")
    assert (t.price, t.fee, t.fee_currency, t.time_ms) == (
        Decimal("100.0"),
        Decimal("0.2"),
        "USDT",
        T0,
    )
    assert book.balances("a") == {
        "USDT": (Decimal("9799.8"), Decimal(0)),
        "BTC": (Decimal("3"), Decimal(0)),
    }
    clock.ms = T0 + H // 2  # half way: the partial close
    book.place("a", "BTC/USDT", "sell", "market", quantity=Decimal("1"))
    assert book.trades("a")[-1].price == Decimal("102.5")


def test_cost_sized_buy_floors_the_quantity_to_the_step() -> None:
    book, _ = make(BARS)
    o = book.place("a", "BTC/USDT", "buy", "market", quote_quantity=Decimal("100.05"))
    assert (o.quantity, o.filled_quote) == (Decimal("1.000"), Decimal("100.000"))
    assert book.balances("a")["USDT"] == (Decimal("10000") - Decimal("100.1"), Decimal(0))


def test_refusals_name_the_rule() -> None:
    book, _ = make(BARS)

    def code(**kw: object) -> str:
        with pytest.raises(EmuError) as e:
            book.place("a", **kw)  # type: ignore[arg-type]
        return e.value.code

    assert code(symbol="X/Y", side="buy", kind="market", quantity=Decimal(1)) == "unknown_symbol"
    m = {"symbol": "BTC/USDT", "side": "buy", "kind": "market"}
    assert code(**m, quantity=Decimal("0.0015")) == "bad_precision"
    assert code(**m, quantity=Decimal("0.001")) == "below_min_notional"
    assert code(**m, quantity=Decimal("1000")) == "insufficient_balance"
    assert code(symbol="BTC/USDT", side="sell", kind="market", quantity=Decimal(2)) == (
        "insufficient_balance"
    )
    assert code(**{**m, "kind": "limit"}, quantity=Decimal(1), price=Decimal("1.001")) == (
        "bad_precision"
    )
    assert code(**{**m, "kind": "iceberg"}, quantity=Decimal(1)) == "unknown_order_type"
    assert book.orders("a") == []


def test_client_id_is_unique_among_open_orders_only() -> None:
    book, _ = make(BARS)
    kw = {"quantity": Decimal("1"), "price": Decimal("50.00"), "client_order_id": "dup"}
    first = book.place("a", "BTC/USDT", "buy", "limit", **kw)  # type: ignore[arg-type]
    with pytest.raises(EmuError) as e:
        book.place("a", "BTC/USDT", "buy", "limit", **kw)  # type: ignore[arg-type]
    assert e.value.code == "duplicate_client_id"
    book.cancel("a", "BTC/USDT", client_order_id="dup")
    again = book.place("a", "BTC/USDT", "buy", "limit", **kw)  # type: ignore[arg-type]
    assert book.get("a", client_order_id="dup") is again  # the newest
    assert book.get("a", order_id=first.order_id) is first
    assert book.count_by_client_id("a") == {"dup": 2}
    with pytest.raises(EmuError) as e:
        book.cancel("a", "BTC/USDT", order_id=first.order_id)  # already canceled
    assert e.value.code == "order_not_found"
    assert book.get("b", client_order_id="dup") is None  # accounts are apart


def test_limit_locks_and_fills_when_a_closed_bar_trades_through() -> None:
    book, clock = make(BARS)
    buy = book.place("a", "BTC/USDT", "buy", "limit", quantity=Decimal(1), price=Decimal("93"))
    assert book.balances("a")["USDT"] == (Decimal("9906.907"), Decimal("93.093"))
    clock.ms = T0 + H  # bar 0 closed: low 95, not reached
    assert book.get("a", order_id=buy.order_id).status == "new"  # type: ignore[union-attr]
    clock.ms = T0 + 2 * H  # bar 1 closed: low 90 -> at the limit
    assert buy.status == "new"  # nothing moves until someone looks
    book.advance()
    assert (buy.status, book.trades("a")[0].price) == ("filled", Decimal("93"))
    assert book.trades("a")[0].time_ms == T0 + 2 * H - 1
    assert book.trades("a")[0].maker
    assert book.balances("a")["USDT"] == (Decimal("10000") - Decimal("93.093"), Decimal(0))
    # a sell limit below the next open fills at the (better) open
    sell = book.place("a", "BTC/USDT", "sell", "limit", quantity=Decimal(1), price=Decimal("75"))
    clock.ms = T0 + 3 * H
    book.advance()
    assert (sell.status, book.trades("a")[-1].price) == ("filled", Decimal("80.0"))


@pytest.mark.parametrize(
    ("kind", "side", "trigger", "price", "bar_index"),
    [
        ("stop_market", "sell", "91", "91", 1),  # low 90 reaches it: at the trigger
        ("stop_market", "sell", "85", "80.0", 2),  # bar 2 opens at 80, below: the gap
        ("take_profit_market", "sell", "125", "125", 3),  # high 130: at the trigger
        ("stop_market", "buy", "115", "115", 3),  # a buy stop above: high 130
    ],
)
def test_triggers_fill_like_the_paper_fill_model(
    kind: str, side: str, trigger: str, price: str, bar_index: int
) -> None:
    book, clock = make(BARS)
    o = book.place(
        "a",
        "BTC/USDT",
        side,  # type: ignore[arg-type]
        kind,  # type: ignore[arg-type]
        quantity=Decimal("0.5"),
        trigger=Decimal(trigger),
    )
    locked = "BTC" if side == "sell" else "USDT"
    assert book.balances("a")[locked][1] > 0
    clock.ms = T0 + bar_index * H  # the bar before closed; this one is forming
    book.advance()
    assert o.status == "new"
    clock.ms = T0 + (bar_index + 1) * H
    book.advance()
    (t,) = book.trades("a")
    assert (o.status, t.price, t.time_ms) == ("filled", Decimal(price), clock.ms - 1)
    assert all(locked == 0 for _, locked in book.balances("a").values())


def test_partial_fill_fills_the_rest_at_the_next_open() -> None:
    book, clock = make(BARS)
    book.partial_fill = 0.4
    o = book.place("a", "BTC/USDT", "sell", "market", quantity=Decimal("1"))
    assert (o.status, o.filled) == ("partially_filled", Decimal("0.4"))
    assert book.open_orders("a") == [o]
    assert book.balances("a")["BTC"] == (Decimal(0), Decimal("0.6"))
    clock.ms = T0 + H + 5
    assert book.open_orders("a") == []
    assert [(t.price, t.quantity, t.time_ms) for t in book.trades("a")] == [
        (Decimal("100.0"), Decimal("0.4"), T0),
        (Decimal("105.0"), Decimal("0.6"), T0 + H),
    ]


def test_cancel_all_unlocks_and_stays_in_the_account() -> None:
    book, _ = make(BARS)
    book.fund("b", "USDT", Decimal("1000"))
    for who in ("a", "b"):
        book.place(who, "BTC/USDT", "buy", "limit", quantity=Decimal(1), price=Decimal("50"))
    done = book.cancel_all("a")
    assert [o.canceled_by for o in done] == ["user"]
    assert book.balances("a")["USDT"] == (Decimal("10000"), Decimal(0))
    assert len(book.open_orders("b")) == 1


def test_countdown_cancels_open_orders_on_a_real_timer() -> None:
    book, _ = make(BARS)
    o = book.place("a", "BTC/USDT", "buy", "limit", quantity=Decimal(1), price=Decimal("50"))
    assert book.cancel_after("a", 60_000) is not None
    assert book.cancel_after("a", 0) is None  # disarmed: the 60 s timer never fires
    assert book.cancel_after("a", 200) is not None
    deadline = threading.Event()
    for _ in range(200):  # up to 20 s on a loaded machine
        if book.countdown_fired:
            break
        deadline.wait(0.1)
    assert [(a, ids) for a, _, ids in book.countdown_fired] == [("a", [o.order_id])]
    assert (o.status, o.canceled_by) == ("canceled", "countdown")
    book.close()


def test_an_order_placed_inside_a_bar_is_judged_from_the_price_at_placement() -> None:
    book, clock = make(BARS)
    clock.ms = T0 + 3 * H + H // 2  # bar 3 half way: 84 -> 102 (its open was under 90)
    stop = book.place(
        "a", "BTC/USDT", "sell", "stop_market", quantity=Decimal(1), trigger=Decimal("90")
    )
    assert stop.placed_mark == Decimal("102.0")
    clock.ms = T0 + 4 * H
    book.advance()  # not at the open (84, before the order existed) but at the trigger
    (t,) = book.trades("a")
    assert (t.price, t.time_ms) == (Decimal("90"), T0 + 4 * H - 1)


ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["market", "limit", "stop_market", "take_profit_market", "cancel", "tick"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=1, max_value=400),  # quantity in thousandths
        st.integers(min_value=70, max_value=130),  # a limit or trigger price
    ),
    max_size=25,
)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(ACTIONS)
def test_balances_always_equal_the_trades_and_the_open_orders_locks(
    actions: list[tuple[str, str, int, int]],
) -> None:
    book, clock = make(BARS)
    book.partial_fill = 0.5
    for kind, side, qty, px in actions:
        if kind == "tick":
            clock.ms = min(clock.ms + H // 2, T0 + 4 * H)
            book.advance()
            continue
        if kind == "cancel":
            book.cancel_all("a")
            continue
        price = Decimal(px) if kind == "limit" else None
        trigger = Decimal(px) if kind not in ("market", "limit") else None
        try:
            book.place(
                "a",
                "BTC/USDT",
                side,  # type: ignore[arg-type]
                kind,  # type: ignore[arg-type]
                quantity=Decimal(qty) / 1000,
                price=price,
                trigger=trigger,
            )
        except EmuError as e:
            assert e.code in ("insufficient_balance", "below_min_notional", "market_closed")
    trades = book.trades("a")
    bought = sum((t.quantity for t in trades if t.side == "buy"), Decimal(0))
    sold = sum((t.quantity for t in trades if t.side == "sell"), Decimal(0))
    cash = sum((t.quote - t.fee for t in trades if t.side == "sell"), Decimal(0)) - sum(
        (t.quote + t.fee for t in trades if t.side == "buy"), Decimal(0)
    )
    bal = book.balances("a")
    assert bal["BTC"][0] + bal["BTC"][1] == 1 + bought - sold
    assert bal["USDT"][0] + bal["USDT"][1] == 10000 + cash
    assert all(free >= 0 and locked >= 0 for free, locked in bal.values())
    open_ = book.open_orders("a")
    assert bal["USDT"][1] == sum((o.locked for o in open_ if o.side == "buy"), Decimal(0))
    assert bal["BTC"][1] == sum((o.locked for o in open_ if o.side == "sell"), Decimal(0))
    for o in book.orders("a"):
        fills = [t for t in trades if t.order_id == o.order_id]
        assert o.filled == sum((t.quantity for t in fills), Decimal(0))
        assert o.status != "filled" or o.filled == o.quantity
