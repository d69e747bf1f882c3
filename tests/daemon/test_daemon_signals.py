"""Acceptance 3 on a real `rara run` process: SIGTERM stops it cleanly with the live strategy's
resting orders canceled or left under the armed dead man's switch (per ``daemon.stop_orders``), a
second signal exits at once, a second daemon on the home is refused, systemd hears ``READY=1``
only after reconciliation and ``WATCHDOG=1`` only while every component makes progress, and
SIGHUP reloads the config (a malformed one keeps the running settings).

The live strategy trades the Binance spot emulator's testnet account: always long, so the first
bar's entry fills and its stop-loss rests at the exchange when the stop comes. It is put at stage
live the way the lifecycle records it (a research candidate written under
``strategies/promoted/``, moved through paper and live candidate, confirmed for the account).

No assertion on wall time: each wait is a generous bound; the kernel's receive time of each
datagram (SO_TIMESTAMP) is compared with the events' times, which orders them, and only
that.
"""

from __future__ import annotations

import itertools
import json
import signal
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from rara.domain.events import ResearchStrategyCandidate
from rara.domain.strategy import source_sha256
from rara.events import Event, open_event_store
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.registry import Manifest, Registry
from rara.trading.watchdog import heartbeat_path, pid_alive, read_heartbeat
from tests.emulators.exchange import BinanceEmulator
from tests.kit.daemon_process import DaemonProcess, read_events
from tests.kit.live import (
    ACCOUNT,
    HOUR_MS,
    KEY,
    SECRET,
    START_MS,
    SYMBOL,
    configure_live_home,
    keys_env,
    marked_bars,
    verify_cli,
    wait_for,
)
from tests.kit.paper import ALWAYS_LONG

STOP_TIMEOUT_S = 10.0
STOP_BOUND_S = STOP_TIMEOUT_S * 3 + 30  # a generous bound on a clean stop, never asserted
STRATEGY_ID = "strat_always_long"
LEDGER_ACCOUNT = f"testnet:{ACCOUNT}"
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux's value; Python may not name it
STOP_TIMES: list[float] = []
# the sentinel is found stalled after 8 s without a beat (its idle beat is every 5 s) and is
# restarted 4 s after it stopped: the pings stop in between
SYSTEMD_DAEMON = {
    "stop_timeout_s": STOP_TIMEOUT_S,
    "stall_after_s": 8,
    "restart_backoff_s": 4,
}  # seconds from SIGTERM to exit, for the report (-s shows them)


def _toml(table: str, values: dict[str, Any]) -> str:
    return f"[{table}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())


def live_strategy(home: Path) -> None:
    """ALWAYS_LONG as research's paper candidate on the emulator's market, moved to stage live
    on the test account (what `rara strategy approve` records)."""
    manifest = Manifest(
        name="always_long", version="1.0.0", api_version=1, timeframe="1h", lookback=2,
        description="long whenever flat", params={}, sha256=source_sha256(ALWAYS_LONG),
        stage="paper_candidate", strategy_id=STRATEGY_ID, instrument=f"binance:{SYMBOL}:1h",
    )  # fmt: skip
    directory = Registry(Home(root=home)).add_promoted(manifest, ALWAYS_LONG)
    with open_event_store(home / "rara.db") as store:
        store.append(
            ResearchStrategyCandidate(
                experiment_id="run-t-0000", name="always_long",
                path=str(directory.relative_to(home)), stage="paper_candidate",
                trial_ids={"train": "tr_1", "validation": "tr_2", "holdout": "tr_3"},
            ),
            source="research", correlation_id="run-t", strategy_id=STRATEGY_ID,
        )  # fmt: skip
        lifecycle = Lifecycle(store)
        for to in ("paper", "live_candidate"):
            move(store, lifecycle, STRATEGY_ID, to, reason=f"to {to}", by="test")
        move(store, lifecycle, STRATEGY_ID, "live", reason="approved", by="test", account=ACCOUNT)


def live_daemon_home(home: Path, emu: BinanceEmulator, *, deadman_timeout_s: float = 30,
                     **daemon: Any) -> Path:  # fmt: skip
    """A home with the emulator's testnet account (rara's watchdog as its dead man's switch),
    the live strategy on it, and `daemon` in ``[daemon]``; no sentinel."""
    settings = {"stop_timeout_s": STOP_TIMEOUT_S, **daemon}
    extra = _toml("daemon", settings) + _toml("sentinel", {"enabled": False})
    configure_live_home(
        home, emu, deadman="watchdog", deadman_timeout_s=deadman_timeout_s, extra=extra
    )
    live_strategy(home)
    return home


def open_orders(emu: BinanceEmulator) -> list[str]:
    return sorted(o.client_order_id for o in emu.book.open_orders(KEY))


