"""The feedback evaluator on real paper runs: gate 2 promotes a paper strategy that tracks its
backtest, holds one that fails it (once per verdict, not once per pass), retires one whose
drawdown is beyond the retirement limit and asks research for a successor once however often
it is evaluated, also by a second evaluator (a restarted daemon); a critical sentinel signal on
its symbol demotes a live strategy to paper. The component runs passes until stopped."""

from __future__ import annotations

import threading
from decimal import Decimal

from rara.daemon_settings import FeedbackSettings
from rara.domain.events import (
    FeedbackResearchRetrainRequested,
    FeedbackStrategyDemote,
    FeedbackStrategyHold,
    FeedbackStrategyPromote,
    SentinelSignalDetected,
    TradingEquityMarked,
    TradingSessionStarted,
)
from rara.events import EventFilter, EventStore, open_event_store
from rara.feedback.component import FeedbackComponent
from rara.feedback.evaluator import FeedbackEvaluator
from rara.feedback.lifecycle import Lifecycle, move
from rara.home import Home
from rara.supervision import Progress
from tests.feedback.paper_runs import STRICT, enter_paper, on_paper, paper_run, settings_with


def of_type(store: EventStore, model: type) -> list:
    return [e.typed() for e in store.query(EventFilter(types=[model]))]


def test_gate2_promotes_a_paper_strategy_that_tracks_its_backtest() -> None:
    home = Home.from_env()
    run = on_paper(home)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        ev = FeedbackEvaluator(home, store, settings_with(home), lifecycle)
        first = ev.evaluate_once()
        assert [e.type for e in first] == ["feedback_strategy_promote"]
        promote = first[0].typed()
        assert isinstance(promote, FeedbackStrategyPromote)
        assert promote.to_stage == "live_candidate" and promote.decided_by == "gate2"
        assert promote.report is not None and promote.report.passed
        assert promote.report.run_id == run.run_id
        assert ev.evaluate_once() == []  # a live candidate waits for a person
        rec = lifecycle.get(run.strategy_id)
        assert rec is not None and rec.stage == "live_candidate"


def test_a_run_from_before_its_stay_at_paper_is_no_evidence() -> None:
    home = Home.from_env()
    run = paper_run(home)  # then the strategy (re)enters paper: the daemon starts a new run
    with open_event_store(home.state_db) as store:
        lifecycle = enter_paper(store, run)
        assert FeedbackEvaluator(home, store, settings_with(home), lifecycle).evaluate_once() == []


def test_a_paper_run_that_ended_without_passing_gate_2_is_retired_once() -> None:
    """A replay out of bars brings no more evidence: the strategy is judged now."""
    home = Home.from_env()
    on_paper(home)
    with open_event_store(home.state_db) as store:
        ev = FeedbackEvaluator(home, store, settings_with(home, STRICT), Lifecycle(store))
        out = ev.evaluate_once()
        assert [e.type for e in out] == [
            "feedback_research_retrain_requested",
            "feedback_strategy_demote",
        ]
        demote = out[1].typed()
        assert isinstance(demote, FeedbackStrategyDemote) and demote.to_stage == "retired"
        assert "paper run ended" in demote.reason and "paper_days 30 vs 60" in demote.reason
        assert ev.evaluate_once() == []
        again = FeedbackEvaluator(home, store, settings_with(home, STRICT), Lifecycle(store))
        assert again.evaluate_once() == []


def test_a_failing_paper_strategy_is_held_once_per_verdict() -> None:
    home = Home.from_env()
    on_paper(home, still_trading=True)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        ev = FeedbackEvaluator(home, store, settings_with(home, STRICT), lifecycle)
        held = ev.evaluate_once()
        assert [e.type for e in held] == ["feedback_strategy_hold"]
        hold = held[0].typed()
        assert isinstance(hold, FeedbackStrategyHold) and hold.report is not None
        # a few days in: too few days and trades for the strict gate
        assert {"paper_days", "paper_trades"} <= set(hold.report.failed)
        assert "paper_days " in hold.reason and " vs 60" in hold.reason
        assert ev.evaluate_once() == []
        # a restarted daemon reads the last hold from the log
        again = FeedbackEvaluator(home, store, settings_with(home, STRICT), Lifecycle(store))
        assert again.evaluate_once() == []
        assert len(of_type(store, FeedbackStrategyHold)) == 1


