"""The soak (issue 14, acceptance 2): the daemon runs on a paced replay of the planted-edge home
for ``RARA_SOAK_S`` seconds (600 by default, the issue's ten minutes; a developer may run it
shorter) while the test SIGKILLs its whole process group at 20 seeded-random moments and starts
it again each time. Afterwards, from the state DB and the CLI: no order or fill twice, the
ledger and the event chain verify, the lifecycle is a chain of allowed moves, paper runs resumed
after their last marked bar, and research resumed every killed run without repeating a trial.

The paper replay is paced (``--speed`` 9000: a 1h bar every 0.4 s) over enough bars to outlast
the soak, and research runs of two iterations end and start again throughout it.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import sqlite3
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from rara.domain.lifecycle import move_kind
from rara.events import open_event_store
from rara.feedback.lifecycle import Lifecycle
from tests.kit.daemon import planted_edge_home
from tests.kit.daemon_process import DaemonProcess, read_events

SOAK_S = float(os.environ.get("RARA_SOAK_S", "600"))
KILLS = 20
SEED = 14
SPEED = "9000"  # a 1h bar every 0.4 s of wall time
ITERATIONS = 2  # per research run: runs end and start again throughout the soak
PAPER_BARS = 3000  # 20 minutes of replay at that speed: more than the soak

pytestmark = pytest.mark.timeout(SOAK_S * 3 + 600)


def test_soak_sigkill_20_times(rara_home: Path, cli: Any) -> None:
    home = rara_home
    planted_edge_home(
        home,
        cli,
        paper_bars=PAPER_BARS,
        settings={
            "daemon": {"max_paper_strategies": 3, "feedback_interval_s": 5.0},
            "daemon.research": {"iterations_per_run": ITERATIONS, "cpu_share": 0.4},
        },
    )
    rng = random.Random(SEED)
    # the kill moments, seconds into the soak by the test's own clock
    moments = sorted(rng.uniform(0.02, 0.95) * SOAK_S for _ in range(KILLS))
    args = ("--feed", "replay", "--speed", SPEED)
    t0 = time.monotonic()
    to_ready: list[float] = []

    def start() -> DaemonProcess:
        began = time.monotonic()
        d = DaemonProcess(home, *args)
        d.wait_ready(timeout_s=600)
        to_ready.append(time.monotonic() - began)
        return d

    daemon = start()
    try:
        for at in moments:
            time.sleep(max(0.0, at - (time.monotonic() - t0)))
            daemon.kill()
            assert daemon.proc.returncode == -signal.SIGKILL, daemon.output()[-4000:]
            daemon = start()
        time.sleep(max(0.0, SOAK_S - (time.monotonic() - t0)))
        assert daemon.alive, daemon.output()[-4000:]
        assert daemon.stop() == 0, daemon.output()[-4000:]
    finally:
        daemon.close()

    figures = _check(home, cli)
    figures["to_ready_s"] = {
        "min": round(min(to_ready), 2),
        "median": round(statistics.median(to_ready), 2),
        "max": round(max(to_ready), 2),
    }
    print("soak figures:", figures)


def _check(home: Path, cli: Any) -> dict[str, Any]:
    # ---- the daemon: 21 starts (the first and 20 restarts), each ready, one clean stop
    started = read_events(home, "daemon_started")
    ready = read_events(home, "daemon_ready")
    stopped = read_events(home, "daemon_stopped")
    assert len(started) == KILLS + 1
    assert [e.payload["daemon_id"] for e in ready] == [e.payload["daemon_id"] for e in started]
    assert len(stopped) == 1 and stopped[0].payload["daemon_id"] == started[-1].payload["daemon_id"]
    assert stopped[0].payload["reason"] == "sigterm"

    # ---- the chain and the ledger (which compares itself with the event log)
    for cmd in (("events", "verify"), ("ledger", "verify")):
        r = cli(*cmd, timeout=600)
        assert r.code == 0 and r.json["ok"] is True, (cmd, r.stdout, r.stderr)

    # ---- orders and fills: each once
    submitted = read_events(home, "trading_order_submitted")
    fills = read_events(home, "trading_order_filled")
    updated = read_events(home, "trading_order_updated")
    assert submitted and fills, "the soak traded nothing: nothing was checked"
    twice = _twice((e.correlation_id, e.payload["client_order_id"]) for e in submitted)
    assert not twice, f"orders submitted twice: {twice}"
    fill_keys = [(e.payload["exchange"], e.payload["account"], e.payload["fill_id"]) for e in fills]
    assert not _twice(fill_keys), f"fills twice: {_twice(fill_keys)}"
    venue_orders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for e in [*updated, *fills]:
        vid = e.payload["venue_order_id"]
        if vid is not None:
            venue_orders[(e.payload["account"], vid)].add(e.payload["client_order_id"])
    shared = {k: v for k, v in venue_orders.items() if len(v) > 1}
    assert not shared, f"one venue order for several client orders: {shared}"
    with sqlite3.connect(f"file:{home / 'rara.db'}?mode=ro", uri=True) as db:
        booked = {r[0] for r in db.execute("SELECT tx_id FROM ledger_transactions")}
    fill_tx = {f"fill:{x}:{a}:{f}" for x, a, f in fill_keys}
    assert fill_tx <= booked, f"fills the ledger never booked: {sorted(fill_tx - booked)[:5]}"

    # ---- paper runs resumed after their last marked bar: each (run, bar) marked once
    marks = read_events(home, "trading_equity_marked")
    twice = _twice((e.correlation_id, e.payload["bar_ms"]) for e in marks)
    assert not twice, f"bars marked twice: {twice[:5]}"
    sessions = read_events(home, "trading_session_started")
    assert any(e.payload["resumed"] for e in sessions), "no paper run was ever resumed"

    # ---- the lifecycle: no conflicts, chains of allowed moves, paper means a paper run
    with open_event_store(home / "rara.db", readonly=True) as store:
        lifecycle = Lifecycle(store)
    assert not lifecycle.conflicts, lifecycle.conflicts
    runs_of = {e.payload["strategy_id"] for e in sessions if e.payload["mode"] == "paper"}
    records = lifecycle.strategies()
    assert any(r.stage != "paper_candidate" for r in records), "nothing left paper_candidate"
    for rec in records:
        stages = [t for t in rec.history if t.kind != "hold"]
        for a, b in itertools.pairwise(stages):
            assert a.to_stage == b.from_stage, (rec.strategy_id, a, b)
            assert move_kind(a.to_stage, b.to_stage) is not None, (rec.strategy_id, a, b)
        if rec.stage == "paper":
            assert rec.strategy_id in runs_of, f"{rec.strategy_id} at paper without a paper run"
    # every decision applied once: a move decided twice would be a conflict (or a second,
    # unexplained entry in a chain), so each event is one step of some strategy's history
    decisions = [
        e
        for t in ("feedback_strategy_promote", "feedback_strategy_demote")
        for e in read_events(home, t)
    ] + read_events(home, "feedback_strategy_confirmed")
    steps = [t for r in records for t in r.history if t.kind in ("promote", "demote", "confirm")]
    assert len(decisions) == len(steps), (len(decisions), len(steps))
    assert sorted(e.seq for e in decisions) == sorted(t.seq for t in steps)

    # ---- research: every killed run resumed, no trial twice
    with sqlite3.connect(f"file:{home / 'rara.db'}?mode=ro", uri=True) as db:
        runs = [r[0] for r in db.execute("SELECT run_id FROM research_runs")]
        ended = {r[0] for r in db.execute("SELECT run_id FROM research_run_ends")}
        exps = list(db.execute("SELECT run_id, iteration FROM experiments"))
        stop_reasons = dict(db.execute("SELECT run_id, stop_reason FROM research_run_ends"))
        exp_times = list(db.execute("SELECT run_id, created_at FROM experiments"))
        trials = [r[0] for r in db.execute("SELECT trial_id FROM trials")]
        trial_keys = list(
            db.execute(
                "SELECT run_id, strategy_id, params, segment, start_ms, end_ms FROM trials "
                "WHERE run_id IS NOT NULL"
            )
        )
    assert len(runs) == len(set(runs)) and len(runs) >= 2, runs
    assert not _twice(exps) and not _twice(trials) and not _twice(trial_keys)
    unfinished = [r for r in runs if r not in ended]
    # the soak's clean stop may leave the run it stopped open (to resume): nothing else is
    assert len(unfinished) <= 1, f"research runs never resumed: {unfinished}"
    iters: dict[str, list[int]] = defaultdict(list)
    for run_id, it in exps:
        iters[run_id].append(it)
    for run_id, its in iters.items():
        assert sorted(its) == list(range(len(its))), (run_id, sorted(its))
    for run_id, why in stop_reasons.items():  # a finished run did all its iterations, once
        if why == "iterations":
            assert sorted(iters[run_id]) == list(range(ITERATIONS)), (run_id, iters[run_id])
    # research runs whose experiments span a restart: killed and resumed
    restarts = sorted(e.ts for e in started[1:])
    spans: dict[str, list[str]] = defaultdict(list)
    for run_id, at in exp_times:
        spans[run_id].append(at)
    resumed_runs = sum(1 for ts in spans.values() if any(min(ts) < r < max(ts) for r in restarts))
    research_started = read_events(home, "research_run_started")
    assert sorted(str(e.correlation_id) for e in research_started) == sorted(runs)
    seeds = [e.payload["config"]["seed"] for e in research_started]
    assert len(seeds) == len(set(seeds)), f"two research runs on one seed: {seeds}"
    return {
        "kills": KILLS,
        "starts": len(started),
        "ready": len(ready),
        "orders": len(submitted),
        "fills": len(fills),
        "marks": len(marks),
        "paper_sessions": len(sessions),
        "experiments": len(exps),
        "research_runs": len(runs),
        "research_unfinished": len(unfinished),
        "research_resumed": resumed_runs,
        "stages": dict(Counter(r.stage for r in records)),
        "startup_ms": sorted(e.payload["startup_ms"] for e in ready),
    }


def _twice(keys: Any) -> list[Any]:
    return [k for k, n in Counter(keys).items() if n > 1]
