"""What a paper run reports when it stops: its JSON summary (trades, PnL, the whole run's orders
and denials from the journal, the books checked against the venue and the event log) and the
backtest of the bars it replayed, compared trade for trade (`rara.trading.parity`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from rara.backtest.engine import BacktestConfig, BacktestResult, run_backtest
from rara.domain.events import TradingOrderRejected, TradingOrderSubmitted
from rara.domain.market import Candles
from rara.domain.money import from_float
from rara.errors import Refused
from rara.events.digest import run_hash
from rara.runner.sandbox import EvaluationRequest, Sandbox
from rara.runner.strategy_source import StrategySource
from rara.trading.engine import HISTORY_BARS
from rara.trading.feeds.replay import ReplayFeed
from rara.trading.parity import (
    ParityReport,
    backtest_trades,
    compare,
    equity_marks,
    fills_of,
    paper_trades,
    run_events,
)
from rara.trading.session import PaperSession


def run_summary(session: PaperSession, parity: ParityReport | None) -> dict[str, Any]:
    """The JSON summary of a paper run: its trades, PnL, books and the backtest comparison."""
    dep = session.deployment
    fills = fills_of(session.store, dep.run_id)
    trades = paper_trades(fills, dep.interval_ms)
    marks = equity_marks(session.store, dep.run_id)
    final = marks[-1][1] if marks else from_float(session.costs.init_cash)
    init = from_float(session.costs.init_cash)
    return {
        "run_id": dep.run_id,
        # the run's events in order, timestamps aside: the same inputs give the same hash
        "run_hash": run_hash(session.store, dep.run_id),
        "strategy": session.strategy.name,
        "strategy_id": dep.strategy_id,
        "instrument": session.inst.key,
        "account": dep.account,
        "resumed": session.resumed,
        "bars": len({ms for ms, _ in marks}),  # the last bar is marked again at the end
        "progress": vars(session.engine.progress),
        "trades": [t.model_dump() for t in trades],
        "fills": len(fills),
        "orders": order_counts(session),
        "pnl": str(final - init),
        "final_equity": str(final),
        "balances": {k: str(v) for k, v in session.ledger.balances(dep.account).items()},
        "costs": {"fee": session.costs.fee, "slippage": session.costs.slippage},
        "ledger": ledger_check(session),
        "backtest_comparison": None if parity is None else parity.model_dump(),
    }


def order_counts(session: PaperSession) -> dict[str, Any]:
    """The whole run's orders from the journal (``progress`` is this invocation's only):
    submitted, and denied by the risk gate per guard code."""
    types = [TradingOrderSubmitted, TradingOrderRejected]
    submitted = 0
    denials: dict[str, int] = {}
    for ev in run_events(session.store, session.deployment.run_id, types):
        p = ev.typed()
        if isinstance(p, TradingOrderSubmitted):
            submitted += 1
        elif isinstance(p, TradingOrderRejected) and p.rejected_by == "risk_gate":
            denials[p.reason_code] = denials.get(p.reason_code, 0) + 1
    return {"submitted": submitted, "denied": sum(denials.values()), "denials": denials}


def ledger_check(session: PaperSession) -> dict[str, Any]:
    """The books after the run: the whole ledger verified against the event log, and this
    run's account against the paper venue's persisted balances (free + reserved). Another
    run's fill journaled but not yet booked (it books it next) is its lag, not damage."""
    dep = session.deployment
    venue = {dep.account: {c: b.total for c, b in session.venue.balances().items()}}
    report = session.ledger.verify(venue_balances=venue, events=session.store)
    lagging = [
        p
        for p in report.problems
        if p.problem == "event_not_booked" and p.tx_id and dep.run_id not in p.tx_id
    ]
    problems = [
        # the code, and the transaction even where no booked row names it (an unbooked event)
        f"{p.problem}: {p.tx_id + ': ' if p.seq is None and p.tx_id else ''}{p.describe()}"
        for p in report.problems
        if p not in lagging
    ]
    return {
        "ok": report.ok or len(lagging) == report.problem_count,
        "venue_balances_equal": not any(p.problem == "venue_mismatch" for p in report.problems),
        "transactions_checked": report.transactions_checked,
        "events_checked": report.events_checked,
        "other_runs_not_yet_booked": len(lagging),
        "problems": problems[:10],
    }


def backtest_same_bars(
    sandbox: Sandbox,
    strategy: StrategySource,
    params: dict[str, Any] | None,
    warm: Candles,
    replayed: Candles,
    costs: BacktestConfig,
) -> BacktestResult:
    """Backtest `replayed` with signals from one evaluation of `warm` + `replayed` (the past the
    run's first evaluation saw, then its bars): the backtest a run over those bars is held to
    (here and by gate 2, `rara.feedback.gate2`)."""
    seen = Candles(
        *(np.concatenate([getattr(warm, c), getattr(replayed, c)]) for c in Candles.COLUMNS)
    )
    ev = sandbox.evaluate(EvaluationRequest(source=strategy.source, candles=seen, params=params))
    if ev.failed:
        raise Refused(
            "strategy_failed",
            f"{strategy.name}: {ev.error.message if ev.error else 'no signals'}",
            "`rara sandbox run` shows the strategy's error",
        )
    w = ev.windows[-1]
    k = len(warm)

    def cut(level: Any) -> Any:
        return level[k:] if isinstance(level, np.ndarray) else level

    return run_backtest(
        replayed, w.entries[k:], w.exits[k:], costs, cut(w.stop_loss), cut(w.take_profit)
    )


def compare_with_backtest(session: PaperSession) -> ParityReport:
    """Backtest the bars this run replayed, with signals from one full-history evaluation of the
    same candles the paper run saw (its warm-up included), and compare trade for trade."""
    dep = session.deployment
    feed = session.feed
    if not isinstance(feed, ReplayFeed):
        raise Refused("no_backtest_comparison", "only a replay has fixed bars to compare", "")
    replayed = feed.run_candles()
    warm = feed.warmup_candles(session.engine.signals.trailing_window + HISTORY_BARS)
    result = backtest_same_bars(
        session.sandbox,
        session.strategy,
        session.engine.signals.params,
        warm,
        replayed,
        session.costs,
    )
    paper = paper_trades(fills_of(session.store, dep.run_id), dep.interval_ms)
    return compare(
        paper,
        backtest_trades(result.trades, replayed.ts),
        equity_marks(session.store, dep.run_id),
        result.equity,
        replayed.ts,
    )
