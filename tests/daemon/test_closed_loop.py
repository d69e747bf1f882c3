"""Acceptance 1, the closed loop end to end on a fresh home: `rara run --feed replay --speed max`
researches the planted-edge candles, promotes a strategy, paper-trades it on the bars after the
split, gate 2 makes it a live candidate, and it waits there for a person; after `rara strategy
approve ID --account NAME` (the CLI, while the daemon runs) the daemon trades it on the exchange
emulator's testnet account (real HTTP), and every step is in the events and `rara status`.

The emulator serves EDGE/USDT 1h with its own candles; its clock starts on a bar's open and the
test moves it one bar at a time once the live session has opened, as the live tests do, until
the strategy's first order reaches the exchange. SIGTERM then stops the daemon cleanly (its
open orders canceled, the ledger equal to the exchange's account). Restarts: with the keys, the
approved account is reconciled and its dead man's switch armed before ready; without them,
ready names no account and the live component is halted under a strategy lock; with the keys
back the next daemon lifts that lock once the session reconciles; halted again and demoted by a
person, the lock goes with the stage.

Measured (feedback every 2 s; the box shared with other runs): ready 2-4 s, first candidate
7-16 s, paper trading it at once, gate 2 14-32 s (judged mid-replay once the minimums held, e.g.
78 round trips over 33.5 days, Sharpe 4.2; or on the whole replay: 97 over 41.7 days, Sharpe
10.5; drawdown 0.126, tracking error 0, no parity mismatch), the testnet session 6-15 s after
gate 2 (a 2 s look that nothing trades, then the approval), its first order (a market buy) 1-2 s
and one bar later; the whole test 65-135 s with its four restarts.
"""

from __future__ import annotations

import signal
import time
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

from rara.events import Event
from tests.emulators.candles import Market
from tests.emulators.exchange import BinanceEmulator
from tests.kit.daemon import planted_edge_home
from tests.kit.daemon_process import DaemonProcess
from tests.kit.live import (
    ACCOUNT,
    HOUR_MS,
    KEY,
    SECRET,
    START_MS,
    configure_live_home,
    keys_env,
    ledger_balances,
    venue_holdings,
    verify_cli,
    wait_for,
)

MAX_LIVE_BARS = 60  # the emulator's bars walked until the strategy's first order


def _stage(e: Event, to: str) -> bool:
    return bool(e.payload.get("to_stage") == to)


