"""Acceptance 5 of issue 12, crash safety: a `rara paper run` replay is SIGKILLed ten times at
seeded random moments (during start-up, after a drawn number of marked bars, mid-batch, while it
finishes) and restarted with the same command each time until it completes. Nothing is sent
twice, nothing is booked twice, the ledger verifies, and the trades and final equity equal those
of the same replay run once without interruption (under another run id, in the same home)."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rara.config import load_settings
from rara.domain.events import TradingAccountFunded
from rara.events import open_event_store
from rara.home import Home
from rara.trading.report import run_summary
from rara.trading.session import PaperSession
from tests.kit.cli import Cli, run_cli
from tests.kit.paper import (
    ALWAYS_LONG,
    DONCHIAN,
    bars_marked,
    btc_session,
    journal,
    ledger_transactions,
    paper_run_args,
    venue_fills,
    venue_orders,
)
from tests.kit.patience import patience

START, END = "2024-03-01", "2024-04-10"  # 960 bars: 11 trades, 3 stopped out, 30 entries denied
PARAMS = '{"entry": 20, "exit": 10}'
# Guards that bind, so a restart must judge with the run's past as the uninterrupted run did.
LIMITS = """[trading.risk]
max_window_loss = "0.01"
loss_window_hours = 72
max_orders = 4
order_window_s = 172800
"""
CRASHED, CALM = "paper_crashed", "paper_calm"
KILLS = 10
SEED = 20240301


@pytest.fixture
def procs(rara_home: Path) -> Iterator[Cli]:
    cli = Cli(rara_home)
    try:
        yield cli
    finally:
        cli.close()


def _args(run_id: str) -> list[str]:
    extra = ("--params", PARAMS, "--quiet", "--no-compare", "--run-id", run_id)
    return paper_run_args(DONCHIAN, START, END, *extra)


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=patience(10))
    assert proc.returncode == 0, err[-3000:]
    summary: dict[str, Any] = json.loads(out)
    return summary


def _kill_at_random(procs: Cli, home: Path, rng: random.Random, total: int) -> dict[str, int]:
    """SIGKILL the replay `KILLS` times, restarting it after each; how the kills landed."""
    # The first two by time, during start-up (imports, sandbox, journal restore, the first
    # batch); the others once the run has marked k bars, the k spread over the whole run and
    # the last one at its last bar (the feed's end: cancels, the sale at the last close), then
    # a few milliseconds more so that the kill lands inside a bar's writes or a batch.
    targets = [0, 0, *sorted(rng.sample(range(1, total - 1), KILLS - 3)), total - 1]
    landed: Counter[str] = Counter()
    for k in targets:
        proc = procs.popen(*_args(CRASHED))
        before = bars_marked(home, CRASHED)
        if k == 0:
            time.sleep(rng.uniform(0.05, 1.5))
        else:
            deadline = time.monotonic() + patience(10)
            while bars_marked(home, CRASHED) < k and proc.poll() is None:
                assert time.monotonic() < deadline, f"the run never marked {k} bars"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.03))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed["running"] += 1
            landed["mid_run"] += bars_marked(home, CRASHED) > before
        proc.communicate(timeout=patience(5))
    return dict(landed)


def test_sigkilled_replay_restarts_to_the_uninterrupted_result(procs: Cli, rara_home: Path) -> None:
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text(LIMITS)
    calm = _finish(procs.popen(*_args(CALM)))
    total = calm["bars"]
    assert calm["trades"] and "stop_loss" in {t["exit_reason"] for t in calm["trades"]}
    assert calm["progress"]["denied"] > 0

    landed = _kill_at_random(procs, rara_home, random.Random(SEED), total)
    assert landed.get("running", 0) >= KILLS - 2, landed
    assert landed.get("mid_run", 0) >= KILLS // 2, landed
    crashed = _finish(procs.popen(*_args(CRASHED)))
    assert crashed["resumed"] is True

    # The same trades and the same equity as the run never interrupted.
    assert crashed["trades"] == calm["trades"]
    assert crashed["final_equity"] == calm["final_equity"]
    assert crashed["balances"] == calm["balances"]
    assert crashed["bars"] == total

    # The same decisions, in the same order: each intent once, sent once.
    def intents(run_id: str) -> list[tuple[Any, ...]]:
        keys = ("intent_seq", "reason", "side", "order_type", "signal_bar_ms", "quantity", "cost")
        submitted = journal(rara_home, run_id, "trading_order_submitted")
        return [tuple(ev.payload[k] for k in keys) for ev in submitted]

    assert intents(CRASHED) == intents(CALM)

    def denials(run_id: str) -> list[tuple[str, dict[str, str]]]:
        """The gate's denials, without the client ids (another run id hashes other ones)."""
        rejected = journal(rara_home, run_id, "trading_order_rejected")
        return [
            (
                ev.payload["reason_code"],
                {k: v for k, v in ev.payload["context"].items() if k != "intent.request"},
            )
            for ev in rejected
        ]

    assert denials(CRASHED) == denials(CALM)
    submitted = journal(rara_home, CRASHED, "trading_order_submitted")
    cids = [ev.payload["client_order_id"] for ev in submitted]
    assert len(cids) == len(set(cids))
    at_venue = [o["client_order_id"] for o in venue_orders(rara_home, f"paper:{CRASHED}")]
    assert sorted(at_venue) == sorted(cids)

    # Each fill journaled once, booked once, and the venue made it once.
    fills = journal(rara_home, CRASHED, "trading_order_filled")
    fill_ids = [ev.payload["fill_id"] for ev in fills]
    assert len(fill_ids) == len(set(fill_ids)) == crashed["fills"] == calm["fills"]
    made = [f["fill_id"] for f in venue_fills(rara_home, f"paper:{CRASHED}")]
    assert sorted(made) == sorted(fill_ids)
    booked = [
        t["tx_id"]
        for t in ledger_transactions(rara_home, f"paper:{CRASHED}")
        if t["tx_id"].startswith("fill:")
    ]
    assert sorted(booked) == sorted(f"fill:binance:paper:{CRASHED}:{f}" for f in fill_ids)

    verified = procs.run("ledger", "verify")
    assert verified.code == 0, verified.out


