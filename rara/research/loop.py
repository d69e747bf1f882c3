"""The research loop: propose -> code -> static check -> sandbox -> backtest -> gate -> learn.

One iteration, in order (every step persisted and published with the run's correlation id):

1. recall lessons for this market, build the proposer's context (history and best-so-far are
   train/validation numbers only), publish ``research_hypothesis_created``;
2. evaluate the candidate in the sandbox: static checks, signals on the full history and every
   look-ahead variant in one process; on a failure the proposer gets up to ``fix_rounds`` tries,
   each fed the exact error;
3. skip the backtest when its in-market series correlates >= 0.95 with an earlier candidate's;
4. the research gate: train and validation backtests recorded as trials, the honest checks, the
   holdout read once at the decision (the loop never learns from it);
5. a lesson and the experiment row are written, ``research_experiment_completed`` published;
   a passing candidate is written to ``$RARA_HOME/strategies/promoted/<name>/`` as a paper
   candidate and ``research_strategy_candidate`` published.

Iterations are deterministic for (seed, iteration, history), and an experiment row exists only
for finished iterations, so ``--resume`` after a crash redoes just the unfinished one; trials and
events are keyed by content, so nothing is recorded twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rara.config import rara_home
from rara.domain.gate import GateReport, LearningView
from rara.domain.market import Candles, Instrument
from rara.domain.strategy import strategy_id
from rara.events.store import EventStore
from rara.research.memory import LessonStore, tag_regime
from rara.research.models import (
    BestSoFar,
    Candidate,
    LlmCall,
    Outcome,
    ProposerContext,
    experiment_id,
)
from rara.research.outcomes import (
    DUPLICATE_CORRELATION,
    Progress,
    correlation,
    positions,
)
from rara.research.ports import BudgetExhausted, Proposer, ProposerError
from rara.research.promote import write_paper_candidate
from rara.research.record import ExperimentRow
from rara.research.store import Experiment, ResearchStore
from rara.validation import lookahead
from rara.validation.gate import ResearchGate
from rara_sandbox.results import EvaluationResult

EVENT_NAMESPACE = uuid.UUID("6f1c1d0e-6a51-4b8e-9a07-5e7a3c1f2b90")
SOURCE = "research.loop"


@dataclass
class RunLimits:
    iterations: int
    max_cost_usd: float | None = None
    max_duration_s: float | None = None
    fix_rounds: int = 3
    batch: int = 2  # candidates evaluated at once (one jailed child each); part of determinism


class ResearchLoop:
    def __init__(
        self,
        *,
        run_id: str,
        seed: int,
        inst: Instrument,
        candles: Candles,
        proposer: Proposer,
        gate: ResearchGate,
        store: ResearchStore,
        lessons: LessonStore,
        events: EventStore,
        limits: RunLimits,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.run_id, self.seed, self.inst, self.candles = run_id, seed, inst, candles
        self.proposer, self.gate, self.store, self.lessons = proposer, gate, store, lessons
        self.events, self.limits = events, limits
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress()
        split = gate.split(candles)
        # the regime is read from the data the loop may learn from: train and validation
        self.regime = tag_regime(candles.slice(0, split.validation[1]))
        self.timings: dict[str, float] = {}
        self.finished: list[Experiment] = []
        self.pending_calls: dict[int, list[LlmCall]] = {}
        self.current: int | None = None  # the iteration being proposed or finished

    # ---- events ------------------------------------------------------------------------------
    def publish(
        self, key: str, type_: str, payload: dict[str, Any], strategy_id_: str | None = None
    ) -> None:
        """Each event id is a function of (run, key): a resumed run publishes nothing twice."""
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{self.run_id}/{key}"))
        if not self.events.has_event(event_id):
            self.events.append(
                type_,
                payload,
                SOURCE,
                correlation_id=self.run_id,
                strategy_id=strategy_id_,
                event_id=event_id,
            )

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> str:
        """Run until a limit; returns the stop reason."""
        t0 = time.monotonic()
        self.finished = self.store.of_run(self.run_id)  # kept in memory as the run goes on
        done = {e.iteration: e for e in self.finished}
        for e in self.finished:
            self._count(e.outcome, e.failed_check, e.cost_usd)
        batch = max(1, self.limits.batch)
        for start in range(0, self.limits.iterations, batch):
            todo = [
                i for i in range(start, min(start + batch, self.limits.iterations)) if i not in done
            ]
            if not todo:
                continue
            if (
                self.limits.max_duration_s is not None
                and time.monotonic() - t0 >= self.limits.max_duration_s
            ):
                return "max_duration"
            if (
                self.limits.max_cost_usd is not None
                and self.progress.cost_usd >= self.limits.max_cost_usd
            ):
                return "max_cost_usd"
            try:
                self.run_batch(start, todo)
            except BudgetExhausted as exc:
                self._record_budget_stop(exc)
                return "max_cost_usd"
        return "iterations"

    def run_batch(self, start: int, todo: list[int]) -> None:
        """Propose in order, evaluate the batch's candidates concurrently (the sandbox is
        stateless), then finish each in order. Every context sees the experiments finished before
        `start`, whatever finished since, so a resumed batch redraws the same candidates."""
        proposed = [(i, self.propose(i, start)) for i in todo]
        ready = [(i, ctx, cand) for i, (ctx, cand) in proposed if cand is not None]
        t = time.perf_counter()
        if len(ready) > 1:
            with ThreadPoolExecutor(len(ready)) as pool:
                first = list(
                    pool.map(
                        lambda r: self.gate.evaluate(r[2].source, self.candles, r[2].params), ready
                    )
                )
        else:
            first = [self.gate.evaluate(r[2].source, self.candles, r[2].params) for r in ready]
        self._lap("sandbox", t)
        for (i, ctx, cand), ev in zip(ready, first, strict=True):
            self.iteration(i, ctx, cand, ev)

    def _record_budget_stop(self, exc: BudgetExhausted) -> None:
        """The call that crossed the limit happened and cost money: record its iteration as an
        error carrying every call made, so the summary's cost is the real spend."""
        calls = [c for i in sorted(self.pending_calls) for c in self.pending_calls[i]]
        calls += exc.calls
        crossing = getattr(exc, "call", None)
        if isinstance(crossing, LlmCall) and crossing not in calls:
            calls.append(crossing)
        i = self.current if self.current is not None else len(self.finished)
        if any(e.iteration == i for e in self.finished):
            return
        ctx = self.context(i)
        self._finish(
            i,
            experiment_id(self.run_id, i),
            ctx,
            None,
            "error",
            "budget",
            exc.message,
            0,
            calls,
            None,
            None,
            None,
        )

    def context(self, i: int, horizon: int | None = None) -> ProposerContext:
        """Iteration i's context from the experiments finished before `horizon` (default i)."""
        cut = i if horizon is None else horizon
        earlier = [e for e in self.finished if e.iteration < cut]
        history = [e.as_outcome() for e in earlier]
        scored = [e for e in earlier if e.validation_sharpe is not None]
        best = max(scored, key=lambda e: (e.validation_sharpe or 0.0, -e.iteration), default=None)
        recalled = self.lessons.recall(
            self.inst.symbol,
            str(self.inst.timeframe),
            f"{self.inst.symbol} {self.inst.timeframe} {self.regime}",
            k=5,
            regime=self.regime,
            # as of the horizon: lessons this run left from there on did not exist yet
            hide=(self.run_id, cut),
        )
        return ProposerContext(
            run_id=self.run_id,
            iteration=i,
            seed=self.seed,
            exchange=self.inst.exchange,
            symbol=self.inst.symbol,
            timeframe=str(self.inst.timeframe),
            regime=self.regime,
            lessons=recalled,
            history=history,
            best=None
            if best is None
            else BestSoFar(
                experiment_id=best.experiment_id,
                family=best.family,
                source=best.source,
                params=best.params,
                validation_sharpe=float(best.validation_sharpe or 0.0),
            ),
        )

    def _lap(self, name: str, t: float) -> float:
        now = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + (now - t) * 1000
        return now

    def propose(self, i: int, horizon: int) -> tuple[ProposerContext, Candidate | None]:
        """Ask the proposer; a failure finishes the iteration as an error right here."""
        t = time.perf_counter()
        self.current = i
        exp_id = experiment_id(self.run_id, i)
        ctx = self.context(i, horizon)
        try:
            proposal = self.proposer.propose(ctx)
        except ProposerError as exc:
            calls = exc.calls
            self._finish(
                i,
                exp_id,
                ctx,
                None,
                "error",
                f"proposer.{exc.code}",
                exc.message,
                0,
                calls,
                None,
                None,
                None,
            )
            return ctx, None
        finally:
            self._lap("propose", t)
        cand = proposal.candidate
        self.pending_calls[i] = list(proposal.calls)
        self.publish(
            f"{i}/hypothesis",
            "research_hypothesis_created",
            {
                "experiment_id": exp_id,
                "iteration": i,
                "family": cand.hypothesis.family,
                "hypothesis": cand.hypothesis.hypothesis,
                "origin": cand.origin,
                "forecast": cand.hypothesis.forecast.model_dump(),
            },
        )
        return ctx, cand

    def iteration(
        self, i: int, ctx: ProposerContext, cand: Candidate, first: EvaluationResult
    ) -> None:
        t = time.perf_counter()
        self.current = i
        exp_id = experiment_id(self.run_id, i)
        calls = self.pending_calls.pop(i, [])
        ev, error, failed, rounds = self._evaluate_with_fixes(ctx, cand, calls, first)
        cand = ev[1]
        evaluation = ev[0]
        t = self._lap("fixes", t)
        if error is not None:
            outcome: Outcome = "rejected" if failed and failed.startswith("lookahead") else "error"
            self._finish(
                i, exp_id, ctx, cand, outcome, failed, error, rounds, calls, evaluation, None, None
            )
            return
        assert evaluation is not None
        full = evaluation.windows[-1]
        pos = positions(full.entries, full.exits)
        twin = self._duplicate_of(pos)
        t = self._lap("checks", t)
        if twin is not None:
            self._finish(
                i,
                exp_id,
                ctx,
                cand,
                "duplicate",
                "duplicate",
                f"in-market series correlates >= {DUPLICATE_CORRELATION} with {twin}",
                rounds,
                calls,
                evaluation,
                None,
                pos,
            )
            return
        name = str((evaluation.meta or {}).get("name", cand.hypothesis.family))
        report = self.gate.judge(
            name,
            cand.source,
            self.candles,
            self.inst,
            cand.params,
            run_id=self.run_id,
            evaluation=evaluation,
        )
        t = self._lap("gate", t)
        self._finish(
            i,
            exp_id,
            ctx,
            cand,
            "paper_candidate" if report.passed else "rejected",
            report.failed[0] if report.failed else None,
            None,
            rounds,
            calls,
            evaluation,
            report,
            pos,
        )
        self._lap("record", t)

    def _evaluate_with_fixes(
        self, ctx: ProposerContext, cand: Candidate, calls: list[LlmCall], first: EvaluationResult
    ) -> tuple[tuple[EvaluationResult | None, Candidate], str | None, str | None, int]:
        """Look-ahead checks on the first evaluation, with up to `fix_rounds` repairs (each
        re-evaluated in the sandbox)."""
        rounds = 0
        ev = first
        while True:
            if rounds:
                ev = self.gate.evaluate(cand.source, self.candles, cand.params)
            error: str | None = None
            failed: str | None = None
            if not ev.ok or ev.error is not None or ev.meta is None:
                err = ev.error
                failed = f"sandbox.{err.code if err else 'unknown'}"
                error = (
                    f"{err.code}: {err.message}" + (f" (line {err.line})" if err.line else "")
                    if err
                    else "the sandbox returned no result"
                )
            else:
                bad = [o for o in lookahead.check(ev, int(ev.meta["lookback"])) if not o.passed]
                if bad:
                    failed, error = f"lookahead.{bad[0].name}", bad[0].detail
            if error is None:
                return (ev, cand), None, None, rounds
            if rounds >= self.limits.fix_rounds:
                return (ev, cand), error, failed, rounds
            fixed = self.proposer.fix(ctx, cand, error, rounds + 1, self.limits.fix_rounds)
            if fixed is None:
                return (ev, cand), error, failed, rounds
            calls += fixed.calls
            cand, rounds = fixed.candidate, rounds + 1

    def _duplicate_of(self, pos: npt.NDArray[np.bool_]) -> str | None:
        for exp_id, other in self.store.positions(
            self.inst.exchange, self.inst.symbol, str(self.inst.timeframe), pos.size
        ):
            if correlation(pos, other) >= DUPLICATE_CORRELATION:
                return exp_id
        return None

    def _count(self, outcome: str, failed: str | None, cost: float) -> None:
        p = self.progress
        p.tried += 1
        p.cost_usd += cost
        if outcome == "paper_candidate":
            p.promoted += 1
        elif outcome == "duplicate":
            p.duplicates += 1
        elif outcome == "error":
            p.errors += 1
        else:
            p.rejected[failed or "unknown"] = p.rejected.get(failed or "unknown", 0) + 1

    def _finish(
        self,
        i: int,
        exp_id: str,
        ctx: ProposerContext,
        cand: Candidate | None,
        outcome: Outcome,
        failed: str | None,
        error: str | None,
        rounds: int,
        calls: list[LlmCall],
        ev: EvaluationResult | None,
        report: GateReport | None,
        pos: npt.NDArray[np.bool_] | None,
    ) -> None:
        view = LearningView.of(report) if report is not None else None
        val = view.validation.metrics.model_dump() if view and view.validation else {}
        train = view.train.metrics.model_dump() if view and view.train else {}
        if cand is not None and view is not None:
            reflection = self.proposer.reflect(ctx, cand, view)
            insight = reflection.insight
            calls += reflection.calls
        else:
            insight = f"{outcome}: {failed or ''} {error or ''}".strip()[:300]
        meta = ev.meta if ev is not None and ev.meta else {}
        sid = strategy_id(cand.source, str(meta["version"])) if cand is not None and meta else None
        cost = float(sum(c.cost_usd for c in calls))
        row = ExperimentRow(i, exp_id, cand, outcome, failed, error, rounds, calls, ev, report)
        experiment = row.experiment(
            self.run_id, self.proposer.name, self.inst, len(self.candles), sid, cost, train, val
        )
        lesson = row.lesson(self.run_id, self.inst, self.regime, val, insight)
        family = experiment.family
        self.lessons.record(lesson)
        promoted_path = None
        if report is not None and report.passed and cand is not None:
            promoted_path = write_paper_candidate(
                self.run_id, exp_id, cand, report, meta, self.inst, self.candles
            ).relative_to(rara_home())  # events are the same whichever home ran them
            self.publish(
                f"{i}/candidate",
                "research_strategy_candidate",
                {
                    "experiment_id": exp_id,
                    "name": report.strategy,
                    "path": str(promoted_path),
                    "stage": "paper_candidate",
                    "trial_ids": {k: v.trial_id for k, v in report.segments.items()},
                },
                sid,
            )
        self.publish(
            f"{i}/completed",
            "research_experiment_completed",
            {
                "experiment_id": exp_id,
                "iteration": i,
                "family": family,
                "outcome": outcome,
                "failed_check": failed,
                "fix_rounds": rounds,
                "validation_sharpe": val.get("sharpe"),
                "validation_trades": val.get("trades"),
                "cost_usd": round(cost, 10),
                "insight": insight,
            },
            sid,
        )
        self.store.record(experiment, pos)
        self.finished.append(experiment)
        self._count(outcome, failed, cost)
        self.on_progress(self.progress)