def _gate2_checks(gate2: Event, gate: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Gate 2's report on the promotion: passed, every check with its value and threshold."""
    report = gate2.payload["report"]
    assert (
        report["passed"] and report["failed"] == [] and report["strategy_id"] == gate2.strategy_id
    )
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {
        "paper_days",
        "paper_trades",
        "paper_sharpe",
        "paper_drawdown",
        "tracking_error",
        "parity",
    }
    for c in checks.values():
        assert c["passed"] and c["value"] is not None and c["threshold"] is not None, c
    assert checks["paper_trades"]["value"] >= gate["min_trades"]
    assert checks["paper_days"]["value"] >= gate["min_days"]
    return checks


def _marked_or_exited(d: DaemonProcess, run_id: str, bar_ms: int) -> bool:
    marks = [e for e in d.events("trading_equity_marked") if e.correlation_id == run_id]
    return any(e.payload["bar_ms"] == bar_ms for e in marks) or not d.alive


def _walk_until_an_order(d: DaemonProcess, emu: BinanceEmulator, run_id: str) -> None:
    """Move the exchange's clock a bar at a time, each time until the live run `run_id` has
    marked the bar that closed, until an order reaches the exchange."""

    for _ in range(MAX_LIVE_BARS):
        if emu.book.orders(KEY):
            return
        assert emu.now_ms is not None
        emu.now_ms += HOUR_MS
        closed = emu.now_ms - HOUR_MS
        wait_for(
            partial(_marked_or_exited, d, run_id, closed),
            120,
            every_s=0.1,
            why=f"the live run to mark bar {closed}",
        )
        assert d.alive, d.output()[-4000:]


def test_research_paper_gate2_approval_then_testnet(cli: Any, rara_home: Path) -> None:
    # feedback judges every 2 s, not the default 30: gate 2 follows the paper run's end at once
    kit = planted_edge_home(rara_home, cli, settings={"daemon": {"feedback_interval_s": 2.0}})
    scenario = (rara_home / "config.toml").read_text()
    edge = Market("EDGE", "USDT", price0=100.0)
    with BinanceEmulator(api_keys={KEY: SECRET}, now_ms=START_MS, markets=[edge]) as emu:
        emu.fund(KEY, "USDT", "10000")
        # the planted-edge scenario plus one testnet account on the emulator trading EDGE/USDT
        configure_live_home(rara_home, emu, symbols=[kit.symbol], extra=scenario)
        t0 = time.monotonic()
        took: dict[str, float] = {}
        with DaemonProcess(rara_home, "--feed", "replay", "--speed", "max", env=keys_env()) as d:
            d.wait_ready()
            took["ready"] = time.monotonic() - t0

            # research promotes; the conductor starts paper trading it
            candidate = d.wait_event("research_strategy_candidate")
            took["research_candidate"] = time.monotonic() - t0
            sid = candidate.strategy_id
            assert sid is not None
            d.wait_event(
                "feedback_strategy_promote", lambda e: e.strategy_id == sid and _stage(e, "paper")
            )
            took["paper"] = time.monotonic() - t0

            # gate 2 on the replay: every check reported with its value and threshold
            gate2 = d.wait_event(
                "feedback_strategy_promote",
                lambda e: _stage(e, "live_candidate"),
                timeout_s=300,
            )
            took["live_candidate"] = time.monotonic() - t0
            sid = gate2.strategy_id
            assert sid is not None
            checks = _gate2_checks(gate2, kit.gate2)
            report = gate2.payload["report"]
            paper_runs = [
                e
                for e in d.events("trading_session_started")
                if e.payload["strategy_id"] == sid and e.payload["mode"] == "paper"
            ]
            assert [e.payload["run_id"] for e in paper_runs] == [report["run_id"]]
            paper_fills = [
                e for e in d.events("trading_order_filled") if e.correlation_id == report["run_id"]
            ]
            assert paper_fills  # it paper-traded

            # nothing trades live before a person approves
            time.sleep(2.0)  # a few conductor turns with the candidate waiting
            assert emu.book.orders(KEY) == []
            live_runs = [
                e for e in d.events("trading_session_started") if e.payload["mode"] != "paper"
            ]
            assert live_runs == []
            waiting = cli("status").json["strategies"]["live_candidate"]
            assert sid in [s["strategy_id"] for s in waiting]
            assert d.events("feedback_strategy_confirmed") == []

            # approval through the CLI while the daemon runs
            approved = cli("strategy", "approve", sid, "--account", ACCOUNT)
            assert approved.code == 0, approved.stdout + approved.stderr
            confirmed = d.wait_event("feedback_strategy_confirmed", lambda e: e.strategy_id == sid)
            assert confirmed.payload["account"] == ACCOUNT
            session = d.wait_event(
                "trading_session_started",
                lambda e: e.strategy_id == sid and e.payload["mode"] == "testnet",
                timeout_s=120,
            )
            took["live_session"] = time.monotonic() - t0
            assert session.payload["account"] == f"testnet:{ACCOUNT}"
            assert session.payload["symbol"] == kit.symbol
            [startup] = [
                e
                for e in d.events("trading_reconciled")
                if e.payload["trigger"] == "startup" and e.seq < session.seq
            ]
            assert startup.payload["ok"] and startup.payload["account"] == f"testnet:{ACCOUNT}"
            d.wait_event("trading_deadman_armed")  # armed after the session's start is logged

            # the emulator's bars, one at a time, until the strategy's first order
            _walk_until_an_order(d, emu, session.payload["run_id"])
            orders = emu.book.orders(KEY)
            assert orders, f"no order in {MAX_LIVE_BARS} bars"
            took["first_live_order"] = time.monotonic() - t0
            assert all(n == 1 for n in emu.book.count_by_client_id(KEY).values())

            status = cli("status").json
            assert status["daemon"]["running"] is True
            components = {c["name"]: c for c in status["components"]}
            live_name = f"trading:{sid}:{ACCOUNT}"
            assert components[live_name]["state"] == "running", components
            assert {"research", "lifecycle"} <= set(components), components
            [live] = status["strategies"]["live"]
            assert (live["strategy_id"], live["account"]) == (sid, ACCOUNT)
            assert status["last_events"]

            # the position the fill opened, as the ledger books it and the exchange holds it
            def testnet_position() -> dict[str, Any] | None:
                rows = cli("status").json["positions"]
                held = [p for p in rows if p["account"] == f"testnet:{ACCOUNT}"]
                return held[0] if held and Decimal(held[0].get("quantity", "0")) else None

            position = wait_for(testnet_position, 120, every_s=0.5, why="the testnet position")
            assert (position["symbol"], position["strategy_id"]) == (kit.symbol, sid)
            assert Decimal(position["quantity"]) == venue_holdings(emu)["EDGE"]

            assert d.stop(signal.SIGTERM) == 0, d.output()[-4000:]
        [stopped] = d.events("daemon_stopped")
        assert stopped.payload["exit_code"] == 0 and stopped.payload["reason"] == "sigterm"
        # [daemon] stop_orders = cancel (the default): nothing is left open at the exchange
        assert [o for o in emu.book.orders(KEY) if o.status in ("new", "partially_filled")] == []
        assert ledger_balances(rara_home) == venue_holdings(emu)
        verify_cli(rara_home)

        # a restart reconciles the approved account and arms its switch before it is ready
        with DaemonProcess(rara_home, "--no-research", env=keys_env()) as d:
            ready = d.wait_ready()
            assert ready.payload["accounts_reconciled"] == [ACCOUNT]
            assert ready.payload["deadman_armed"] == [ACCOUNT]
            [resumed] = [
                e for e in d.events("trading_session_started") if e.payload["mode"] == "testnet"
            ]
            assert resumed.payload["resumed"] and resumed.seq < ready.seq
            assert d.stop() == 0, d.output()[-4000:]

        # without its keys the account cannot be reconciled: ready must not say it was
        with DaemonProcess(rara_home, "--no-research") as d:
            ready = d.wait_ready()
            assert ready.payload["accounts_reconciled"] == []
            assert ready.payload["deadman_armed"] == []
            d.wait_event(  # its trading component is halted, not trading unreconciled
                "daemon_component_changed",
                lambda e: e.payload["component"] == live_name and e.payload["state"] == "halted",
            )
            halt = d.wait_event("trading_lock_set", lambda e: e.payload["target"] == sid)
            halt_lock = halt.payload["lock_id"]
            assert d.stop() == 0, d.output()[-4000:]

        # its keys back, a restart reconciles the account and lifts the halt's lock
        with DaemonProcess(rara_home, "--no-research", env=keys_env()) as d:
            ready = d.wait_ready()
            assert ready.payload["accounts_reconciled"] == [ACCOUNT]
            locks = cli("status").json["locks"]
            assert [lk for lk in locks if lk["target"] == sid and lk["active"]] == [], locks
            assert d.stop() == 0, d.output()[-4000:]

        # halted again (no keys), then demoted by a person: the halt's lock goes with the stage
        with DaemonProcess(rara_home, "--no-research") as d:
            d.wait_ready()
            d.wait_event("trading_lock_set", lambda e: e.payload["target"] == sid)
            demoted = cli("strategy", "demote", sid, "--reason", "no keys on this host")
            assert demoted.code == 0 and demoted.json["stage"] == "paper", demoted.stdout
            d.wait_event("trading_lock_released", lambda e: e.payload["lock_id"] == halt_lock)
            assert d.stop() == 0, d.output()[-4000:]
        # the account's keys appear nowhere the daemon wrote
        for path in [rara_home / "rara.db", *rara_home.glob("daemon-*.*")]:
            data = path.read_bytes()
            assert KEY.encode() not in data and SECRET.encode() not in data, path
    print("closed loop timings (s):", {k: round(v, 1) for k, v in took.items()})
    print("paper trades:", checks["paper_trades"]["value"], "fills:", len(paper_fills))
    print("gate 2:", {k: (c["value"], c["threshold"]) for k, c in checks.items()})
    print("live orders:", [(o.kind, o.side) for o in orders])
