"""`OrderManager` over a real `PaperVenue` and a real event log: journal before send, unknown
outcomes resolved by lookup (never a second order), idempotence across restarts, each fill
journaled once, the risk gate's denials, and the state machine's refusals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rara.domain.events import (
    TradingOrderFilled,
    TradingOrderRejected,
    TradingOrderSubmitted,
    TradingOrderUpdated,
)
from rara.domain.orders import (
    Balance,
    IllegalTransition,
    OrderIntent,
    OrderRequest,
    VenueFill,
    VenueOrder,
    advance,
)
from rara.errors import BadInput
from rara.events import Event, EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.trading.feed import ClosedBar
from rara.trading.orders import Deployment, OrderManager
from rara.trading.venue import VenueUnavailable
from rara.trading.venues.paper import PaperVenue

SYM = "BTC/USDT"
H = 3_600_000
DEP = Deployment(
    run_id="run1", strategy_id="s1", account="paper:run1", exchange="binance", mode="paper",
    symbol=SYM,
)  # fmt: skip


def bar(i: int, o: float = 100.0) -> ClosedBar:
    return ClosedBar(open_ms=i * H, open=o, high=o + 1, low=o - 1, close=o, volume=1e6)


def paper(db: Path | None = None) -> PaperVenue:
    return PaperVenue(
        db or Home.from_env().state_db,
        DEP.account,
        exchange="binance",
        symbols=[SYM],
        fee=0.001,
        slippage=0.0005,
        initial_balances={"USDT": Decimal(10_000)},
    )


class Flaky:
    """A venue whose network fails: ``drop="before"`` loses a submit before the venue gets it,
    ``"after"`` loses the answer of a submit the venue accepted, ``"crash"`` dies in between
    journaling and sending (the process is gone before the request leaves). Everything else
    goes to the real venue. ``seen_journal`` records, for each submit that reached it, whether
    its ``trading_order_submitted`` event was already in the log."""

    def __init__(self, inner: PaperVenue, journal: EventStore, drop: str = "") -> None:
        self.inner, self.journal, self.drop = inner, journal, drop
        self.seen_journal: list[bool] = []

    @property
    def exchange(self) -> str:
        return self.inner.exchange

    def submit(self, request: OrderRequest) -> VenueOrder:
        if self.drop == "crash":
            raise SystemExit("killed between journal and send")
        if self.drop == "before":
            raise VenueUnavailable("timeout", "connect timed out")
        self.seen_journal.append(self.journal.has_event(f"{request.client_order_id}:submitted"))
        order = self.inner.submit(request)
        if self.drop == "after":
            raise VenueUnavailable("timeout", "read timed out")
        return order

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder:
        return self.inner.cancel(client_order_id, symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        return self.inner.fetch_order(client_order_id, symbol)

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        return self.inner.open_orders(symbol)

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        return self.inner.my_trades(since_ms, symbol)

    def balances(self) -> Mapping[str, Balance]:
        return self.inner.balances()


def intent(mgr: OrderManager, bar_ms: int | None = 0, reason: str = "entry",
           cost: str = "1000", seq: int | None = None) -> OrderIntent:  # fmt: skip
    seq = mgr.next_seq() if seq is None else seq
    return OrderIntent(
        seq=seq,
        strategy_id=DEP.strategy_id,
        correlation_id=DEP.run_id,
        request=OrderRequest(
            client_order_id=mgr.client_order_id(seq),
            symbol=SYM,
            side="buy",
            order_type="market",
            cost=Decimal(cost),
        ),
        reason=reason,  # type: ignore[arg-type]
        signal_bar_ms=bar_ms,
        mark_price=Decimal(100),
    )


def events(store: EventStore) -> list[Event]:
    return store.query(EventFilter(correlation_id=DEP.run_id, strategy_id=DEP.strategy_id))


def types(store: EventStore) -> list[str]:
    return [e.type for e in events(store)]


def test_journal_before_send_and_the_envelope() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        venue = Flaky(inner, store)
        mgr = OrderManager(store, venue, DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        assert venue.seen_journal == [True]  # the venue heard of it only once journaled
        assert order.state == "acknowledged" and order.client_order_id.startswith("rara")
        sub, upd = events(store)
        assert isinstance(sub.typed(), TradingOrderSubmitted) and sub.seq < upd.seq
        assert upd.typed().status == "acknowledged"  # type: ignore[union-attr]
        assert {(e.strategy_id, e.correlation_id, e.source) for e in (sub, upd)} == {
            ("s1", "run1", "trading")
        }
        assert sub.event_id == f"{order.client_order_id}:submitted"
        payload = sub.typed()
        assert isinstance(payload, TradingOrderSubmitted)
        assert (payload.strategy_id, payload.intent_seq, payload.cost) == ("s1", 0, Decimal(1000))


def test_lost_answer_leaves_unknown_then_restore_resolves_it_without_resending() -> None:
    db = Home.from_env().state_db
    with open_event_store(db) as store, paper() as inner:
        mgr = OrderManager(store, Flaky(inner, store, drop="after"), DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        assert order.state == "unknown"
        assert types(store) == ["trading_order_submitted", "trading_order_updated"]
        assert len(inner.orders()) == 1  # the venue did take it
        again = OrderManager(store, Flaky(inner, store), DEP)
        again.restore()
        assert again.order(order.client_order_id).state == "acknowledged"  # type: ignore[union-attr]
        assert len(inner.orders()) == 1  # looked up, not sent twice
        inner.on_bar(bar(1))
        (fill,) = again.sync()
        assert fill.client_order_id == order.client_order_id and fill.reason == "entry"
        assert again.order(order.client_order_id).state == "filled"  # type: ignore[union-attr]


@pytest.mark.parametrize("drop", ["before", "crash"])
def test_an_order_the_venue_never_got_is_sent_once_with_the_same_id(drop: str) -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, Flaky(inner, store, drop=drop), DEP)
        mgr.restore()
        first = intent(mgr)
        if drop == "crash":
            with pytest.raises(SystemExit):
                mgr.submit(first)
        else:
            assert mgr.submit(first).state == "unknown"
        assert inner.orders() == []
        again = OrderManager(store, Flaky(inner, store), DEP)
        again.restore()  # journaled but not at the venue: sent now, with the same client id
        (sent,) = inner.orders()
        assert sent.client_order_id == first.request.client_order_id
        rederived = intent(again)  # the engine redoes the bar after the restart
        assert rederived.seq == 1
        assert again.submit(rederived).client_order_id == sent.client_order_id
        assert len(inner.orders()) == 1
        assert again.next_seq() == 1  # the number the duplicate took is handed out again
        assert types(store).count("trading_order_submitted") == 1


def test_restart_resubmit_is_idempotent_and_keeps_the_sequence() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        a = mgr.submit(intent(mgr, bar_ms=0))
        b = mgr.submit(intent(mgr, bar_ms=H, reason="exit"))
        n_events = len(events(store))
        again = OrderManager(store, inner, DEP)
        again.restore()
        assert [o.client_order_id for o in again.orders()] == [a.client_order_id, b.client_order_id]
        assert again.submit(intent(again, bar_ms=0)) == a
        assert again.submit(intent(again, bar_ms=H, reason="exit")) == b
        assert len(events(store)) == n_events and len(inner.orders()) == 2
        c = again.submit(intent(again, bar_ms=2 * H))
        assert c.seq == 2  # as an uninterrupted run would number it
        with pytest.raises(BadInput) as err:  # a taken number with another intent
            again.submit(intent(again, bar_ms=3 * H, seq=1))
        assert err.value.code == "intent_seq_taken"


def test_a_fill_is_journaled_once_across_syncs_and_restarts() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        assert mgr.sync() == []
        inner.on_bar(bar(1, 102.0))
        (fill,) = mgr.sync()
        (vf,) = inner.my_trades(0)
        assert (fill.fill_id, fill.price, fill.quantity, fill.fee) == (
            vf.fill_id, vf.price, vf.quantity, vf.fee,
        )  # fmt: skip
        assert fill.cumulative_quantity == vf.quantity and fill.account == DEP.account
        assert mgr.sync() == []
        again = OrderManager(store, inner, DEP)
        again.restore()
        assert again.sync() == []
        assert again.order(order.client_order_id).filled_quantity == vf.quantity  # type: ignore[union-attr]
        filled = [e for e in events(store) if isinstance(e.typed(), TradingOrderFilled)]
        assert len(filled) == 1
        assert filled[0].event_id == f"{order.client_order_id}:fill:{vf.fill_id}"
        statuses = [
            e.typed().status  # type: ignore[union-attr]
            for e in events(store)
            if isinstance(e.typed(), TradingOrderUpdated)
        ]
        assert statuses == ["acknowledged", "filled"]


def test_gate_denial_is_journaled_and_remembered() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        denied = mgr.reject(intent(mgr), "max_position", "too big", {"value": "5", "limit": "1"})
        assert denied.state == "rejected" and inner.orders() == []
        (ev,) = events(store)
        p = ev.typed()
        assert isinstance(p, TradingOrderRejected) and p.rejected_by == "risk_gate"
        assert (p.reason_code, p.context["value"], p.context["limit"]) == ("max_position", "5", "1")
        again = OrderManager(store, inner, DEP)
        again.restore()
        assert again.order(denied.client_order_id) == denied
        assert again.submit(intent(again)) == denied  # decided already: nothing is sent
        assert again.reject(intent(again), "x", "y", {}) == denied
        assert len(events(store)) == 1 and inner.orders() == []
        assert again.next_seq() == 1


def test_venue_refusal_and_cancels() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        refused = mgr.submit(intent(mgr, cost="20000"))
        assert (refused.state, refused.reject_code) == ("rejected", "insufficient_funds")
        p = events(store)[-1].typed()
        assert isinstance(p, TradingOrderRejected) and p.rejected_by == "venue"
        a = mgr.submit(intent(mgr, bar_ms=H))
        b = mgr.submit(intent(mgr, bar_ms=2 * H))
        assert mgr.cancel(a.client_order_id).state == "canceled"
        assert [o.client_order_id for o in mgr.cancel_all()] == [b.client_order_id]
        assert mgr.open_orders() == [] and inner.open_orders() == []
        assert mgr.cancel(a.client_order_id).state == "canceled"  # already: unchanged
        with pytest.raises(BadInput):
            mgr.cancel("nope")


def test_cancel_of_an_order_the_venue_never_got() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, Flaky(inner, store, drop="before"), DEP)
        mgr.restore()
        lost = mgr.submit(intent(mgr))
        assert lost.state == "unknown"
        gone = mgr.cancel(lost.client_order_id)
        assert gone.state == "canceled" and "never received" in gone.detail


class Lying(Flaky):
    """Reports every open order as never sent: a move the state machine does not have."""

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        return [o.model_copy(update={"state": "intent"}) for o in self.inner.open_orders(symbol)]


def test_illegal_transitions_are_refused() -> None:
    with pytest.raises(IllegalTransition):
        advance("filled", "canceled")
    with pytest.raises(IllegalTransition):
        advance("intent", "filled")
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, Lying(inner, store), DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        head = store.last_seq()
        with pytest.raises(IllegalTransition):
            mgr.sync()
        assert store.last_seq() == head  # all or nothing: nothing journaled
        assert mgr.order(order.client_order_id) == order


def _replay(tmp: Path) -> list[tuple[str, str]]:
    """A short session on a fresh database with a fixed clock."""
    clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)  # noqa: E731
    db = tmp / "rara.db"
    with EventStore(db, clock=clock) as store, paper(db) as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        mgr.submit(intent(mgr))
        inner.on_bar(bar(1))
        mgr.sync()
        mgr.reject(intent(mgr, bar_ms=H), "stale_data", "no bars", {})
        return [(e.event_id, e.hash) for e in events(store)]


def test_same_inputs_give_the_same_chain(tmp_path: Path) -> None:
    first = _replay(tmp_path / "a")
    assert len(first) == 5
    assert _replay(tmp_path / "b") == first


def test_partial_fills_move_the_order_through_partially_filled() -> None:
    from rara.trading_settings import PaperSettings

    db = Home.from_env().state_db
    inner = PaperVenue(
        db, DEP.account, exchange="binance", symbols=[SYM], fee=0.001, slippage=0.0,
        initial_balances={"USDT": Decimal(10_000)}, settings=PaperSettings(volume_cap=0.5),
    )  # fmt: skip
    with open_event_store(db) as store, inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        req = intent(mgr).request.model_copy(update={"cost": None, "quantity": Decimal(15)})
        order = mgr.submit(intent(mgr, seq=0).model_copy(update={"request": req}))
        inner.on_bar(ClosedBar(H, 100.0, 100.0, 100.0, 100.0, volume=20.0))
        (f1,) = mgr.sync()
        assert f1.quantity == 10 and f1.cumulative_quantity == 10 and f1.detail["capped"] == "true"
        assert mgr.order(order.client_order_id).state == "partially_filled"  # type: ignore[union-attr]
        inner.on_bar(ClosedBar(2 * H, 100.0, 100.0, 100.0, 100.0, volume=20.0))
        (f2,) = mgr.sync()
        assert f2.quantity == 5 and f2.cumulative_quantity == 15
        assert mgr.order(order.client_order_id).state == "filled"  # type: ignore[union-attr]
        statuses = [
            e.typed().status  # type: ignore[union-attr]
            for e in events(store)
            if isinstance(e.typed(), TradingOrderUpdated)
        ]
        assert statuses == ["acknowledged", "partially_filled", "filled"]


def test_a_cancel_from_another_process_is_seen_by_sync() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, inner, DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        with paper() as other:  # `rara kill`, elsewhere, on the same account
            other.cancel(order.client_order_id, SYM)
        assert inner.on_bar(bar(1)) == []
        assert mgr.sync() == []
        gone = mgr.order(order.client_order_id)
        assert gone is not None and gone.state == "canceled" and mgr.open_orders() == []
        assert inner.balances()["USDT"].free == 10_000


class Instant(Flaky):
    """Fills a market order as it is sent, like a live exchange's answer to a market order."""

    def submit(self, request: OrderRequest) -> VenueOrder:
        self.inner.submit(request)
        self.inner.on_bar(bar(1))
        order = self.inner.fetch_order(request.client_order_id, request.symbol)
        assert order is not None
        return order


def test_fills_of_an_order_answered_filled_still_reach_the_journal() -> None:
    with open_event_store(Home.from_env().state_db) as store, paper() as inner:
        mgr = OrderManager(store, Instant(inner, store), DEP)
        mgr.restore()
        order = mgr.submit(intent(mgr))
        assert order.state == "filled" and mgr.open_orders() == []
        (fill,) = mgr.sync()
        assert fill.client_order_id == order.client_order_id
        assert mgr.sync() == []
