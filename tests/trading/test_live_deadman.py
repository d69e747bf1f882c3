"""Acceptance 3, the dead man's switch, end to end with `rara trade run`: the run is stopped
(SIGSTOP) past the switch's timeout while its stop-loss rests at the exchange.

- Bybit (a server-side switch, its disconnected-cancel-all): the emulator's own countdown
  cancels the orders; woken (SIGCONT), the run journals the firing (``detected_by="engine"``),
  re-arms, places the position's stop-loss again, and carries on; started again, it places
  nothing twice.
- Bybit with ``deadman = "auto"``: the watchdog runs beside the exchange's switch.
- Binance spot (no switch): rara's watchdog process cancels while the engine is stopped and
  journals the firing (``detected_by="watchdog"``); woken, the run journals the cancel, protects
  the position again and carries on; after SIGTERM no watchdog is left.

No assertion on time: every wait is a generous poll of what the exchange or the journal says.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rara.domain.events import (
    TradingDeadmanArmed,
    TradingDeadmanFired,
    TradingDeadmanRefreshed,
    TradingOrderSubmitted,
    TradingOrderUpdated,
)
from rara.events import EventFilter, open_event_store
from rara.home import Home
from rara.trading.watchdog import heartbeat_path, pid_alive, read_heartbeat
from tests.emulators.book_types import EmuOrder
from tests.emulators.bybit import BybitEmulator
from tests.emulators.exchange import BinanceEmulator
from tests.kit.live import (
    ACCOUNT,
    KEY,
    SECRET,
    START_MS,
    TradeRun,
    configure_live_home,
    strategy_file,
    wait_for,
)

SWITCH = {"deadman_timeout_s": 5, "deadman_refresh_s": 1}
LEDGER_ACCOUNT = f"testnet:{ACCOUNT}"


def journal(home: Path, kind: type[Any]) -> list[tuple[int, Any]]:
    """(seq, payload) of every `kind` event in `home`, oldest first."""
    with open_event_store(home / "rara.db") as store:
        return [(ev.seq, ev.typed()) for ev in store.iter_query(EventFilter(types=[kind]))]


def resting_stops(emu: BybitEmulator | BinanceEmulator) -> list[EmuOrder]:
    return [o for o in emu.book.open_orders(KEY) if o.kind == "stop_market"]


@contextmanager
def stopped(run: TradeRun) -> Iterator[None]:
    """The run's process stopped (SIGSTOP) inside the block, and woken whatever happens."""
    os.kill(run.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(run.proc.pid, signal.SIGCONT)


def fired_after(home: Path, seq: int, by: str) -> list[TradingDeadmanFired]:
    return [
        p
        for s, p in journal(home, TradingDeadmanFired)
        if s > seq and p.detected_by == by and p.account == LEDGER_ACCOUNT
    ]


def last_seq(home: Path) -> int:
    with open_event_store(home / "rara.db") as store:
        return max((ev.seq for ev in store.iter_query(EventFilter())), default=0)


def stop_intents(home: Path) -> list[TradingOrderSubmitted]:
    return [p for _, p in journal(home, TradingOrderSubmitted) if p.reason == "stop_loss"]


def test_bybit_cancels_a_stopped_runs_orders_and_the_run_protects_again(rara_home: Path) -> None:
    with BybitEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        # the exchange's switch alone (auto adds the watchdog on bybit: its DCP counts from a
        # lost websocket, the emulator's from the last REST re-arm)
        home = configure_live_home(rara_home, emu, exchange="bybit", deadman="exchange", **SWITCH)
        strategy = strategy_file(home)
        with TradeRun(home, emu, strategy, exchange="bybit") as run:
            run.step_bars(2)  # the entry fills, then its stop-loss rests at the exchange
            [stop] = wait_for(lambda: resting_stops(emu), why="the stop-loss to rest")
            before, countdowns = last_seq(home), len(emu.book.countdown_fired)
            with stopped(run):
                wait_for(
                    lambda: len(emu.book.countdown_fired) > countdowns,
                    why="bybit's countdown to cancel the stopped run's orders",
                )
                assert resting_stops(emu) == []
            [fired] = wait_for(lambda: fired_after(home, before, "engine"), why="the firing")
            assert fired.method == "exchange" and stop.client_order_id in fired.canceled
            # protected again at once (between bars), under a new deterministic id
            [again] = wait_for(lambda: resting_stops(emu), why="the stop-loss placed again")
            assert again.client_order_id != stop.client_order_id
            assert again.trigger == stop.trigger and again.quantity == stop.quantity
            wait_for(
                lambda: [s for s, _ in journal(home, TradingDeadmanRefreshed) if s > before],
                why="the switch re-armed",
            )
            run.step_bars(1)  # it carries on
            assert run.stop() == 0, run.stderr
        out = run.result()
        assert out["deadman"] == "exchange" and out["bars"] == 3
        armed = [p for _, p in journal(home, TradingDeadmanArmed)]
        assert [a.method for a in armed] == ["exchange"]
        assert [p.signal_bar_ms is None for p in stop_intents(home)] == [False, True]

        with TradeRun(home, emu, strategy, exchange="bybit") as restarted:
            restarted.step_bars(1)
            assert restarted.stop() == 0, restarted.stderr
        assert [o.client_order_id for o in resting_stops(emu)] == [again.client_order_id]
        assert len(stop_intents(home)) == 2
        assert all(n == 1 for n in emu.book.count_by_client_id(KEY).values())


def test_binance_spot_has_the_watchdog_cancel_for_a_stopped_run(rara_home: Path) -> None:
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu, **SWITCH)
        with TradeRun(home, emu, strategy_file(home)) as run:
            run.step_bars(2)
            [stop] = wait_for(lambda: resting_stops(emu), why="the stop-loss to rest")
            beat = read_heartbeat(heartbeat_path(Home(root=home), LEDGER_ACCOUNT))
            assert beat is not None and beat.watchdog_pid is not None
            watchdog = beat.watchdog_pid
            before = last_seq(home)
            with stopped(run):
                [fired] = wait_for(
                    lambda: fired_after(home, before, "watchdog"),
                    why="the watchdog to cancel and say so",
                )
                assert fired.method == "watchdog" and fired.canceled == [stop.client_order_id]
                assert resting_stops(emu) == []
            wait_for(
                lambda: [
                    p
                    for s, p in journal(home, TradingOrderUpdated)
                    if s > before
                    and p.client_order_id == stop.client_order_id
                    and p.status == "canceled"
                ],
                why="the woken run to journal the cancel",
            )
            [again] = wait_for(lambda: resting_stops(emu), why="the stop-loss placed again")
            assert again.client_order_id != stop.client_order_id
            run.step_bars(1)
            assert run.stop() == 0, run.stderr
        assert run.result()["deadman"] == "watchdog"
        wait_for(lambda: not pid_alive(watchdog), why="the watchdog to leave")
        assert all(n == 1 for n in emu.book.count_by_client_id(KEY).values())


