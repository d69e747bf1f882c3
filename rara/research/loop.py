"""The research loop: propose -> code -> static check -> sandbox -> backtest -> gate -> learn.

One iteration, in order (every step persisted and published with the run's correlation id):

1. recall lessons for this market, build the proposer's context (history and best-so-far are
   train/validation numbers only), publish ``research_hypothesis_created``;
2. evaluate the candidate in the sandbox: static checks, signals on the full history and every
   look-ahead variant in one process; on a failure the proposer gets up to ``fix_rounds`` tries,
   each fed the exact error;
3. skip the backtest when its in-market series before the holdout correlates >= 0.95 with an
   earlier candidate's;
4. the research gate: train and validation backtests recorded as trials, the honest checks, the
   holdout read once at the decision (the loop never learns from it);
5. a lesson (its outcome the learnable one: ``passed_checks`` whatever the holdout said) and the
   experiment row (the real decision) are written, ``research_experiment_completed`` published;
   a passing candidate is written to ``$RARA_HOME/strategies/promoted/<name>/`` as a paper
   candidate and ``research_strategy_candidate`` published.

Iterations are deterministic for (seed, iteration, history), and an experiment row exists only
for finished iterations, so ``--resume`` after a crash redoes just the unfinished one; trials and
events are keyed by content, so nothing is recorded twice.

`ResearchLoop` is that iteration as a spec; its parts live beside it: `context` (what a proposer is
handed), `repair` (the fix rounds and the budget stop), `record` (the row and the lesson) and
`publish` (the events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from rara.domain.gate import LearningView
from rara.domain.market import Candles, Instrument
from rara.events.store import EventStore
from rara.registry import Registry
from rara.research.context import ContextBuilder
from rara.research.duplicates import DuplicateIndex
from rara.research.executor import CandidateExecutor, EvaluationJob, JobResult, ResultFuture
from rara.research.executor_threads import ThreadExecutor
from rara.research.memory import LessonStore
from rara.research.models import (
    DUPLICATE,
    Candidate,
    LlmCall,
    Outcome,
    ProposerContext,
    StopReason,
    experiment_id,
    learnable_outcome,
    proposer_failure,
)
from rara.research.outcomes import DUPLICATE_CORRELATION, Progress, positions
from rara.research.ports import BudgetExhausted, Proposer, ProposerError
from rara.research.promote import write_paper_candidate
from rara.research.publish import RunEvents
from rara.research.record import IterationResult
from rara.research.regime import tag_regime
from rara.research.repair import budget_stop, repair
from rara.research.store import Experiment, ResearchStore
from rara.runner.sandbox import Sandbox
from rara.services.backtest import CandidateProver
from rara.validation.candidate import CheckedEvaluation
from rara.validation.gate import ResearchGate


@dataclass
class RunLimits:
    iterations: int
    max_cost_usd: float | None = None
    max_duration_s: float | None = None
    fix_rounds: int = 3
    batch: int = 2  # candidates evaluated at once (one jailed child each); part of determinism
    # asked before each batch; True stops the run where it is, unended, so it resumes like
    # a run that was killed there (the daemon's stop)
    should_stop: Callable[[], bool] = lambda: False


class ResearchStopped(Exception):
    """`RunLimits.should_stop` said stop: the run is left open, resumable from its next batch."""


class ResearchLoop:
    def __init__(
        self,
        *,
        run_id: str,
        seed: int,
        inst: Instrument,
        candles: Candles,
        proposer: Proposer,
        sandbox: Sandbox,
        gate: ResearchGate,
        store: ResearchStore,
        lessons: LessonStore,
        events: EventStore,
        registry: Registry,
        limits: RunLimits,
        on_progress: Callable[[Progress], None] | None = None,
        executor: CandidateExecutor | None = None,
    ) -> None:
        self.run_id, self.seed, self.inst, self.candles = run_id, seed, inst, candles
        self.proposer, self.sandbox, self.gate = proposer, sandbox, gate
        self.store, self.lessons = store, lessons
        self.events, self.limits = RunEvents(events, run_id), limits
        self.registry = registry  # where a passing candidate is written
        self.on_progress = on_progress or (lambda p: None)
        self.progress = Progress()
        split = gate.split(candles)
        # what the loop may learn from ends where the holdout starts: the regime is read from
        # train and validation, duplicates are compared on those bars alone, and a look-ahead
        # failure first seen later is kept for the gate's hidden decision
        self.learnable_bars = split.holdout[0]
        self.regime = tag_regime(candles.slice(0, split.validation[1]))
        self.twins = DuplicateIndex(
            store, inst.exchange, inst.symbol, str(inst.timeframe), self.learnable_bars
        )
        self.contexts = ContextBuilder(run_id, seed, inst, self.regime, lessons)
        self.timings: dict[str, float] = {}
        self.finished: list[Experiment] = []
        self.pending_calls: dict[int, list[LlmCall]] = {}
        self.current: int | None = None  # the iteration being proposed or finished
        # where first evaluations run (`rara.research.executor`); without one, the host's
        # sandbox in threads, closed when the run ends
        self._owns_executor = executor is None
        self.executor: CandidateExecutor = executor or ThreadExecutor(
            sandbox, threads=max(1, limits.batch)
        )
        self.data = self.executor.data(candles)

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> StopReason:
        """Run until a limit; returns the stop reason."""
        try:
            return self._run()
        finally:
            if self._owns_executor:
                self.executor.close()

    def _run(self) -> StopReason:
        t0 = time.monotonic()
        self.finished = self.store.of_run(self.run_id)  # kept in memory as the run goes on
        done = {e.iteration: e for e in self.finished}
        for e in self.finished:
            self.progress.count(e.outcome, e.failed_check, e.cost_usd)
        batch = max(1, self.limits.batch)
        for start in range(0, self.limits.iterations, batch):
            todo = [
                i for i in range(start, min(start + batch, self.limits.iterations)) if i not in done
            ]
            if not todo:
                continue
            if self.limits.should_stop():
                raise ResearchStopped(self.run_id)
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
        `start`, whatever finished since, so a resumed batch redraws the same candidates.

        The batch's appends are committed one by one as before and anchored once, when it ends
        (`RunEvents.anchored_once`)."""
        with self.events.anchored_once():
            proposed = [(i, self.propose(i, start)) for i in todo]
            ready = [(i, ctx, cand) for i, (ctx, cand) in proposed if cand is not None]
            t = time.perf_counter()
            first = self.evaluate_all([r[2] for r in ready])
            self._lap("sandbox", t)
            for (i, ctx, cand), checked in zip(ready, first, strict=True):
                self.iteration(i, ctx, cand, checked)
            t = time.perf_counter()
        self._lap("anchor", t)  # waiting for the last batch's anchor, handing off this one's

    def evaluate(self, cand: Candidate) -> CheckedEvaluation:
        """Signals on the full history and every look-ahead variant in one sandbox process, read
        once (meta, identity, look-ahead outcomes)."""
        return self.evaluate_all([cand])[0]

    def evaluate_all(self, cands: list[Candidate]) -> list[CheckedEvaluation]:
        """Submit every candidate's job at once, then read the answers in candidate order
        (whichever worker finished first). Equal jobs are submitted, and read, once."""
        jobs = [
            EvaluationJob.of(
                c.source,
                c.params,
                self.data,
                self.seed,
                self.learnable_bars,
                self.executor.limits,
            )
            for c in cands
        ]
        unique = list({job.job_id: job for job in jobs}.values())
        futures: dict[str, ResultFuture] = {
            job.job_id: f for job, f in zip(unique, self.executor.submit_batch(unique), strict=True)
        }
        answers: dict[str, CheckedEvaluation] = {}
        for job in jobs:
            if job.job_id not in answers:
                answer = JobResult.model_validate_json(futures[job.job_id].result())
                ev = answer.evaluation(job)
                answers[job.job_id] = CheckedEvaluation.of(job.source, ev, self.learnable_bars)
        return [answers[job.job_id] for job in jobs]

    def _record_budget_stop(self, exc: BudgetExhausted) -> None:
        """Finish the iteration the cost limit stopped (see `repair.budget_stop`)."""
        i = self.current if self.current is not None else len(self.finished)
        if any(e.iteration == i for e in self.finished):
            return
        self._finish(self.context(i), budget_stop(exc, self.run_id, i, self.pending_calls))

    def context(self, i: int, horizon: int | None = None) -> ProposerContext:
        """Iteration i's context from the experiments finished before `horizon` (default i)."""
        return self.contexts.of(self.finished, i, horizon)

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
            failed = IterationResult(
                iteration=i,
                experiment_id=exp_id,
                outcome="error",
                failed_check=proposer_failure(exc.code),
                error=exc.message,
                calls=tuple(exc.calls),
            )
            self._finish(ctx, failed)
            return ctx, None
        finally:
            self._lap("propose", t)
        self.pending_calls[i] = list(proposal.calls)
        self.events.hypothesis(i, exp_id, proposal.candidate)
        return ctx, proposal.candidate

    def iteration(
        self, i: int, ctx: ProposerContext, cand: Candidate, first: CheckedEvaluation
    ) -> None:
        t = time.perf_counter()
        self.current = i
        calls = self.pending_calls.get(i, [])  # until finished: a budget stop still counts them
        fixed = repair(self.proposer, self.evaluate, ctx, cand, first, self.limits.fix_rounds)
        t = self._lap("fixes", t)
        result = IterationResult(
            iteration=i,
            experiment_id=experiment_id(self.run_id, i),
            outcome="error",
            candidate=fixed.candidate,
            fix_rounds=fixed.rounds,
            calls=(*calls, *fixed.calls),
            checked=fixed.checked,
        )
        if fixed.failed_check is not None:
            lookahead_failed = fixed.failed_check.startswith("lookahead")
            outcome: Outcome = "rejected" if lookahead_failed else "error"
            failed = replace(
                result, outcome=outcome, failed_check=fixed.failed_check, error=fixed.error
            )
            self._finish(ctx, failed)
            return
        full = fixed.checked.evaluation.windows[-1]
        pos = positions(full.entries, full.exits)
        twin = self.twins.twin_of(pos)
        t = self._lap("checks", t)
        if twin is not None:
            duplicate = replace(
                result,
                outcome="duplicate",
                failed_check=DUPLICATE,
                error=f"in-market series correlates >= {DUPLICATE_CORRELATION} with {twin}",
                positions=pos,
            )
            self._finish(ctx, duplicate)
            return
        meta = fixed.checked.meta
        report = self.gate.judge(
            fixed.checked,
            name=meta.name if meta is not None else fixed.candidate.hypothesis.family,
            candles=self.candles,
            inst=self.inst,
            run_id=self.run_id,
            prove=CandidateProver(
                self.sandbox, fixed.checked, self.candles, fixed.candidate.params
            ),
        )
        t = self._lap("gate", t)
        judged = replace(
            result,
            outcome="paper_candidate" if report.passed else "rejected",
            failed_check=report.failed[0] if report.failed else None,
            report=report,
            positions=pos,
        )
        self._finish(ctx, judged)
        self._lap("record", t)

    # ---- finishing an iteration ----------------------------------------------------------------
    def _finish(self, ctx: ProposerContext, result: IterationResult) -> None:
        """Learn from the result, then write it: lesson, promotion, events, experiment row. A
        feedback call that crosses the cost limit leaves the verdict standing: it is written with
        that call, then the run stops."""
        stopped: BudgetExhausted | None = None
        try:
            result, insight = self._reflect(ctx, result)
        except BudgetExhausted as exc:
            stopped, insight = exc, f"no insight: {exc.message}"
            result = replace(result, calls=(*result.calls, *exc.calls))
        self.pending_calls.pop(result.iteration, None)
        experiment = result.experiment(
            self.run_id, self.proposer.name, self.inst, len(self.candles)
        )
        self.lessons.record(result.lesson(self.run_id, self.inst, self.regime, insight))
        if result.promoted:
            self._promote(result)
        self.events.record_completed(self.store, experiment, result, insight)
        # without the gate report and LLM transcript: later contexts never read them, and kept
        # for every candidate they would grow the run's memory by kilobytes each
        self.finished.append(experiment.without_details())
        self.progress.count(result.outcome, result.failed_check, result.cost_usd)
        self.on_progress(self.progress)
        if stopped is not None:
            raise stopped

    def _reflect(
        self, ctx: ProposerContext, result: IterationResult
    ) -> tuple[IterationResult, str]:
        """The one-line insight: the proposer's own reflection on a gate report (its calls added
        to the result), else the outcome and why."""
        report, cand = result.report, result.candidate
        view = LearningView.of(report) if report is not None else None
        if cand is not None and view is not None:
            reflection = self.proposer.reflect(ctx, cand, view)
            calls = (*result.calls, *reflection.calls)
            return replace(result, calls=calls), reflection.insight
        outcome = learnable_outcome(result.outcome, result.failed_check)
        why = f"{outcome}: {result.failed_check or ''} {result.error or ''}"
        return result, why.strip()[:300]

    def _promote(self, result: IterationResult) -> None:
        """Write the passing candidate as a paper candidate and publish it."""
        cand, report, checked = result.candidate, result.report, result.checked
        assert cand is not None and report is not None and checked is not None
        assert checked.meta is not None and checked.ref is not None
        written = write_paper_candidate(
            self.registry,
            self.run_id,
            result.experiment_id,
            cand,
            report,
            checked.meta.model_dump(),
            self.inst,
            self.candles,
        )
        # relative to the home: events are the same whichever home ran them
        promoted_path = self.registry.home.relative(written)
        self.events.candidate(result, report, promoted_path, checked.ref.strategy_id)
