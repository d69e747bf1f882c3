"""Property: whatever mix of bars, intents, lost answers, crashes between journal and send, and
restarts, no order reaches the venue twice, every fill is journaled exactly once, and the
manager ends up agreeing with the venue about every order."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from rara.domain.events import TradingOrderFilled, TradingOrderSubmitted
from rara.domain.orders import OrderIntent, OrderRequest
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.trading.feed import ClosedBar
from rara.trading.orders import Deployment, OrderManager
from rara.trading.venues.paper import PaperVenue
from tests.trading.test_orders import Flaky

SYM = "BTC/USDT"
H = 3_600_000
_RUNS = itertools.count()

Op = tuple[str, str]
OPS = st.lists(
    st.one_of(
        st.just(("bar", "")),
        st.just(("sync", "")),
        st.just(("restart", "")),
        st.tuples(st.just("intent"), st.sampled_from(["", "", "after", "before", "crash"])),
        st.just(("again", "")),  # re-derive an intent already decided (after a restart)
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=50, derandomize=True, deadline=None)
@given(ops=OPS)
def test_no_order_twice_no_fill_twice(ops: list[Op]) -> None:
    run = f"run{next(_RUNS)}"
    dep = Deployment(
        run_id=run, strategy_id="s1", account=f"paper:{run}", exchange="binance", mode="paper",
        symbol=SYM,
    )  # fmt: skip
    db = Home.from_env().state_db
    store = open_event_store(db)
    inner = PaperVenue(
        db, dep.account, exchange="binance", symbols=[SYM], fee=0.001, slippage=0.0005,
        initial_balances={"USDT": Decimal(100_000)},
    )  # fmt: skip
    first_ids: dict[int, str] = {}  # signal bar -> the client id its intent got

    def manager(drop: str = "") -> OrderManager:
        mgr = OrderManager(store, Flaky(inner, store, drop=drop), dep)
        mgr.restore()
        return mgr

    def make(mgr: OrderManager, bar_ms: int) -> OrderIntent:
        seq = mgr.next_seq()
        return OrderIntent(
            seq=seq, strategy_id="s1", correlation_id=run,
            request=OrderRequest(
                client_order_id=mgr.client_order_id(seq), symbol=SYM, side="buy",
                order_type="market", cost=Decimal(100),
            ),
            reason="entry", signal_bar_ms=bar_ms, mark_price=Decimal(100),
        )  # fmt: skip

    mgr = manager()
    i = 0
    for op, arg in ops:
        if op == "bar":
            i += 1
            inner.on_bar(ClosedBar(i * H, 100.0, 101.0, 99.0, 100.0, 1e6))
        elif op == "sync":
            mgr.sync()
        elif op == "restart":
            mgr = manager()
        elif op == "again" and first_ids:
            bar_ms = max(first_ids)
            assert mgr.submit(make(mgr, bar_ms)).client_order_id == first_ids[bar_ms]
        elif op == "intent" and i * H not in first_ids:
            mgr.venue.drop = arg  # type: ignore[attr-defined]
            it = make(mgr, i * H)
            first_ids[i * H] = it.request.client_order_id
            try:
                mgr.submit(it)
            except SystemExit:  # the process died between journal and send
                mgr = manager()
            mgr.venue.drop = ""  # type: ignore[attr-defined]
    mgr = manager()
    mgr.sync()
    journal = store.query(EventFilter(correlation_id=run))
    submitted = [e.typed() for e in journal if isinstance(e.typed(), TradingOrderSubmitted)]
    fills = [e.typed() for e in journal if isinstance(e.typed(), TradingOrderFilled)]
    at_venue = inner.orders()
    assert sorted(o.client_order_id for o in at_venue) == sorted(
        p.client_order_id  # type: ignore[union-attr]
        for p in submitted
    )
    assert len(set(first_ids.values())) == len(submitted)
    assert sorted(f.fill_id for f in fills) == sorted(  # type: ignore[union-attr]
        f.fill_id for f in inner.my_trades(0)
    )
    assert {o.client_order_id: o.state for o in mgr.orders()} == {
        o.client_order_id: o.state for o in at_venue
    }
    inner.close()
    store.close()
