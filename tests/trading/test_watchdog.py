"""The watchdog process for real: a small engine-like subprocess (a paper account, a resting stop
order journaled through its `OrderManager`, a `WatchdogDeadman` refreshed from its loop) is
stopped with SIGSTOP, or killed; the watchdog cancels the order through its own venue
connection and journals the firing once; the engine, continued, finds the cancel; a disarm
ends the watchdog."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rara.domain.events import TradingDeadmanArmed, TradingDeadmanFired, TradingOrderUpdated
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.trading.venues.paper import PaperVenue
from rara.trading.watchdog import heartbeat_path, pid_alive
from tests.kit.patience import patience

ACCOUNT = "paper:wd"
SYM = "BTC/USDT"
TIMEOUT_MS = 3000  # well past any stall of a sleeping loop on a loaded box

ENGINE = """
import sys, time
from decimal import Decimal
from pathlib import Path
from rara.domain.orders import OrderIntent, OrderRequest
from rara.events import open_event_store
from rara.home import Home
from rara.trading.deadman import WatchdogDeadman
from rara.trading.journal import Deployment
from rara.trading.orders import OrderManager
from rara.trading.venues.paper import PaperVenue
from rara.trading.watchdog import VenueSpec

account, sym, timeout_ms, stop = sys.argv[1], "BTC/USDT", int(sys.argv[2]), Path(sys.argv[3])
home = Home.from_env()
store = open_event_store(home.state_db)
venue = PaperVenue(home.state_db, account, exchange="binance", symbols=[sym], fee=0.001,
                   slippage=0.0, initial_balances={"USDT": Decimal(1000), "BTC": Decimal(1)})
dep = Deployment(run_id="run1", strategy_id="s1", account=account, exchange="binance",
                 mode="paper", symbol=sym)
mgr = OrderManager(store, venue, dep)
mgr.restore()
seq = mgr.next_seq()
request = OrderRequest(client_order_id=mgr.client_order_id(seq), symbol=sym, side="sell",
                       order_type="stop_market", quantity=Decimal(1), trigger_price=Decimal(90),
                       reduce_only=True)
order = mgr.submit(OrderIntent(seq=seq, strategy_id="s1", correlation_id="run1",
                               reason="stop_loss", signal_bar_ms=0, mark_price=Decimal(100),
                               request=request))
spec = VenueSpec(factory="rara.trading.watchdog:paper_venue",
                 args={"account": account, "exchange": "binance", "symbols": [sym]})
switch = WatchdogDeadman(store, home, account=account, exchange="binance", venue_spec=spec,
                         symbols=[sym], timeout_ms=timeout_ms, refresh_ms=timeout_ms // 15,
                         managers=[mgr], poll_s=0.05)
now = lambda: int(time.time() * 1000)
switch.arm(now())
print(order.client_order_id, switch.process.pid, order.state, flush=True)
while not stop.exists():
    switch.refresh(now())
    time.sleep(0.02)
switch.disarm()
print(mgr.order(order.client_order_id).state, flush=True)
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[str], str, int]]]:
    started: list[subprocess.Popen[str]] = []
    stop = tmp_path / "stop"

    def start() -> tuple[subprocess.Popen[str], str, int]:
        proc = subprocess.Popen(
            [sys.executable, "-c", ENGINE, ACCOUNT, str(TIMEOUT_MS), str(stop)],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        assert proc.stdout is not None
        cid, watchdog_pid, state = proc.stdout.readline().split()
        assert state == "acknowledged"
        return proc, cid, int(watchdog_pid)

    yield start
    stop.touch()
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            try:
                proc.wait(timeout=patience(3))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def wait_for(what: str, check: Callable[[], bool], quiet_s: float) -> None:
    deadline = time.monotonic() + patience(quiet_s)
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def fired() -> list[TradingDeadmanFired]:
    with open_event_store(Home.from_env().state_db) as store:
        events = store.query(EventFilter(types=[TradingDeadmanFired]))
    return [e.typed() for e in events]  # type: ignore[misc]


def order_state(cid: str) -> str | None:
    db = Home.from_env().state_db
    with PaperVenue(db, ACCOUNT, exchange="binance", symbols=[SYM], fee=0, slippage=0) as v:
        found = v.fetch_order(cid, SYM)
    return None if found is None else found.state


def journaled_canceled(cid: str) -> bool:
    with open_event_store(Home.from_env().state_db) as store:
        updates = [e.typed() for e in store.query(EventFilter(types=[TradingOrderUpdated]))]
    return any(u.client_order_id == cid and u.status == "canceled" for u in updates)  # type: ignore[union-attr]


def test_a_stopped_engine_has_its_orders_canceled_by_the_watchdog(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc, cid, watchdog_pid = engine()
    assert pid_alive(watchdog_pid)
    assert fired() == []
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        wait_for("the watchdog to fire", lambda: fired() != [], 5)
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    (event,) = fired()
    assert (event.detected_by, event.method, event.canceled) == ("watchdog", "watchdog", [cid])
    assert order_state(cid) == "canceled"
    # continued, the engine notices on its next refresh and journals the cancel; the firing
    # stays written once
    wait_for("the engine to journal the cancel", lambda: journaled_canceled(cid), 3)
    assert len(fired()) == 1
    assert pid_alive(watchdog_pid)  # it keeps guarding the re-armed engine
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=patience(3)) == 0
    assert proc.stdout is not None and proc.stdout.readline().strip() == "canceled"
    assert not pid_alive(watchdog_pid)  # disarmed: it left
    assert not heartbeat_path(Home.from_env(), ACCOUNT).exists()
    with open_event_store(Home.from_env().state_db) as store:
        assert len(store.query(EventFilter(types=[TradingDeadmanArmed]))) == 1


def test_a_killed_engine_has_its_orders_canceled_and_the_watchdog_leaves(engine) -> None:  # type: ignore[no-untyped-def]
    proc, cid, watchdog_pid = engine()
    proc.kill()
    proc.wait()
    wait_for("the watchdog to fire", lambda: fired() != [], 5)
    (event,) = fired()
    assert (event.detected_by, event.canceled) == ("watchdog", [cid])
    assert order_state(cid) == "canceled"
    wait_for("the watchdog to leave", lambda: not pid_alive(watchdog_pid), 3)