def test_a_drawdown_beyond_the_limit_retires_it_and_asks_for_a_retrain_once() -> None:
    """The Donchian breakout lost 14.5% from its peak on paper over these 30 days: beyond a 10%
    retirement limit, it is retired and research is asked for a successor on its market."""
    home = Home.from_env()
    run = on_paper(home)
    limits = FeedbackSettings(retire_drawdown=0.10)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        ev = FeedbackEvaluator(home, store, settings_with(home, feedback=limits), lifecycle)
        out = ev.evaluate_once()
        assert [e.type for e in out] == [
            "feedback_research_retrain_requested",
            "feedback_strategy_demote",
        ]
        assert ev.evaluate_once() == []
        restarted = FeedbackEvaluator(
            home, store, settings_with(home, feedback=limits), Lifecycle(store)
        )
        assert restarted.evaluate_once() == []
        requests = of_type(store, FeedbackResearchRetrainRequested)
        demotes = of_type(store, FeedbackStrategyDemote)
    assert len(requests) == 1 and len(demotes) == 1
    req = requests[0]
    assert (req.exchange, req.symbol, req.timeframe) == ("binance", "BTC/USDT", "1h")
    assert req.stage == "paper" and req.strategy_id == run.strategy_id
    assert req.reason.startswith("paper drawdown 14.") and req.reason.endswith("beyond 10%")
    assert demotes[0].to_stage == "retired" and demotes[0].reason == req.reason
    with open_event_store(home.state_db) as store:
        record = Lifecycle(store).get(run.strategy_id)
    assert record is not None and record.stage == "retired"


def go_live(store: EventStore, lifecycle: Lifecycle, strategy_id: str) -> str:
    """Approved onto a testnet account, and its live run begun (as `rara.trading.live` writes
    it: a start and the first bars' equity marks)."""
    move(store, lifecycle, strategy_id, "live_candidate", reason="gate 2 passed", by="gate2")
    move(store, lifecycle, strategy_id, "live", reason="approved", by="cli", account="main")
    run_id = "live_feedback_test"
    store.append(
        TradingSessionStarted(
            run_id=run_id,
            strategy_id=strategy_id,
            strategy_path="strategies/examples/donchian_breakout/strategy.py",
            account="testnet:main",
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            mode="testnet",
            feed="poll",
            trailing_window=80,
            resumed=False,
        ),
        source="trading",
        correlation_id=run_id,
        strategy_id=strategy_id,
    )
    for i, eq in enumerate(("10000", "10010", "10005")):
        store.append(
            TradingEquityMarked(
                account="testnet:main",
                symbol="BTC/USDT",
                bar_ms=1_720_000_800_000 + i * 3_600_000,
                mark=Decimal("60000"),
                cash=Decimal(eq),
                position=Decimal(0),
                equity=Decimal(eq),
                peak_equity=Decimal("10010"),
            ),
            source="trading",
            correlation_id=run_id,
            strategy_id=strategy_id,
        )
    return run_id


def sentinel(store: EventStore, severity: str, symbol: str | None) -> None:
    store.append(
        SentinelSignalDetected(
            signal="exchange_hack",
            severity=severity,  # type: ignore[arg-type]
            strategy_id=None,
            symbol=symbol,
            value=None,
            threshold=None,
            detail="feed: exchange halts withdrawals",
        ),
        source="sentinel",
    )


def test_a_critical_sentinel_signal_on_its_symbol_demotes_a_live_strategy() -> None:
    home = Home.from_env()
    run = on_paper(home)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        sentinel(store, "critical", "BTC/USDT")  # before it went live: not about this stay
        go_live(store, lifecycle, run.strategy_id)
        ev = FeedbackEvaluator(home, store, settings_with(home), lifecycle)
        assert ev.evaluate_once() == []
        sentinel(store, "warning", "BTC/USDT")
        sentinel(store, "critical", "ETH/USDT")
        assert ev.evaluate_once() == []
        sentinel(store, "critical", "BTC/USDT")
        out = ev.evaluate_once()
        assert [e.type for e in out] == [
            "feedback_research_retrain_requested",
            "feedback_strategy_demote",
        ]
        demote = out[1].typed()
        assert isinstance(demote, FeedbackStrategyDemote)
        assert demote.stage == "live" and demote.to_stage == "paper"
        assert demote.reason == "critical sentinel signal exchange_hack on BTC/USDT"
        rec = lifecycle.get(run.strategy_id)
        assert rec is not None and rec.stage == "paper" and rec.account is None


