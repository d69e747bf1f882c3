"""Property: whatever orders and bars a paper account sees (market, cost-sized, trigger and limit
orders, cancels, a volume cap, a half-spread), its balances are exactly its initial cash plus its
fills (what the ledger books), nothing it holds goes negative beyond the backtest's float dust,
and nothing stays reserved once no order is open."""

from __future__ import annotations

import itertools
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from rara.domain.orders import OrderRequest
from rara.home import Home
from rara.trading.feed import ClosedBar
from rara.trading.venue import VenueRejected
from rara.trading.venues.paper import PaperVenue
from rara.trading_settings import PaperSettings

SYM = "BTC/USDT"
H = 3_600_000
_ACCOUNTS = itertools.count()
DUST = Decimal("1e-9")

BARS = st.tuples(
    st.floats(90, 110), st.floats(0, 5), st.floats(0, 5), st.floats(-3, 3), st.floats(0, 50)
).map(lambda t: (t[0], t[0] + t[1], t[0] - t[2], t[0] + t[3], t[4]))
ORDERS = st.one_of(
    st.tuples(st.just("buy_cost"), st.integers(1, 4000)),
    st.tuples(st.just("buy_qty"), st.integers(1, 30)),
    st.tuples(st.just("sell"), st.integers(1, 10)),  # tenths of what is held
    st.tuples(st.just("stop"), st.integers(-8, 8)),  # trigger offset from 100
    st.tuples(st.just("target"), st.integers(-8, 8)),
    st.tuples(st.just("limit_buy"), st.integers(-8, 8)),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
)
OPS = st.lists(st.one_of(BARS.map(lambda b: ("bar", b)), ORDERS), min_size=1, max_size=30)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    ops=OPS,
    cap=st.sampled_from([None, 0.5]),
    spread=st.sampled_from([0.0, 0.002]),
)
def test_balances_are_the_initial_cash_plus_the_fills(
    ops: list[tuple[str, object]], cap: float | None, spread: float
) -> None:
    options = PaperSettings(volume_cap=cap, half_spread=spread, limit_orders=True)
    v = PaperVenue(
        Home.from_env().state_db, f"paper:p{next(_ACCOUNTS)}", exchange="binance",
        symbols=[SYM], fee=0.001, slippage=0.0005,
        initial_balances={"USDT": Decimal(5000)}, settings=options,
    )  # fmt: skip
    i = 0
    for n, (op, arg) in enumerate(ops):
        cid = f"o{n}"
        held = v.balances().get("BTC")
        base = held.total if held else Decimal(0)
        req: OrderRequest | None = None
        if op == "bar":
            o, h, lo, c, vol = arg  # type: ignore[misc]
            i += 1
            v.on_bar(ClosedBar(i * H, o, h, lo, min(max(c, lo), h), vol))
        elif op == "buy_cost":
            req = OrderRequest(client_order_id=cid, symbol=SYM, side="buy", order_type="market",
                               cost=Decimal(arg))  # type: ignore[arg-type]  # fmt: skip
        elif op == "buy_qty":
            req = OrderRequest(client_order_id=cid, symbol=SYM, side="buy", order_type="market",
                               quantity=Decimal(arg))  # type: ignore[arg-type]  # fmt: skip
        elif op == "limit_buy":
            req = OrderRequest(client_order_id=cid, symbol=SYM, side="buy", order_type="limit",
                               quantity=Decimal(1), limit_price=Decimal(100 + arg))  # type: ignore[operator]  # fmt: skip
        elif op in ("sell", "stop", "target") and base > 0:
            kind = {"sell": "market", "stop": "stop_market", "target": "take_profit_market"}[op]
            qty = base * arg / 10 if op == "sell" else base  # type: ignore[operator]
            req = OrderRequest(
                client_order_id=cid, symbol=SYM, side="sell", order_type=kind,  # type: ignore[arg-type]
                quantity=qty, reduce_only=op != "sell",
                trigger_price=None if op == "sell" else Decimal(100 + arg),  # type: ignore[operator]
            )  # fmt: skip
        elif op == "cancel" and v.orders():
            target = v.orders()[int(arg) % len(v.orders())]  # type: ignore[call-overload]
            v.cancel(target.client_order_id, SYM)
        if req is not None:
            try:
                v.submit(req)
            except VenueRejected as exc:
                assert exc.code == "insufficient_funds"
        bal = v.balances()
        for b in bal.values():
            assert b.free >= -DUST and b.used >= 0
    for o in v.open_orders():
        v.cancel(o.client_order_id, SYM)
    fills = v.my_trades(0)
    with localcontext(prec=200):
        usdt = Decimal(5000) + sum(
            (f.quantity * f.price * (1 if f.side == "sell" else -1) - f.fee for f in fills),
            Decimal(0),
        )
        btc = sum((f.quantity * (1 if f.side == "buy" else -1) for f in fills), Decimal(0))
    bal = v.balances()
    assert bal["USDT"].total == usdt and bal["USDT"].used == 0
    assert bal.get("BTC", None) is None or (bal["BTC"].total == btc and bal["BTC"].used == 0)
    assert btc >= 0
    for o in v.orders():
        with localcontext(prec=200):
            mine = sum(
                (f.quantity for f in fills if f.client_order_id == o.client_order_id), Decimal(0)
            )
        assert o.filled_quantity == mine
    v.close()