def enter_and_rest(emu: BinanceEmulator, home: Path) -> list[str]:
    """Move the exchange's clock a bar at a time until the entry filled and its stop-loss rests
    at the exchange; the client ids of the account's open orders then."""
    for _ in range(3):
        assert emu.now_ms is not None
        emu.now_ms += HOUR_MS
        closed = emu.now_ms - HOUR_MS
        wait_for(lambda c=closed: c in marked_bars(home), 120, why=f"the engine to mark {closed}")
        resting = [o for o in emu.book.open_orders(KEY) if o.kind == "stop_market"]
        if resting:
            return open_orders(emu)
    raise AssertionError("no stop-loss rests at the exchange after 3 bars")


def timed_stop(d: DaemonProcess, sig: int = signal.SIGTERM) -> int:
    t0 = time.monotonic()
    code = d.stop(sig, timeout_s=STOP_BOUND_S)
    STOP_TIMES.append(time.monotonic() - t0)
    print(f"stop took {STOP_TIMES[-1]:.2f}s (all: {[round(t, 2) for t in STOP_TIMES]})")
    return code


def the(d: DaemonProcess, type_: str) -> Event:
    (ev,) = d.events(type_)
    return ev


def last_states(d: DaemonProcess) -> dict[str, str]:
    """Each component's last state in this process's events."""
    return {
        e.payload["component"]: e.payload["state"] for e in d.events("daemon_component_changed")
    }


def test_sigterm_cancels_the_live_orders_stops_every_component_and_drains(
    rara_home: Path,
) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = live_daemon_home(rara_home, emu, stop_orders="cancel")
        with DaemonProcess(home, "--no-research", env=keys_env()) as d:
            ready = d.wait_ready()
            assert ready.payload["accounts_reconciled"] == [ACCOUNT]
            assert ready.payload["deadman_armed"] == [ACCOUNT]
            resting = enter_and_rest(emu, home)
            beat = read_heartbeat(heartbeat_path(Home(root=home), LEDGER_ACCOUNT))
            assert beat is not None and beat.watchdog_pid is not None
            assert timed_stop(d) == 0, d.output()[-3000:]
        assert open_orders(emu) == []  # canceled at the exchange, not left to anyone
        stopped = the(d, "daemon_stopped").payload
        assert stopped["reason"] == "sigterm" and stopped["exit_code"] == 0
        assert stopped["orders"] == "canceled"
        assert stopped["open_orders_canceled"] == len(resting) >= 1
        states = last_states(d)
        assert set(ready.payload["components"]) <= set(states)
        assert set(states.values()) == {"stopped"}, states
        # the switch was disarmed: its watchdog left, nothing fires later
        wait_for(lambda: not pid_alive(beat.watchdog_pid), 60, why="the watchdog to leave")
        assert d.events("trading_deadman_fired") == []
        verify_cli(home)  # the events verify and the ledger holds every fill: drained


def test_sigterm_leaves_the_orders_under_the_armed_switch_which_fires_after_its_timeout(
    rara_home: Path,
) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        # the switch's timeout is well past a clean stop, so the order is seen resting after it
        home = live_daemon_home(
            rara_home, emu, stop_orders="leave_under_deadman", deadman_timeout_s=20
        )
        with DaemonProcess(home, "--no-research", env=keys_env()) as d:
            d.wait_ready()
            resting = enter_and_rest(emu, home)
            assert timed_stop(d) == 0, d.output()[-3000:]
        assert open_orders(emu) == resting  # still at the exchange after the daemon left
        beat = read_heartbeat(heartbeat_path(Home(root=home), LEDGER_ACCOUNT))
        assert beat is not None and not beat.stopped and beat.watchdog_pid is not None
        assert pid_alive(beat.watchdog_pid)  # armed, its watchdog still watching
        stopped = the(d, "daemon_stopped")
        assert stopped.payload["orders"] == "left_under_deadman"
        assert stopped.payload["open_orders_canceled"] == 0
        # ... and it fires after its timeout: the watchdog cancels and says so
        fired = wait_for(
            lambda: [
                e
                for e in read_events(home, "trading_deadman_fired", stopped.seq)
                if e.payload["detected_by"] == "watchdog"
            ],
            120,
            why="the dead man's switch to fire after the daemon left",
        )
        assert sorted(fired[0].payload["canceled"]) == resting
        assert open_orders(emu) == []
        wait_for(lambda: not pid_alive(beat.watchdog_pid), 60, why="the watchdog to leave")
        verify_cli(home)


