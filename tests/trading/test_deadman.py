"""`ExchangeDeadman` over a venue with a server-side cancel-all-after (a real `PaperVenue` behind
the exchange's timer, on a clock the test moves): armed, re-armed when due (the refresh event
throttled), a stall past the timeout lets the exchange cancel and the engine's next refresh
journals the firing with what it took down; `choose_deadman` per the account's settings."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal

import pytest

from rara.domain.events import TradingDeadmanArmed, TradingDeadmanFired, TradingDeadmanRefreshed
from rara.domain.orders import Balance, OrderIntent, OrderRequest, VenueFill, VenueOrder
from rara.errors import BadInput, Refused
from rara.events import EventFilter, EventStore, open_event_store
from rara.home import Home
from rara.trading.deadman import ExchangeDeadman, WatchdogDeadman
from rara.trading.deadman_choice import choose_deadman
from rara.trading.journal import Deployment
from rara.trading.orders import OrderManager
from rara.trading.venue import CancelAfterVenue, VenueUnavailable
from rara.trading.venues.paper import PaperVenue
from rara.trading.watchdog import VenueSpec
from rara.trading_settings import AccountSettings

SYM = "BTC/USDT"
ACCOUNT = "acct"
DEP = Deployment(
    run_id="run1", strategy_id="s1", account=ACCOUNT, exchange="bybit", mode="testnet", symbol=SYM
)


class CancelAfter:
    """An exchange with a cancel-all-after timer: every call first lets a timer that ran out
    cancel the open orders, as the exchange would have at that moment."""

    def __init__(self, inner: PaperVenue) -> None:
        self.inner = inner
        self.now_ms = 0
        self.deadline_ms: int | None = None
        self.calls: list[int] = []
        self.down = False

    def _tick(self) -> None:
        if self.deadline_ms is not None and self.now_ms >= self.deadline_ms:
            for o in self.inner.open_orders():
                self.inner.cancel(o.client_order_id, o.symbol)
            self.deadline_ms = None

    @property
    def exchange(self) -> str:
        return "bybit"

    def cancel_all_after(self, timeout_ms: int) -> None:
        self._tick()
        if self.down:
            raise VenueUnavailable("timeout", "read timed out")
        self.calls.append(timeout_ms)
        self.deadline_ms = self.now_ms + timeout_ms if timeout_ms else None

    def submit(self, request: OrderRequest) -> VenueOrder:
        self._tick()
        return self.inner.submit(request)

    def cancel(self, client_order_id: str, symbol: str) -> VenueOrder:
        self._tick()
        return self.inner.cancel(client_order_id, symbol)

    def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrder | None:
        self._tick()
        return self.inner.fetch_order(client_order_id, symbol)

    def open_orders(self, symbol: str | None = None) -> Sequence[VenueOrder]:
        self._tick()
        return self.inner.open_orders(symbol)

    def my_trades(self, since_ms: int, symbol: str | None = None) -> Sequence[VenueFill]:
        self._tick()
        return self.inner.my_trades(since_ms, symbol)

    def balances(self) -> Mapping[str, Balance]:
        self._tick()
        return self.inner.balances()


@pytest.fixture
def store() -> Iterator[EventStore]:
    with open_event_store(Home.from_env().state_db) as s:
        yield s


@pytest.fixture
def paper() -> Iterator[PaperVenue]:
    with PaperVenue(
        Home.from_env().state_db, ACCOUNT, exchange="bybit", symbols=[SYM], fee=0.001,
        slippage=0.0, initial_balances={"USDT": Decimal(1000), "BTC": Decimal(1)},
    ) as v:  # fmt: skip
        yield v


def resting_stop(mgr: OrderManager) -> str:
    seq = mgr.next_seq()
    request = OrderRequest(
        client_order_id=mgr.client_order_id(seq), symbol=SYM, side="sell",
        order_type="stop_market", quantity=Decimal(1), trigger_price=Decimal(90), reduce_only=True,
    )  # fmt: skip
    order = mgr.submit(
        OrderIntent(
            seq=seq, strategy_id="s1", correlation_id="run1", reason="stop_loss",
            signal_bar_ms=0, mark_price=Decimal(100), request=request,
        )
    )  # fmt: skip
    assert order.state == "acknowledged"
    return order.client_order_id


def payloads(store: EventStore, kind: type) -> list:  # type: ignore[type-arg]
    return [e.typed() for e in store.query(EventFilter(types=[kind]))]


def test_the_exchange_switch_rearms_when_due_and_a_stall_lets_it_fire(
    store: EventStore, paper: PaperVenue
) -> None:
    venue = CancelAfter(paper)
    mgr = OrderManager(store, venue, DEP)
    mgr.restore()
    cid = resting_stop(mgr)
    switch = ExchangeDeadman(
        store, venue, account=ACCOUNT, timeout_ms=60_000, refresh_ms=15_000, managers=[mgr],
        log_every_ms=30_000,
    )  # fmt: skip
    switch.arm(0)
    (armed,) = payloads(store, TradingDeadmanArmed)
    assert (armed.method, armed.timeout_ms, armed.expires_ms) == ("exchange", 60_000, 60_000)
    for t in range(1_000, 120_001, 1_000):  # the loop runs every second for two minutes
        venue.now_ms = t
        switch.refresh(t)
    assert len(venue.calls) == 1 + 8  # armed, then re-armed every 15 s
    refreshed = payloads(store, TradingDeadmanRefreshed)
    assert [r.refreshes for r in refreshed] == [2, 2, 2, 2]  # logged every 30 s
    assert mgr.open_orders() and payloads(store, TradingDeadmanFired) == []
    # the loop stalls for three minutes: the exchange cancels at 180 s
    venue.now_ms = 300_000
    assert switch.refresh(300_000)
    (event,) = payloads(store, TradingDeadmanFired)
    assert (event.detected_by, event.expired_ms, event.canceled) == ("engine", 180_000, [cid])
    assert mgr.order(cid).state == "canceled"  # type: ignore[union-attr]
    assert switch.expires_ms == 360_000  # re-armed
    switch.disarm()
    assert venue.calls[-1] == 0 and venue.deadline_ms is None


def test_a_rearm_without_an_answer_lets_the_switch_run_down(
    store: EventStore, paper: PaperVenue
) -> None:
    venue = CancelAfter(paper)
    switch = ExchangeDeadman(store, venue, account=ACCOUNT, timeout_ms=60_000, refresh_ms=15_000)
    switch.arm(0)
    venue.down = True
    venue.now_ms = 20_000
    assert not switch.refresh(20_000)
    assert switch.last_error is not None and switch.expires_ms == 60_000
    with pytest.raises(BadInput):
        ExchangeDeadman(store, venue, account=ACCOUNT, timeout_ms=10_000, refresh_ms=10_000)


def test_choose_deadman_follows_the_account_settings(store: EventStore, paper: PaperVenue) -> None:
    home = Home.from_env()
    spec = VenueSpec(factory="rara.trading.watchdog:paper_venue", args={"account": ACCOUNT})
    exchange = CancelAfter(paper)
    assert isinstance(exchange, CancelAfterVenue) and not isinstance(paper, CancelAfterVenue)

    def choose(venue: object, **settings: object) -> object:
        return choose_deadman(
            AccountSettings(exchange="bybit", **settings),  # type: ignore[arg-type]
            venue,  # type: ignore[arg-type]
            store=store, home=home, account=ACCOUNT, symbols=[SYM], venue_spec=spec,
        )  # fmt: skip

    auto = choose(exchange)
    assert isinstance(auto, ExchangeDeadman) and auto.timeout_ms == 60_000
    assert isinstance(choose(paper), WatchdogDeadman)
    assert isinstance(choose(exchange, deadman="watchdog"), WatchdogDeadman)
    assert choose(paper, deadman="off") is None
    with pytest.raises(Refused) as no_switch:
        choose(paper, deadman="exchange")
    assert no_switch.value.code == "deadman_unsupported"
    with pytest.raises(Refused) as live_off:
        choose(paper, deadman="off", mode="live")
    assert live_off.value.code == "deadman_off_live"
