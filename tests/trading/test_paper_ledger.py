"""Acceptance 4 at the engine level: after a paper replay, stopped part-way or finished, the
ledger's holdings equal the paper venue's persisted balances currency by currency, every
transaction balances per currency, the ledger verifies against the event log, and booking the
run's fills again books nothing. A venue that disagrees with the books is reported by the run's
summary and refused by `rara paper run` (exit 3)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from rara.domain.events import TradingAccountFunded
from rara.home import Home
from rara.ledger import catch_up
from rara.ledger.logged import logged_transactions
from rara.trading.report import compare_with_backtest, run_summary
from rara.trading.session import open_paper_session
from tests.kit.cli import CliResult
from tests.kit.parity import check_books, venue_balances
from tests.kit.paths import REPO

RSI = str(REPO / "strategies" / "examples" / "rsi_mean_reversion" / "strategy.py")
# a month with entries, stop-losses and take-profits
MONTH = {
    "symbol": "BTC/USDT",
    "timeframe": "1h",
    "start_ms": 1709251200000,
    "end_ms": 1711929600000,
}
CLI_WEEK = (
    "--symbol",
    "BTC/USDT",
    "--timeframe",
    "1h",
    "--start",
    "2024-03-01",
    "--end",
    "2024-03-08",
)


def test_books_equal_the_venue_when_stopped_part_way_and_after_resuming(rara_home: Path) -> None:
    home = Home(root=rara_home)
    with open_paper_session(home, RSI, **MONTH) as session:
        account = session.deployment.account
        assert session.run(lambda: session.engine.progress.bars >= 300) == "stopped"
        stopped = run_summary(session, None)
        assert stopped["ledger"]["ok"] and stopped["ledger"]["venue_balances_equal"]
    check_books(home, account)

    with open_paper_session(home, RSI, **MONTH) as session:
        assert session.resumed and session.run() == "feed_ended"
        summary = run_summary(session, compare_with_backtest(session))
        again = catch_up(session.ledger, session.store)
    assert summary["backtest_comparison"]["ok"], summary["backtest_comparison"]
    assert {t["exit_reason"] for t in summary["trades"]} >= {"stop_loss", "take_profit"}
    assert summary["ledger"]["ok"] and summary["ledger"]["venue_balances_equal"]
    assert again.events == 1 + summary["fills"] and again.booked == 0
    check_books(home, account)


def test_a_fill_booked_again_books_nothing(rara_home: Path) -> None:
    home = Home(root=rara_home)
    with open_paper_session(home, RSI, **MONTH) as session:
        session.run()
        before = session.ledger.last_seq()
        logged = [tx for _, tx in logged_transactions(session.store)]
        assert len(logged) == before > 2
        assert [session.ledger.book(tx) for tx in logged] == [False] * len(logged)
        assert session.ledger.last_seq() == before
        report = session.ledger.verify(
            venue_balances={
                session.deployment.account: venue_balances(
                    home.state_db, session.deployment.account
                )
            },
            events=session.store,
        )
    assert report.ok, report.reason
    assert report.events_checked == before


def test_another_runs_event_not_yet_booked_is_its_lag_but_this_runs_is_a_failure(
    rara_home: Path,
) -> None:
    home = Home(root=rara_home)
    week = {**MONTH, "end_ms": MONTH["start_ms"] + 7 * 86_400_000}
    with open_paper_session(home, RSI, **week) as session:
        session.run()
        rid = session.deployment.run_id
        # another run journaled its funding and has not booked it yet (it books right after)
        other = TradingAccountFunded(
            account="paper:paper_other",
            currency="USDT",
            amount=Decimal(1),
            tx_id="fund:paper_other",
            mode="paper",
        )
        session.store.append(other, source="test", correlation_id="paper_other")
        ledger = run_summary(session, None)["ledger"]
        assert ledger["ok"] and ledger["other_runs_not_yet_booked"] == 1
        assert ledger["problems"] == []
        # an event of this very run that the books lack is not excused
        mine = TradingAccountFunded.model_validate(
            {**other.model_dump(), "account": session.deployment.account, "tx_id": f"top:{rid}"}
        )
        session.store.append(mine, source="test", correlation_id=rid)
        ledger = run_summary(session, None)["ledger"]
        assert not ledger["ok"] and ledger["other_runs_not_yet_booked"] == 1
        (problem,) = ledger["problems"]
        assert "event_not_booked" in problem and rid in problem


def test_a_venue_that_disagrees_with_the_books_is_refused(
    rara_home: Path, cli: Callable[..., CliResult]
) -> None:
    first = cli("paper", "run", RSI, *CLI_WEEK, "--quiet")
    assert first.code == 0, first.stdout + first.stderr
    account = first.json["account"]
    with sqlite3.connect(Home(root=rara_home).state_db) as conn:  # the venue gains 1 USDT
        conn.execute(
            "UPDATE paper_balances SET free = ? WHERE account = ? AND currency = 'USDT'",
            (str(venue_balances(Home(root=rara_home).state_db, account)["USDT"] + 1), account),
        )
    again = cli("paper", "run", RSI, *CLI_WEEK, "--quiet")
    assert again.code == 3, again.stdout + again.stderr
    document = again.json
    assert document["error"]["code"] == "paper_ledger_mismatch"
    ledger = document["summary"]["ledger"]
    assert not ledger["ok"] and not ledger["venue_balances_equal"]
    assert account in ledger["problems"][0] and "USDT" in ledger["problems"][0]
    # `rara ledger verify` holds the books against the venue too, naming the account
    verified = cli("ledger", "verify")
    assert verified.code == 1, verified.stdout
    report = verified.json["error"]
    assert report["code"] == "ledger_broken" and account in verified.stdout
    assert "venue_mismatch" in verified.stdout
    # the books themselves are intact: only the venue moved
    books = cli("ledger", "verify", "--no-against-venue")
    assert books.code == 0, books.stdout
