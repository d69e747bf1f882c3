"""Paper runs for tests: replay a strategy through the paper engine in this process (the signal
path in the jailed sandbox, as `rara paper run` does), the backtest of the same bars computed
independently of `compare_with_backtest` (one full-history evaluation in the in-process
sandbox, then `run_backtest`), and the checks that the books agree with the venue."""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import numpy as np

from rara.backtest.engine import EXIT_REASONS, BacktestConfig, run_backtest
from rara.config import load_settings
from rara.data.catalog import Catalog
from rara.home import Home
from rara.ledger import EXACT, catch_up, open_ledger
from rara.runner.sandbox import EvaluationRequest, InProcessSandbox
from rara.trading.report import compare_with_backtest, run_summary
from rara.trading.session import PaperSession, open_paper_session

REL = 1e-9
FLOATS = ("entry_price", "exit_price", "size", "entry_fee", "exit_fee", "pnl")


@dataclass
class Replayed:
    summary: dict[str, Any]
    rebooked: int  # what `catch_up` booked when run again after the run (must be 0)


def replay(home: Home, strategy: str, **kw: Any) -> Replayed:
    """Run `strategy` through the paper engine over the BTC/USDT 1h sample (all of it unless
    ``start_ms``/``end_ms`` say otherwise) and summarise it with its backtest comparison."""
    kw = {"symbol": "BTC/USDT", "timeframe": "1h", **kw}
    with open_paper_session(home, strategy, **kw) as session:
        session.run()
        summary = run_summary(session, compare_with_backtest(session))
        rebooked = catch_up(session.ledger, session.store).booked
        assert_books(session)
        account = session.deployment.account
    check_books(home, account)
    return Replayed(summary, rebooked)


def assert_books(session: PaperSession) -> None:
    """The ledger's holdings equal the venue's persisted balances, currency by currency."""
    account = session.deployment.account
    ours = session.ledger.balances(account)
    theirs = {c: b.total for c, b in session.venue.balances().items()}
    for currency in set(ours) | set(theirs):
        assert ours.get(currency, 0) == theirs.get(currency, 0), (currency, ours, theirs)


def reference_trades(home: Home, source_path: Path) -> tuple[list[dict[str, Any]], float]:
    """The backtest's trades over the whole sample (bar times, not indices) and its final
    equity, from one full-history evaluation in this process: nothing of the paper side."""
    settings = load_settings(home)
    catalog = Catalog(home.data_dir)
    inst = catalog.resolve("BTC/USDT", "1h")
    candles = catalog.load(inst)
    ev = InProcessSandbox().evaluate(
        EvaluationRequest(source=source_path.read_text(), candles=candles)
    )
    assert not ev.failed, ev.error
    w = ev.windows[-1]
    costs = BacktestConfig.from_settings(inst.exchange, settings.backtest)
    result = run_backtest(candles, w.entries, w.exits, costs, w.stop_loss, w.take_profit)
    ts = candles.ts
    trades = [
        {
            "entry_bar_ms": int(ts[int(t["entry_idx"])]),
            "exit_bar_ms": int(ts[int(t["exit_idx"])]),
            "exit_reason": EXIT_REASONS[int(t["exit_reason"])],
            **{name: float(t[name]) for name in FLOATS},
        }
        for t in result.trades
    ]
    return trades, float(np.asarray(result.equity)[-1])


def assert_same_trades(paper: list[dict[str, Any]], backtest: list[dict[str, Any]]) -> None:
    """Bars and exit reasons exactly; prices, sizes, fees and PnL within 1e-9 relative."""
    assert len(paper) == len(backtest) > 0
    for i, (p, b) in enumerate(zip(paper, backtest, strict=True)):
        for name in ("entry_bar_ms", "exit_bar_ms", "exit_reason"):
            assert p[name] == b[name], (i, name, p, b)
        for name in FLOATS:
            assert math.isclose(p[name], b[name], rel_tol=REL, abs_tol=1e-9), (i, name, p, b)


def assert_ledger_ok(summary: dict[str, Any]) -> None:
    ledger = summary["ledger"]
    assert ledger["ok"] and ledger["venue_balances_equal"], ledger
    assert ledger["problems"] == []
    assert ledger["events_checked"] >= 1 + 2 * len(summary["trades"])  # funding + fills


def venue_balances(db: Path, account: str) -> dict[str, Decimal]:
    """What the paper venue persisted (free + reserved), read from its table; summed exactly
    (the default 28-digit context would round a balance the ledger holds to more digits)."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT currency, free, used FROM paper_balances WHERE account = ?", (account,)
        ).fetchall()
    with localcontext(prec=EXACT.prec):
        totals = {c: Decimal(free) + Decimal(used) for c, free, used in rows}
    return {c: t for c, t in totals.items() if t}


def unbalanced_transactions(db: Path) -> list[tuple[int, str, Decimal]]:
    """(transaction, currency, sum) for every transaction whose postings in a currency do not
    sum to zero, straight from the ledger's tables."""
    sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    with sqlite3.connect(db) as conn, localcontext(prec=EXACT.prec):
        for seq, currency, amount in conn.execute(
            "SELECT tx_seq, currency, amount FROM ledger_postings"
        ):
            sums[(seq, currency)] += Decimal(amount)
    return [(seq, c, total) for (seq, c), total in sorted(sums.items()) if total]


def check_books(home: Home, account: str) -> None:
    with open_ledger(home.state_db, readonly=True) as ledger:
        assert ledger.balances(account) == venue_balances(home.state_db, account)
        assert len(ledger.accounts()) >= 1
    assert unbalanced_transactions(home.state_db) == []