def _session(strategy: Path, run_id: str) -> PaperSession:
    return btc_session(strategy, end="2024-03-04", run_id=run_id)


def test_a_run_cut_after_its_last_bar_still_sells_at_the_end(tmp_path: Path) -> None:
    """Regression: a run stopped (or killed) after marking its last bar but before the end of
    the feed was handled resumed with no bar to close on, so it never sold its position at the
    last close (rule 5) and its last mark kept the position."""
    strategy = tmp_path / "always_long.py"
    strategy.write_text(ALWAYS_LONG)
    with _session(strategy, "paper_whole") as whole:
        assert whole.run() == "feed_ended"
        expected = run_summary(whole, None)
    assert expected["trades"][-1]["exit_reason"] == "end"
    with _session(strategy, "paper_cut") as cut:
        total = cut.feed.total
        assert cut.run(should_stop=lambda: cut.engine.progress.bars >= total) == "stopped"
    with _session(strategy, "paper_cut") as resumed:
        assert resumed.run() == "feed_ended"
        got = run_summary(resumed, None)
    with _session(strategy, "paper_cut") as finished:
        assert finished.run() == "already_finished"
    assert got["trades"] == expected["trades"]
    assert (got["final_equity"], got["bars"]) == (expected["final_equity"], expected["bars"])
    assert got["balances"] == expected["balances"]


def test_other_params_are_another_run_not_a_resumed_one() -> None:
    """Regression: the default run id ignored --params, so the same strategy over the same range
    with other params resumed (or answered with the summary of) the run made with the first."""

    def opened(params: dict[str, int] | None) -> tuple[str, bool]:
        with btc_session(DONCHIAN, params=params) as session:
            return session.deployment.run_id, session.resumed

    default, resumed = opened(None)
    assert not resumed
    assert opened({"entry": 55}) == (default, True)  # the strategy's own value: the same run
    other, resumed = opened({"entry": 20})
    assert other != default and not resumed


def test_a_start_cut_between_funding_and_starting_funds_the_account_once(
    rara_home: Path,
) -> None:
    """Regression: a start killed after journaling the account's funding but before the session
    start journaled the funding again on the next start (a run counted as new until started)."""
    run_id = "paper_cut_at_start"

    def start() -> PaperSession:
        return btc_session(DONCHIAN, run_id=run_id)

    # What a start killed between the two appends left: the funding, nothing after it.
    rara_home.mkdir(parents=True, exist_ok=True)
    init = load_settings(Home.from_env()).backtest.init_cash
    with open_event_store(Home.from_env().state_db) as store:
        store.append(
            TradingAccountFunded(
                account=f"paper:{run_id}",
                currency="USDT",
                amount=Decimal(repr(init)),
                tx_id=f"fund:{run_id}",
                mode="paper",
            ),
            source="trading",
            correlation_id=run_id,
        )
    with start() as resumed:
        assert resumed.run() == "feed_ended"
    assert len(journal(rara_home, run_id, "trading_account_funded")) == 1
    verified = run_cli(rara_home, "ledger", "verify")
    assert verified.code == 0, verified.stdout


@pytest.mark.parametrize(
    ("guard", "limits"),
    [
        ("max_window_loss", 'max_window_loss = "0.01"\nloss_window_hours = 72'),
        ("order_rate", "max_orders = 3\norder_window_s = 259200"),
    ],
    ids=["window_loss", "order_rate"],
)
def test_a_resumed_run_judges_with_the_history_it_had(
    rara_home: Path, guard: str, limits: str
) -> None:
    """Regression: a resumed run's guards started with no equity marks and no submits, so a
    rolling loss limit or an order rate limit that denied an entry in the uninterrupted run let
    it through after a restart."""
    rara_home.mkdir(parents=True, exist_ok=True)
    (rara_home / "config.toml").write_text(f"[trading.risk]\n{limits}\n")

    def session(run_id: str) -> PaperSession:
        return btc_session(
            DONCHIAN, end="2024-03-08", params={"entry": 20, "exit": 10}, run_id=run_id
        )

    with session("paper_whole") as whole:
        whole.run()
        expected = run_summary(whole, None)
        denied = whole.engine.progress.denials
    assert denied.get(guard, 0) > 0, denied
    with session("paper_cut") as cut:
        cut.run(should_stop=lambda: cut.engine.progress.bars >= 60)  # before the first denial
    with session("paper_cut") as resumed:
        resumed.run()
        got = run_summary(resumed, None)
    assert got["trades"] == expected["trades"]
    assert got["final_equity"] == expected["final_equity"]
    rejected = {
        run: [
            (ev.payload["reason_code"], ev.payload["context"]["intent.signal_bar_ms"])
            for ev in journal(rara_home, run, "trading_order_rejected")
        ]
        for run in ("paper_whole", "paper_cut")
    }
    assert rejected["paper_cut"] == rejected["paper_whole"]
