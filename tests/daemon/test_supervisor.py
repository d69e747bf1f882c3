"""The supervisor with real threads and a real event log: one-for-one restarts with backoff and
the cap per window, a trading component halted (not restarted), stalls stopping the systemd
watchdog pings (counted on a real datagram socket), a clean stop, the fault hooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rara.daemon.faults import Faults
from rara.daemon.notify import Notifier
from rara.daemon.status import StatusWriter, read_status
from rara.daemon.supervisor import Supervisor
from rara.events import EventStore, open_event_store
from rara.home import Home
from tests.daemon.supervised import (
    FAST,
    FakeSystemd,
    Worker,
    changes,
    states,
    supervising,
    wait_until,
)

DAEMON = "daemon_test"


@pytest.fixture
def store(rara_home: Path) -> Iterator[EventStore]:
    with open_event_store(Home.from_env().state_db) as s:
        yield s


def test_crash_restarts_with_doubling_backoff_until_the_cap(store: EventStore) -> None:
    research = Worker("research", crash_on=lambda n: True)
    steady = Worker("sentinel", kind="sentinel")
    sup = Supervisor(store, DAEMON, FAST)
    with supervising(sup):
        sup.add(research)
        sup.add(steady)
        wait_until("research given up", lambda: "given_up" in states(store, "research"))
        # given up means down for good: the other component keeps running, one-for-one
        wait_until("sentinel beating on", lambda: steady.starts == 1 and sup.healthy())
        assert {c.name: c.state for c in sup.snapshot()} == {
            "research": "given_up",
            "sentinel": "running",
        }
    seen = changes(store, "research")
    assert [c.state for c in seen] == [
        *["running", "crashed", "restarting"] * 3,
        "running",
        "crashed",
        "given_up",
    ]
    assert [c.next_restart_s for c in seen if c.state == "restarting"] == [0.05, 0.1, 0.2]
    assert [c.restarts for c in seen if c.state == "restarting"] == [1, 2, 3]
    assert research.starts == 4  # the first start and restart_max restarts, no more
    crashed = [c.detail for c in seen if c.state == "crashed"]
    assert crashed[0].startswith("RuntimeError: boom on start 1")
    assert all("sk-abcdefghijkl" not in d and "Traceback" not in d for d in crashed)
    assert states(store, "sentinel") == ["running", "stopped"]  # the other was never touched


def test_backoff_is_capped_and_restarts_age_out_of_the_window(store: EventStore) -> None:
    settings = FAST.model_copy(
        update={"restart_backoff_max_s": 0.1, "restart_max": 10, "restart_window_s": 600.0}
    )
    w = Worker("feedback", kind="feedback", crash_on=lambda n: n <= 4)
    with supervising(Supervisor(store, DAEMON, settings)) as sup:
        sup.add(w)
        wait_until("the fifth start to run on", lambda: w.starts == 5)
    delays = [c.next_restart_s for c in changes(store, "feedback") if c.state == "restarting"]
    assert delays == [0.05, 0.1, 0.1, 0.1]


def test_a_crashed_trading_component_is_halted_not_restarted(store: EventStore) -> None:
    halts: list[tuple[str, BaseException | None]] = []
    engine = Worker("trading:s1:main", kind="trading", restart="halt", crash_on=lambda n: n == 1)
    with supervising(Supervisor(store, DAEMON, FAST, on_halt=lambda *a: halts.append(a))) as sup:
        sup.add(engine)
        wait_until("on_halt", lambda: bool(halts))
        assert states(store, "trading:s1:main") == ["running", "crashed", "halted"]
        name, exc = halts[0]
        assert name == "trading:s1:main" and isinstance(exc, RuntimeError)
        assert engine.starts == 1
        # after reconciliation the daemon adds it again: it runs
        sup.add(engine)
        wait_until("the second start", lambda: engine.starts == 2)
        with pytest.raises(ValueError, match="already running"):
            sup.add(engine)
    assert engine.starts == 2 and len(halts) == 1
    assert states(store, "trading:s1:main")[-2:] == ["running", "stopped"]


def test_a_finished_component_is_stopped_and_remove_never_restarts(store: EventStore) -> None:
    once = Worker("consumer:ledger", kind="consumer", finish_after=3)
    forever = Worker("sentinel", kind="sentinel")
    with supervising(Supervisor(store, DAEMON, FAST)) as sup:
        sup.add(once)
        sup.add(forever)
        wait_until("the finite one done", lambda: "stopped" in states(store, "consumer:ledger"))
        assert sup.remove("sentinel", timeout_s=10.0) is True
        assert forever.exits == 1 and "sentinel" not in sup.names()
        assert sup.remove("nothing-by-that-name") is True
    assert once.starts == 1 and forever.starts == 1
    assert states(store, "consumer:ledger") == ["running", "stopped"]
    assert states(store, "sentinel") == ["running", "stopped"]


def test_stop_joins_every_component_and_writes_status(store: EventStore) -> None:
    home = Home.from_env()
    workers = [Worker(n) for n in ("research", "sentinel", "feedback")]
    with StatusWriter(home.state_db, DAEMON) as status:
        status.started(1234, {"paper_only": True})
        with supervising(Supervisor(store, DAEMON, FAST, status=status)) as sup:
            for w in workers:
                sup.add(w)
            wait_until("status rows", lambda: len(read_status(home)["components"]) == 3)
        assert [w.exits for w in workers] == [1, 1, 1]  # run() returned only after all ended
        assert {c["state"] for c in read_status(home)["components"]} == {"stopped"}
    for w in workers:
        assert states(store, w.name) == ["running", "stopped"]


def test_a_stall_stops_the_watchdog_pings_until_it_ends(store: EventStore) -> None:
    settings = FAST.model_copy(update={"stall_after_s": 2.0})
    stuck = Worker("research")
    got: list[str] = []

    def pings(n: int) -> bool:
        got.extend(systemd.drain())
        return len(got) >= n

    with FakeSystemd() as systemd, Notifier(systemd.address, watchdog_usec=200_000) as notifier:
        sup = Supervisor(store, DAEMON, settings, notifier=notifier)
        with supervising(sup):
            sup.add(stuck)
            wait_until("pings while healthy", lambda: pings(3))
            assert set(got) == {"WATCHDOG=1"}

            stuck.hold.set()  # stops beating and blocks, ignoring its stopping event
            wait_until("stalled", lambda: pings(0) and "stalled" in states(store, "research"))
            assert not sup.healthy()
            systemd.drain()  # pings sent before the stall was seen
            seen = sup.ticks
            wait_until("40 ticks while stalled", lambda: sup.ticks >= seen + 40)
            assert systemd.drain() == []  # no ping while stalled

            stuck.release.set()  # it ends: restarted per its policy, pings come back
            wait_until("the restart", lambda: stuck.starts == 2)
            systemd.drain()
            wait_until("pings again", lambda: len(systemd.drain()) >= 1)
            assert sup.healthy()
    assert states(store, "research")[:4] == ["running", "stalled", "restarting", "running"]


def test_fault_hooks_stall_and_crash_real_components(store: EventStore) -> None:
    settings = FAST.model_copy(update={"stall_after_s": 2.0, "restart_max": 1})
    faults = Faults.parse("stall:sentinel, crash:research@3")
    research, sentinel = Worker("research"), Worker("sentinel", kind="sentinel")
    with supervising(Supervisor(store, DAEMON, settings, faults=faults)) as sup:
        sup.add(research)
        sup.add(sentinel)
        wait_until("the sentinel stalled", lambda: "stalled" in states(store, "sentinel"))
        wait_until("research restarted", lambda: research.starts == 2)
    crashed = [c for c in changes(store, "research") if c.state == "crashed"]
    assert len(crashed) == 1 and crashed[0].detail.startswith("FaultInjected: fault hook")
    assert states(store, "research")[:4] == ["running", "crashed", "restarting", "running"]


def test_fault_specs_parse_or_are_refused() -> None:
    f = Faults.from_env({"RARA_DAEMON_FAULTS": "stall:sentinel@4,crash:trading:s1:main@2"})
    assert f.stall == {"sentinel": 4} and f.crash == {"trading:s1:main": 2}
    assert not Faults.from_env({})
    for bad in ("crash:research", "explode:research", "stall:", "crash:x@two"):
        with pytest.raises(Exception, match="RARA_DAEMON_FAULTS") as info:
            Faults.parse(bad)
        assert getattr(info.value, "code", None) == "bad_daemon_fault"


def test_stop_leaves_a_stuck_component_behind_within_the_time_limit(store: EventStore) -> None:
    settings = FAST.model_copy(update={"stop_timeout_s": 0.2})
    stuck, fine = Worker("research"), Worker("sentinel", kind="sentinel")
    stuck.hold.set()  # blocks at once, ignoring its stopping event
    sup = Supervisor(store, DAEMON, settings)
    try:
        with supervising(sup):
            sup.add(stuck)
            sup.add(fine)
            wait_until("both started", lambda: stuck.starts == 1 and fine.starts == 1)
        assert fine.exits == 1 and stuck.exits == 0  # run() returned though one never ended
        [left] = [c for c in changes(store, "research") if c.state == "stopped"]
        assert "left behind" in left.detail
        with pytest.raises(ValueError, match="stopping"):
            sup.add(Worker("feedback", kind="feedback"))
    finally:
        stuck.release.set()
    wait_until("the stuck thread to end", lambda: stuck.exits == 1)