def test_the_component_evaluates_until_stopped() -> None:
    home = Home.from_env()
    on_paper(home)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        component = FeedbackComponent(
            FeedbackEvaluator(home, store, settings_with(home), lifecycle), interval_s=0.05
        )
        assert (component.name, component.kind, component.restart) == (
            "feedback",
            "feedback",
            "always",
        )
        progress, stopping = Progress(), threading.Event()
        worker = threading.Thread(target=component.run, args=(progress, stopping))
        worker.start()
        try:
            for _ in range(600):
                if progress.beats >= 3:
                    break
                stopping.wait(0.05)
        finally:
            stopping.set()
            worker.join(timeout=60)
        assert not worker.is_alive()
        assert progress.beats >= 3
        promotes = of_type(store, FeedbackStrategyPromote)
        assert [p.to_stage for p in promotes] == ["paper", "live_candidate"]  # gate 2 once


def test_live_results_below_a_fraction_of_the_backtest_demote_it_to_paper() -> None:
    """A live run over the same 30 days the backtest lost 2% on, that lost far more (its equity
    fell 0.01% a bar): below 0.5 x the backtest's annualised return, once 7 market days exist."""
    home = Home.from_env()
    run = on_paper(home)
    with open_event_store(home.state_db) as store:
        lifecycle = Lifecycle(store)
        move(store, lifecycle, run.strategy_id, "live_candidate", reason="gate 2", by="gate2")
        move(store, lifecycle, run.strategy_id, "live", reason="approved", by="cli", account="main")
        paper_start = store.query(
            EventFilter(types=[TradingSessionStarted], correlation_id=run.run_id)
        )[0].typed()
        marks = [
            m.typed()
            for m in store.query(
                EventFilter(types=[TradingEquityMarked], correlation_id=run.run_id)
            )
        ]
        live_id = "live_below_backtest"
        started = paper_start.model_copy(
            update={"run_id": live_id, "mode": "testnet", "account": "testnet:main"}
        )
        store.append(started, source="trading", correlation_id=live_id, strategy_id=run.strategy_id)
        ev = FeedbackEvaluator(home, store, settings_with(home), lifecycle)
        equity = Decimal(10_000)
        for m in marks[: 24 * 6]:  # six days: too early to judge by return
            equity *= Decimal("0.9999")
            store.append(
                m.model_copy(update={"account": "testnet:main", "equity": equity, "cash": equity}),
                source="trading",
                correlation_id=live_id,
                strategy_id=run.strategy_id,
            )
        assert ev.evaluate_once() == []
        for m in marks[24 * 6 :]:
            equity *= Decimal("0.9999")
            store.append(
                m.model_copy(update={"account": "testnet:main", "equity": equity, "cash": equity}),
                source="trading",
                correlation_id=live_id,
                strategy_id=run.strategy_id,
            )
        out = ev.evaluate_once()
        assert [e.type for e in out] == [
            "feedback_research_retrain_requested",
            "feedback_strategy_demote",
        ]
        demote = out[1].typed()
        assert isinstance(demote, FeedbackStrategyDemote) and demote.to_stage == "paper"
        assert demote.reason.startswith("testnet annualised return -")
        assert "below 0.5 x the backtest's -" in demote.reason


def test_the_component_beats_while_it_waits_for_its_next_pass() -> None:
    """Waiting out a long interval is not being stuck: without beats meanwhile, a daemon whose
    ``stall_after_s`` is below ``feedback_interval_s`` saw feedback stalled and restarted it."""
    home = Home.from_env()
    with open_event_store(home.state_db) as store:
        component = FeedbackComponent(
            FeedbackEvaluator(home, store, settings_with(home), Lifecycle(store)), interval_s=600
        )
        progress, stopping = Progress(), threading.Event()
        worker = threading.Thread(target=component.run, args=(progress, stopping))
        worker.start()
        try:
            for _ in range(1200):  # generous: a beat is due every few seconds
                if progress.beats >= 3:
                    break
                stopping.wait(0.05)
        finally:
            stopping.set()
            worker.join(timeout=60)
        assert not worker.is_alive() and component.passes == 1
        assert progress.beats >= 3  # the pass's beat, then beats while waiting
