"""Feedback on paper and live strategies, one pass at a time (`FeedbackEvaluator.evaluate_once`):

- a strategy at ``paper`` whose paper run ended (a replay out of bars) without passing gate 2 is
  retired: no more evidence will come;
- a strategy at ``paper`` with a paper run: drawdown beyond ``feedback.retire_drawdown`` retires
  it; else gate 2 (`rara.feedback.gate2`) promotes it to ``live_candidate`` when every check
  passes, or holds it with the report when the verdict (which checks fail) changed since the
  last hold (a hold per bar would bury the log);
- a strategy at ``live`` with a live run: drawdown beyond the retirement limit retires it; a
  critical ``sentinel_signal_detected`` on its symbol (or market-wide) since it went live demotes
  it to paper (``feedback.demote_on_critical``); its annualised return below
  ``feedback.min_live_fraction`` x the backtest's over the same bars, once
  ``feedback.min_days_to_judge`` market days exist, demotes it to paper.

Every demotion is preceded by a ``feedback_research_retrain_requested`` for the strategy's
market, with the reason. Decisions are idempotent across restarts: their event ids are
deterministic over (strategy, the lifecycle event that put it at its stage), and a strategy is
only ever moved from the stage it is found at, so a second pass, or a restarted daemon, appends
nothing it appended before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from rara.config import Settings
from rara.domain.events import FeedbackResearchRetrainRequested, SentinelSignalDetected
from rara.domain.lifecycle import Gate2Report, Stage
from rara.events import Event, EventFilter, EventStore
from rara.feedback import metrics
from rara.feedback.gate2 import judge_run
from rara.feedback.lifecycle import SOURCE, Lifecycle, StrategyRecord, hold, move
from rara.feedback.runs import (
    LIVE_MODES,
    PAPER_MODES,
    RunReader,
    RunRecord,
    SameBarsBacktest,
    backtest_over_run,
    latest_run,
)
from rara.home import Home

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Demotion:
    """Why a strategy leaves its stage, and where to."""

    to_stage: Stage
    reason: str


class FeedbackEvaluator:
    """Judges every paper and live strategy once per `evaluate_once` call."""

    def __init__(
        self,
        home: Home,
        store: EventStore,
        settings: Settings,
        lifecycle: Lifecycle,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.home, self.store, self.settings, self.lifecycle = home, store, settings, lifecycle
        self.clock_ms = clock_ms
        self.last_evaluated_ms: int | None = None
        # (run id, last bar judged) -> the backtest over its bars: a pass with no new bar
        # starts no sandbox
        self._backtests: dict[tuple[str, int], SameBarsBacktest | None] = {}
        self._runs = RunReader(store)
        self._judged: set[str] = set()  # the runs this pass read (the reader keeps only those)

    def evaluate_once(self) -> list[Event]:
        """One pass over the paper and live strategies; the events it appended."""
        self.lifecycle.refresh()
        out: list[Event] = []
        self._judged = set()
        for rec in self.lifecycle.strategies("paper"):
            out += self._paper(rec)
        for rec in self.lifecycle.strategies("live"):
            out += self._live(rec)
        self._runs.forget(self._judged)
        self.last_evaluated_ms = self.clock_ms()
        return out

    # ---- paper -----------------------------------------------------------------------------
    def _paper(self, rec: StrategyRecord) -> list[Event]:
        run = self._run(rec, PAPER_MODES)
        if run is None:
            return []
        results = run.results()
        drawdown = self._drawdown(results, "paper")
        if drawdown is not None:
            return self._demote(rec, run, drawdown)
        report = judge_run(run, self._backtest(run), self.settings.gates.paper)
        if report.passed:
            return [
                move(
                    self.store,
                    self.lifecycle,
                    rec.strategy_id,
                    "live_candidate",
                    reason=f"gate 2 passed on {report.bars} paper bars",
                    by="gate2",
                    report=report,
                    event_id=_decision_id("gate2", rec),
                )
            ]
        reason = "gate 2: " + ", ".join(
            f"{c.name} {_num(c.value)} vs {_num(c.threshold)}"
            for c in report.checks
            if not c.passed
        )
        if run.ended:  # a replay out of bars: no more evidence will come, so it is judged now
            return self._demote(rec, run, Demotion("retired", f"paper run ended; {reason}"))
        if _same_verdict(rec.last_report, report):
            return []
        return [
            hold(
                self.store,
                self.lifecycle,
                rec.strategy_id,
                reason=reason,
                by="gate2",
                report=report,
            )
        ]

    # ---- live ------------------------------------------------------------------------------
    def _live(self, rec: StrategyRecord) -> list[Event]:
        run = self._run(rec, LIVE_MODES)
        if run is None:
            return []
        results = run.results()
        demotion = self._drawdown(results, "live")
        if demotion is None and self.settings.feedback.demote_on_critical:
            demotion = self._critical(rec, results.symbol)
        if demotion is None:
            demotion = self._below_backtest(run, results)
        return [] if demotion is None else self._demote(rec, run, demotion)

    def _critical(self, rec: StrategyRecord, symbol: str) -> Demotion | None:
        """A critical sentinel signal on `symbol` or market-wide since the strategy went live."""
        for ev in self.store.iter_query(
            EventFilter(types=[SentinelSignalDetected]), after_seq=rec.since_seq
        ):
            p = ev.typed()
            if (
                isinstance(p, SentinelSignalDetected)
                and p.severity == "critical"
                and (p.symbol is None or p.symbol == symbol)
                and (p.strategy_id is None or p.strategy_id == rec.strategy_id)
            ):
                where = p.symbol or "the whole market"
                return Demotion("paper", f"critical sentinel signal {p.signal} on {where}")
        return None

    def _below_backtest(self, run: RunRecord, r: metrics.RunResults) -> Demotion | None:
        fb = self.settings.feedback
        if r.days < fb.min_days_to_judge or r.annual_return is None:
            return None
        backtest = self._backtest(run)
        if backtest is None:
            return None  # no candles of its bars here: nothing to hold it to
        n = len(run.bar_ms) if run.ended else len(run.bar_ms) - 1
        expected = metrics.annual_return(backtest.equity[:n], metrics.bars_per_year(r.timeframe))
        if expected is None:
            return None
        floor = fb.min_live_fraction * expected
        if r.annual_return >= floor:
            return None
        return Demotion(
            "paper",
            f"{r.mode} annualised return {r.annual_return:.1%} below {fb.min_live_fraction:g} x "
            f"the backtest's {expected:.1%} over the same {r.days:g} days",
        )

    # ---- shared ----------------------------------------------------------------------------
    def _drawdown(self, r: metrics.RunResults, stage: str) -> Demotion | None:
        limit = self.settings.feedback.retire_drawdown
        if r.max_drawdown is None or r.max_drawdown <= limit:
            return None
        return Demotion("retired", f"{stage} drawdown {r.max_drawdown:.1%} beyond {limit:.0%}")

    def _demote(self, rec: StrategyRecord, run: RunRecord, d: Demotion) -> list[Event]:
        """The retrain request, then the move (a crash between them: the next pass finds the
        strategy where it was, the request already there, and makes the move)."""
        out: list[Event] = []
        request_id = _decision_id("retrain", rec)
        if not self.store.has_event(request_id):
            s = run.started
            out.append(
                self.store.append(
                    FeedbackResearchRetrainRequested(
                        strategy_id=rec.strategy_id,
                        stage=rec.stage,
                        reason=d.reason,
                        decided_by="feedback",
                        exchange=s.exchange,
                        symbol=s.symbol,
                        timeframe=s.timeframe,
                    ),
                    source=SOURCE,
                    strategy_id=rec.strategy_id,
                    correlation_id=run.run_id,
                    event_id=request_id,
                )
            )
        out.append(
            move(
                self.store,
                self.lifecycle,
                rec.strategy_id,
                d.to_stage,
                reason=d.reason,
                by="feedback",
                event_id=_decision_id("demote", rec),
            )
        )
        log.info("feedback: %s (%s) -> %s: %s", rec.name, rec.strategy_id, d.to_stage, d.reason)
        return out

    def _run(self, rec: StrategyRecord, modes: tuple[str, ...]) -> RunRecord | None:
        run_id = latest_run(self.store, rec.strategy_id, modes, after_seq=rec.since_seq)
        if run_id is None:
            return None
        self._judged.add(run_id)
        return self._runs.read(run_id)

    def _backtest(self, run: RunRecord) -> SameBarsBacktest | None:
        if len(run.bar_ms) < 2:
            return None
        key = (run.run_id, int(run.bar_ms[-1]))
        if key not in self._backtests:
            self._backtests = {k: v for k, v in self._backtests.items() if k[0] != run.run_id}
            self._backtests[key] = backtest_over_run(self.home, self.settings, run)
        return self._backtests[key]


def _decision_id(kind: str, rec: StrategyRecord) -> str:
    # one decision of each kind per stay at a stage: the stay is the event that began it
    return f"feedback:{kind}:{rec.strategy_id}:{rec.since_seq}"


def _same_verdict(last: Gate2Report | None, report: Gate2Report) -> bool:
    return (
        last is not None
        and last.run_id == report.run_id
        and last.passed == report.passed
        and last.failed == report.failed
    )


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"