def test_auto_on_bybit_arms_both_and_leaves_no_watchdog(rara_home: Path) -> None:
    """Bybit's own switch counts from a lost websocket: ``auto`` arms it and runs the watchdog
    beside it; a clean stop disarms both."""
    with BybitEmulator(api_keys={KEY: SECRET}, now_ms=START_MS) as emu:
        emu.fund(KEY, "USDT", "10000")
        home = configure_live_home(rara_home, emu, exchange="bybit", **SWITCH)
        with TradeRun(home, emu, strategy_file(home), exchange="bybit") as run:
            run.step_bars(1)
            beat = read_heartbeat(heartbeat_path(Home(root=home), LEDGER_ACCOUNT))
            assert beat is not None and beat.watchdog_pid is not None
            assert beat.timeout_ms == 2 * 5000  # it acts only where the exchange did not
            assert run.stop() == 0, run.stderr
        assert run.result()["deadman"] == "exchange+watchdog"
        armed = [(p.method, p.timeout_ms) for _, p in journal(home, TradingDeadmanArmed)]
        assert armed == [("exchange", 5000), ("watchdog", 10_000)]
        assert emu.dcp_windows[KEY] == 0  # disarmed at the exchange
        wait_for(lambda: not pid_alive(beat.watchdog_pid), why="the watchdog to leave")
