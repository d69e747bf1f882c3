"""`Reconciler` against a real `PaperVenue`, event log and ledger in the per-test home: a fill
the journal missed is journaled and booked once across passes; an order nobody journaled is
external, locks the account (a buy is denied ``locked``, a sell passes) and its fill is booked;
a venue that does not answer concludes nothing; opening balances are funded once; a ledger
that differs from the venue is reported and refused at start-up."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from rara.domain.events import (
    TradingAccountFunded,
    TradingExternalFill,
    TradingExternalOrder,
    TradingLockSet,
    TradingOrderFilled,
    TradingReconciled,
)
from rara.domain.orders import Balance, OrderIntent, OrderRequest, VenueFill, VenueOrder
from rara.errors import Refused
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.ledger import open_ledger, rebuild_from_events
from rara.trading.control import Control
from rara.trading.feed import ClosedBar
from rara.trading.journal import Deployment
from rara.trading.orders import OrderManager
from rara.trading.reconcile import Reconciler, acknowledge_external, startup_check
from rara.trading.risk import AccountView, Allow, Deny, FeedView, PositionView, judge
from rara.trading.venue import Venue, VenueUnavailable
from rara.trading.venues.paper import PaperVenue
from rara.trading_settings import RiskSettings

SYM = "BTC/USDT"
H = 3_600_000
ACCOUNT = "acct"
DEP = Deployment(
    run_id="run1", strategy_id="s1", account=ACCOUNT, exchange="binance", mode="testnet",
    symbol=SYM,
)  # fmt: skip


def bar(i: int, o: float = 100.0) -> ClosedBar:
    return ClosedBar(open_ms=i * H, open=o, high=o + 1, low=o - 1, close=o, volume=1e6)


class Parts:
    def __init__(self) -> None:
        db = Home.from_env().state_db
        self.store = open_event_store(db)
        self.ledger = open_ledger(db)
        self.venue = PaperVenue(
            db, ACCOUNT, exchange="binance", symbols=[SYM], fee=0.001, slippage=0.0005,
            initial_balances={"USDT": Decimal(10_000)},
        )  # fmt: skip
        self.now = 10 * H

    def reconciler(
        self, venue: Venue | None = None, managers: Sequence[OrderManager] = ()
    ) -> Reconciler:
        return Reconciler(
            self.store, self.ledger, venue or self.venue, account=ACCOUNT, exchange="binance",
            mode="testnet", symbols=[SYM], managers=managers, lookback_ms=24 * H,
            clock=lambda: self.now,
        )  # fmt: skip

    def close(self) -> None:
        for c in (self.venue, self.ledger, self.store):
            c.close()


@pytest.fixture
def parts() -> Iterator[Parts]:
    p = Parts()
    yield p
    p.close()


def buy(mgr: OrderManager, bar_ms: int = 0) -> OrderIntent:
    seq = mgr.next_seq()
    return OrderIntent(
        seq=seq, strategy_id="s1", correlation_id="run1", reason="entry", signal_bar_ms=bar_ms,
        mark_price=Decimal(100),
        request=OrderRequest(client_order_id=mgr.client_order_id(seq), symbol=SYM, side="buy",
                             order_type="market", cost=Decimal(1000)),
    )  # fmt: skip


def count(store: EventStore, kind: type) -> int:
    return len(store.query(EventFilter(types=[kind])))


def test_a_missed_fill_is_journaled_and_booked_once(parts: Parts) -> None:
    mgr = OrderManager(parts.store, parts.venue, DEP)
    mgr.restore()
    order = mgr.submit(buy(mgr))
    parts.venue.on_bar(bar(1))  # it fills; the engine dies before its sync journals the fill
    # a restarted process reconciles before its deployment is running again: no manager
    first = parts.reconciler().run("startup")
    assert first.ok, first
    assert (first.fills_booked, first.orders_resolved, first.external_fills) == (1, 1, [])
    assert first.funded == {"USDT": Decimal(10_000)}  # the opening, as before the fill
    fills = [e.typed() for e in parts.store.query(EventFilter(types=[TradingOrderFilled]))]
    assert [f.client_order_id for f in fills] == [order.client_order_id]  # type: ignore[union-attr]
    held = parts.ledger.balances(ACCOUNT)
    assert held == {c: b.total for c, b in parts.venue.balances().items() if b.total}
    # the deployment restarts: its manager sees the fill in the journal, a second pass books none
    again = OrderManager(parts.store, parts.venue, DEP)
    again.restore()
    assert again.sync() == []
    second = parts.reconciler(managers=[again]).run("periodic")
    assert second.ok and (second.fills_booked, second.funded) == (0, {})
    assert count(parts.store, TradingOrderFilled) == 1
    assert count(parts.store, TradingAccountFunded) == 1
    assert count(parts.store, TradingReconciled) == 2
    assert parts.ledger.verify(events=parts.store).ok


def test_a_running_managers_missed_fill_goes_through_it(parts: Parts) -> None:
    mgr = OrderManager(parts.store, parts.venue, DEP)
    mgr.restore()
    parts.reconciler(managers=[mgr]).run("startup")  # opening balances
    order = mgr.submit(buy(mgr))
    parts.venue.on_bar(bar(1))
    report = parts.reconciler(managers=[mgr]).run("reconnect")
    assert report.ok and report.fills_booked == 1, report
    assert mgr.order(order.client_order_id).state == "filled"  # type: ignore[union-attr]
    assert mgr.sync() == []  # the manager knows the fill: the engine books nothing twice


def account_view(held: Decimal) -> AccountView:
    return AccountView(
        now_ms=10 * H, name=ACCOUNT, quote_currency="USDT", cash=Decimal(9000),
        cash_free=Decimal(9000), positions={SYM: PositionView(quantity=held, mark=Decimal(100))},
        peak_equity=Decimal(10_000), feeds={SYM: FeedView(last_bar_ms=9 * H, interval_ms=H)},
    )  # fmt: skip


def gate(control: Control, side: str) -> Allow | Deny:
    qty = Decimal("0.5")
    intent = OrderIntent(
        seq=0, strategy_id="s1", correlation_id="run1", reason="entry" if side == "buy" else "exit",
        signal_bar_ms=9 * H, mark_price=Decimal(100),
        request=OrderRequest(client_order_id="rara-x", symbol=SYM, side=side, order_type="market",
                             quantity=qty),
    )  # fmt: skip
    control.refresh()
    return judge(control.snapshot(10 * H), account_view(Decimal(1)), intent, RiskSettings())


def test_an_order_rara_did_not_send_is_external_and_holds_the_account_reducing(
    parts: Parts, tmp_path: Path
) -> None:
    parts.reconciler().run("startup")
    someone = OrderRequest(
        client_order_id="manual-1", symbol=SYM, side="buy", order_type="market",
        quantity=Decimal("0.5"),
    )  # fmt: skip
    placed = parts.venue.submit(someone)
    control = Control(parts.store)
    assert isinstance(gate(control, "buy"), Allow)
    report = parts.reconciler().run("periodic")
    assert report.external_orders == [placed.venue_order_id] and report.ok
    (event,) = [e.typed() for e in parts.store.query(EventFilter(types=[TradingExternalOrder]))]
    assert isinstance(event, TradingExternalOrder)
    assert (event.client_order_id, event.side, event.lock_id) == (
        "manual-1", "buy", f"external:{ACCOUNT}:{placed.venue_order_id}",
    )  # fmt: skip
    denied = gate(control, "buy")
    assert isinstance(denied, Deny) and denied.code == "locked", denied
    assert isinstance(gate(control, "sell"), Allow)  # reducing passes
    # seen again: no second event, no second lock
    parts.reconciler().run("periodic")
    assert count(parts.store, TradingExternalOrder) == 1
    assert count(parts.store, TradingLockSet) == 1
    # a person acknowledges it; the next pass does not lock again
    assert acknowledge_external(parts.store, ACCOUNT, reason="mine", by="test") == [event.lock_id]
    parts.reconciler().run("periodic")
    assert isinstance(gate(control, "buy"), Allow)
    with pytest.raises(Refused):
        acknowledge_external(parts.store, ACCOUNT, reason="again", by="test")
    # it fills: an external fill, booked once, and the ledger equals the venue again
    (fill,) = parts.venue.on_bar(bar(1))
    after = parts.reconciler().run("periodic")
    assert after.ok and after.external_fills == [fill.fill_id] and after.fills_booked == 1
    assert parts.reconciler().run("periodic").fills_booked == 0
    assert count(parts.store, TradingExternalFill) == 1
    assert parts.ledger.position(ACCOUNT, SYM).quantity == fill.quantity
    assert parts.ledger.verify(events=parts.store).ok
    rebuilt_db = tmp_path / "rebuilt.db"
    assert rebuild_from_events(parts.store, rebuilt_db).booked == 2  # the opening, the fill
    with open_ledger(rebuilt_db) as rebuilt:
        assert rebuilt.balances(ACCOUNT) == parts.ledger.balances(ACCOUNT)


class Down:
    """The venue's network is gone for the queries named in `failing`."""

    def __init__(self, inner: PaperVenue, failing: set[str]) -> None:
        self.inner, self.failing = inner, failing

    def _check(self, what: str) -> None:
        if what in self.failing:
            raise VenueUnavailable("timeout", f"{what}: read timed out")

    @property
    def exchange(self) -> str:
        return self.inner.exchange

    def submit(self, request: OrderRequest) -> VenueOrder:
        self._check("submit")
        return self.inner.submit(request)

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder:
        self._check("cancel")
        return self.inner.cancel(client_order_id, symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        self._check("fetch_order")
        return self.inner.fetch_order(client_order_id, symbol)

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        self._check("open_orders")
        return self.inner.open_orders(symbol)

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        self._check("my_trades")
        return self.inner.my_trades(since_ms, symbol)

    def balances(self) -> Mapping[str, Balance]:
        self._check("balances")
        return self.inner.balances()


@pytest.mark.parametrize("failing", ["open_orders", "my_trades", "balances", "fetch_order"])
def test_a_query_without_an_answer_concludes_nothing(parts: Parts, failing: str) -> None:
    mgr = OrderManager(parts.store, parts.venue, DEP)
    mgr.restore()
    order = mgr.submit(buy(mgr))
    parts.venue.on_bar(bar(1))
    down = Down(parts.venue, {failing})
    stale = OrderManager(parts.store, down, DEP)  # its view: the order still open
    stale.restore()
    report = parts.reconciler(down, managers=[stale]).run("startup")
    assert not report.ok and report.error and "timed out" in report.error, report
    assert report.fills_booked == 0 and report.funded == {}
    assert parts.ledger.accounts() == []  # nothing booked, no opening invented
    assert count(parts.store, TradingOrderFilled) == 0
    assert stale.order(order.client_order_id).state == "acknowledged"  # type: ignore[union-attr]
    (logged,) = [e.typed() for e in parts.store.query(EventFilter(types=[TradingReconciled]))]
    assert isinstance(logged, TradingReconciled) and not logged.ok and logged.error
    with pytest.raises(Refused) as refused:
        startup_check(report)
    assert refused.value.code == "reconcile_failed"
    down.failing.clear()  # the network is back: everything lands, once
    back = parts.reconciler(down, managers=[stale]).run("startup")
    assert back.ok and back.fills_booked == 1, back
    assert stale.order(order.client_order_id).state == "filled"  # type: ignore[union-attr]


def test_opening_balances_once_then_a_difference_is_a_discrepancy(parts: Parts) -> None:
    first = parts.reconciler().run("startup")
    assert first.ok and first.funded == {"USDT": Decimal(10_000)}
    startup_check(first)
    assert parts.reconciler().run("startup").funded == {}
    assert count(parts.store, TradingAccountFunded) == 1
    assert parts.ledger.balances(ACCOUNT) == {"USDT": Decimal(10_000)}
    # a trade older than the lookback: the venue moved, the ledger cannot know
    parts.venue.submit(
        OrderRequest(client_order_id="manual-2", symbol=SYM, side="buy", order_type="market",
                     cost=Decimal(1000))
    )  # fmt: skip
    parts.venue.on_bar(bar(1))
    parts.now = 100 * H
    report = parts.reconciler().run("startup")
    assert not report.ok and report.error is None
    assert [d.split(":")[0] for d in report.discrepancies] == ["BTC", "USDT"], report
    with pytest.raises(Refused) as refused:
        startup_check(report)
    assert refused.value.code == "reconcile_discrepancy"
    assert "BTC: ledger 0" in refused.value.message


def test_an_outage_is_retried_with_backoff_then_reconciled_on_return(parts: Parts) -> None:
    """The live loop's upkeep while the venue does not answer: a reconciliation try after 1 s,
    2 s, 4 s ... (each journaled ok=false), not one per loop; when it answers again, one
    ``reconnect`` pass that is ok, then back to the periodic interval."""
    from rara.trading.live import LiveUpkeep

    down = Down(parts.venue, {"balances"})
    parts.reconciler().run("startup")  # funded, ok
    upkeep = LiveUpkeep(None, parts.reconciler(down), interval_ms=300_000, clock=lambda: parts.now)
    upkeep.next_reconcile_ms = parts.now
    before = count(parts.store, TradingReconciled)
    for _ in range(60):  # a minute of loop turns, one a second, without an answer
        upkeep()
        parts.now += 1_000
    tries = count(parts.store, TradingReconciled) - before
    assert 5 <= tries <= 7  # at 0, 1, 3, 7, 15, 31 s (and maybe 63): not 60
    assert upkeep.outages == 1 and upkeep.down_since_ms is not None
    assert upkeep.last_report is not None and upkeep.last_report.ok is False
    down.failing.clear()  # the network is back
    parts.now = upkeep.next_reconcile_ms
    upkeep()
    assert upkeep.last_report.trigger == "reconnect" and upkeep.last_report.ok
    assert upkeep.down_since_ms is None and upkeep.next_reconcile_ms == parts.now + 300_000