@contextmanager
def silent_feed() -> Iterator[tuple[str, list[socket.socket]]]:
    """An HTTP server on 127.0.0.1 that takes each request and never answers: a feed's URL,
    and the connections it holds."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    done = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/feed.xml", held
    finally:
        done.set()
        thread.join(10)
        for conn in held:
            conn.close()
        server.close()


def test_a_stuck_loop_stops_the_pings_a_second_daemon_is_refused_and_a_second_sigterm_exits(
    rara_home: Path,
) -> None:
    """The sentinel stuck in a GET that never answers (a loop that cannot honour its stop):
    stalled, the pings stop for good (systemd's WatchdogSec would kill the process); the stop
    waits for it, and a second SIGTERM exits at once."""
    systemd = NotifySocket()
    try:
        with silent_feed() as (url, held):
            rara_home.mkdir(parents=True, exist_ok=True)
            (rara_home / "config.toml").write_text(
                _toml("daemon", {"stop_timeout_s": 300, "stall_after_s": 8})
                + _toml("sentinel", {"feeds": [url], "request_timeout_s": 600})
            )
            env = {"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "1000000"}
            with DaemonProcess(rara_home, "--no-research", env=env) as first:
                first.wait_ready()
                wait_for(lambda: held, 60, why="the sentinel's GET")
                with DaemonProcess(rara_home, "--no-research") as second:
                    assert second.proc.wait(120) == 3, second.output()
                    error = json.loads(second.out_path.read_text())["error"]
                assert error["code"] == "daemon_running"
                assert str(first.proc.pid) in error["message"]
                assert first.alive  # the first keeps running

                stalled = first.wait_event(
                    "daemon_component_changed",
                    lambda e: (
                        e.payload["component"] == "sentinel" and e.payload["state"] == "stalled"
                    ),
                    timeout_s=120,
                )
                time.sleep(3.0)  # not a measurement: six ping intervals for a ping to slip in
                pings = systemd.times("WATCHDOG=1")
                assert len([t for t in pings if t < ts(stalled)]) >= 2  # pinging while healthy
                assert [t for t in pings if t > ts(stalled)] == []  # none since
                assert last_states(first)["sentinel"] == "stalled"  # its thread never ended

                first.proc.send_signal(signal.SIGTERM)
                time.sleep(1.0)  # not a measurement: let the slow stop begin
                assert first.alive, first.output()  # still stopping: the sentinel is stuck
                assert first.stop(signal.SIGTERM, timeout_s=120) == 143
    finally:
        systemd.close()
    assert first.events("daemon_stopped") == []  # exited at once, not through the clean stop
    assert len(read_events(rara_home, "daemon_started")) == 1  # the second never started


class NotifySocket:
    """A unix datagram socket standing in for systemd's NOTIFY_SOCKET (abstract namespace),
    read as it arrives by a thread of its own (the kernel queues only ~10 datagrams), with the
    kernel's receive time of each (SO_TIMESTAMP)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.address = f"@rara-test-{uuid.uuid4().hex}"
        self.sock.bind("\0" + self.address[1:])
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self.sock.settimeout(0.1)
        self._got: list[tuple[float, str]] = []  # (receive time in unix seconds, message)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._done.is_set():
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            at = time.time()
            for level, kind, raw in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                    sec, usec = struct.unpack("qq", raw[:16])
                    at = sec + usec / 1e6
            with self._lock:
                self._got.append((at, data.decode()))

    @property
    def got(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self._got)

    def times(self, message: str) -> list[float]:
        return [t for t, m in self.got if m.startswith(message)]

    def close(self) -> None:
        self._done.set()
        self._reader.join(10)
        self.sock.close()


def ts(e: Event) -> float:
    return datetime.fromisoformat(e.ts).timestamp()


def test_systemd_hears_ready_after_reconciliation_and_pings_only_while_healthy(
    rara_home: Path,
) -> None:
    systemd = NotifySocket()
    try:
        with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
            emu.fund(KEY, "USDT", "10000")
            home = configure_live_home(
                rara_home,
                emu,
                deadman="watchdog",
                extra=_toml("daemon", SYSTEMD_DAEMON),
            )
            live_strategy(home)
            env = {
                **keys_env(),
                "NOTIFY_SOCKET": systemd.address,
                "WATCHDOG_USEC": "1000000",  # pings every 0.5 s
                "RARA_DAEMON_FAULTS": "stall:sentinel",
            }
            with DaemonProcess(home, "--no-research", env=env) as d:
                ready = d.wait_ready()
                reconciled = d.wait_event("trading_reconciled")
                assert reconciled.seq < ready.seq  # ready comes after reconciliation
                wait_for(lambda: systemd.times("READY=1"), 60, why="READY=1")
                stalled = d.wait_event(
                    "daemon_component_changed",
                    lambda e: (
                        e.payload["component"] == "sentinel" and e.payload["state"] == "stalled"
                    ),
                    timeout_s=120,
                )
                restarting, again = (
                    d.wait_event(
                        "daemon_component_changed",
                        lambda e, state=state: (
                            e.payload["component"] == "sentinel"
                            and e.payload["state"] == state
                            and e.seq > stalled.seq
                        ),
                        timeout_s=120,
                    )
                    for state in ("restarting", "running")
                )
                # healthy again after the restart: pings resume
                wait_for(
                    lambda: [t for t in systemd.times("WATCHDOG=1") if t > ts(again)],
                    60,
                    why="pings after the restart",
                )
                assert timed_stop(d) == 0, d.output()[-3000:]
            assert emu.book.open_orders(KEY) == []
    finally:
        time.sleep(0.5)  # not a measurement: let the last datagram be read
        systemd.close()
        got = systemd.got
    messages = [m for _, m in got]
    (ready_at,) = [t for t, m in got if m.startswith("READY=1")]
    assert ready_at >= ts(ready)  # READY=1 only after daemon_ready was logged
    assert messages.index(next(m for m in messages if m.startswith("READY=1"))) == 0
    pings = [t for t, m in got if m == "WATCHDOG=1"]
    assert len([t for t in pings if t < ts(stalled)]) >= 2  # pinging while healthy
    # none while the sentinel was stalled: from the stalled event until its thread ended (the
    # supervisor stopped it; it waits to restart). A loop that ignores its stop stays stalled,
    # and the pings stay off until systemd's WatchdogSec kills the process.
    assert [t for t in pings if ts(stalled) < t < ts(restarting)] == []
    assert messages[-1] == "STOPPING=1"
    gaps = sorted(b - a for a, b in itertools.pairwise(pings))
    print(
        f"READY=1 {ready_at - ts(ready):.4f}s after daemon_ready; {len(pings)} pings, interval "
        f"min/median/max {gaps[0]:.3f}/{gaps[len(gaps) // 2]:.3f}/{gaps[-1]:.3f}s; "
        f"stalled for {ts(restarting) - ts(stalled):.3f}s, restarted after "
        f"{ts(again) - ts(stalled):.2f}s"
    )


def test_sighup_applies_a_valid_config_and_keeps_the_settings_on_a_malformed_one(
    rara_home: Path,
) -> None:
    config = rara_home / "config.toml"
    rara_home.mkdir(parents=True, exist_ok=True)
    config.write_text(_toml("sentinel", {"enabled": False}))
    with DaemonProcess(rara_home, "--no-research") as d:
        d.wait_ready()

        def reloaded(n: int) -> Event:
            got: list[Event] = wait_for(
                lambda: (lambda evs: evs if len(evs) >= n else None)(
                    d.events("daemon_config_reloaded")
                ),
                120,
                why=f"reload {n}",
            )
            return got[n - 1]

        changed = _toml("sentinel", {"enabled": False}) + _toml(
            "daemon", {"feedback_interval_s": 7, "status_interval_s": 1.5}
        )
        config.write_text(changed)
        d.proc.send_signal(signal.SIGHUP)
        first = reloaded(1).payload
        assert first["applied"] is True
        assert first["changed"] == ["daemon.feedback_interval_s", "daemon.status_interval_s"]

        config.write_text("[daemon\nstop_timeout_s = = 3\n")  # not TOML
        d.proc.send_signal(signal.SIGHUP)
        bad = reloaded(2).payload
        assert bad["applied"] is False and bad["changed"] == [] and bad["detail"]
        assert d.alive

        # the settings kept were the changed ones: the same file again changes nothing
        config.write_text(changed)
        d.proc.send_signal(signal.SIGHUP)
        same = reloaded(3).payload
        assert same["applied"] is True and same["changed"] == []
        assert timed_stop(d) == 0, d.output()[-3000:]


def test_sigterm_during_start_up_stops_cleanly_once_reconciled(rara_home: Path) -> None:
    """A stop asked for while the live account reconciles is kept, not the default's kill: the
    start-up finishes, then the clean stop (before, the process died by SIGTERM, with no
    ``daemon_stopped``)."""
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = live_daemon_home(rara_home, emu, stop_orders="cancel")
        with DaemonProcess(home, "--no-research", env=keys_env()) as d:
            d.wait_event("daemon_started", timeout_s=120)
            assert d.events("daemon_ready") == []  # still opening the live session
            assert timed_stop(d) == 0, d.output()[-3000:]
        (ready,) = d.events("daemon_ready")
        assert ready.payload["accounts_reconciled"] == [ACCOUNT]
        stopped = the(d, "daemon_stopped")
        assert stopped.payload["reason"] == "sigterm" and stopped.seq > ready.seq
        assert set(last_states(d).values()) == {"stopped"}
        verify_cli(home)
