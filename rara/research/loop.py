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
from dataclasses import dataclass, replace

from rara.domain.events import (
    EventPayload,
    HypothesisForecast,
    ResearchExperimentCompleted,
    ResearchHypothesisCreated,
    ResearchStrategyCandidate,
)
from rara.domain.gate import LearningView
from rara.domain.market import Candles, Instrument
from rara.events.store import EventStore
from rara.registry import Registry
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
    duplicate_of,
    positions,
)
from rara.research.ports import BudgetExhausted, Proposer, ProposerError
from rara.research.promote import write_paper_candidate
from rara.research.record import IterationResult
from rara.research.store import Experiment, ResearchStore
from rara.runner.sandbox import Sandbox
from rara.services.backtest import evaluate_candidate
from rara.validation.candidate import CheckedEvaluation
from rara.validation.gate import ResearchGate

EVENT_NAMESPACE = uuid.UUID("6f1c1d0e-6a51-4b8e-9a07-5e7a3c1f2b90")
SOURCE = "research.loop"


@dataclass
class RunLimits:
    iterations: int
    max_cost_usd: float | None = None
    max_duration_s: float | None = None
    fix_rounds: int = 3
    batch: int = 2  # candidates evaluated at once (one jailed child each); part of determinism


@dataclass(frozen=True)
class Repaired:
    """A candidate after its fix rounds: the last version tried, its checked evaluation, how many
    rounds it took, the LLM calls they made, and why it still fails (None: it does not)."""

    candidate: Candidate
    checked: CheckedEvaluation
    rounds: int
    calls: tuple[LlmCall, ...] = ()
    failed_check: str | None = None
    error: str | None = None


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
    ) -> None:
        self.run_id, self.seed, self.inst, self.candles = run_id, seed, inst, candles
        self.proposer, self.sandbox, self.gate = proposer, sandbox, gate
        self.store, self.lessons = store, lessons
        self.events, self.limits = events, limits
        self.registry = registry  # where a passing candidate is written
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
    def publish(self, key: str, payload: EventPayload, strategy_id_: str | None = None) -> None:
        """Each event id is a function of (run, key): a resumed run publishes nothing twice."""
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{self.run_id}/{key}"))
        if not self.events.has_event(event_id):
            self.events.append(
                payload,
                source=SOURCE,
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
                first = list(pool.map(lambda r: self.evaluate(r[2]), ready))
        else:
            first = [self.evaluate(r[2]) for r in ready]
        self._lap("sandbox", t)
        for (i, ctx, cand), checked in zip(ready, first, strict=True):
            self.iteration(i, ctx, cand, checked)

    def evaluate(self, cand: Candidate) -> CheckedEvaluation:
        """Signals on the full history and every look-ahead variant in one sandbox process, read
        once (meta, identity, look-ahead outcomes)."""
        return evaluate_candidate(
            self.sandbox, cand.source, self.candles, cand.params, seed=self.seed
        )

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
        stopped = IterationResult(
            iteration=i,
            experiment_id=experiment_id(self.run_id, i),
            outcome="error",
            failed_check="budget",
            error=exc.message,
            calls=tuple(calls),
        )
        self._finish(self.context(i), stopped)

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
            failed = IterationResult(
                iteration=i,
                experiment_id=exp_id,
                outcome="error",
                failed_check=f"proposer.{exc.code}",
                error=exc.message,
                calls=tuple(exc.calls),
            )
            self._finish(ctx, failed)
            return ctx, None
        finally:
            self._lap("propose", t)
        cand = proposal.candidate
        self.pending_calls[i] = list(proposal.calls)
        self.publish(
            f"{i}/hypothesis",
            ResearchHypothesisCreated(
                experiment_id=exp_id,
                iteration=i,
                family=cand.hypothesis.family,
                hypothesis=cand.hypothesis.hypothesis,
                origin=cand.origin,
                forecast=HypothesisForecast.model_validate(cand.hypothesis.forecast.model_dump()),
            ),
        )
        return ctx, cand

    def iteration(
        self, i: int, ctx: ProposerContext, cand: Candidate, first: CheckedEvaluation
    ) -> None:
        t = time.perf_counter()
        self.current = i
        calls = self.pending_calls.pop(i, [])
        fixed = self._evaluate_with_fixes(ctx, cand, first)
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
        twin = duplicate_of(
            pos,
            self.store.positions(
                self.inst.exchange, self.inst.symbol, str(self.inst.timeframe), pos.size
            ),
        )
        t = self._lap("checks", t)
        if twin is not None:
            duplicate = replace(
                result,
                outcome="duplicate",
                failed_check="duplicate",
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

    def _evaluate_with_fixes(
        self, ctx: ProposerContext, cand: Candidate, first: CheckedEvaluation
    ) -> Repaired:
        """Look-ahead outcomes of the first evaluation, with up to `fix_rounds` repairs (each
        re-evaluated in the sandbox), each fed the exact error."""
        rounds = 0
        checked = first
        calls: list[LlmCall] = []
        while True:
            if rounds:
                checked = self.evaluate(cand)
            failed_check, error = _why_failed(checked)
            if error is None or rounds >= self.limits.fix_rounds:
                return Repaired(cand, checked, rounds, tuple(calls), failed_check, error)
            fixed = self.proposer.fix(ctx, cand, error, rounds + 1, self.limits.fix_rounds)
            if fixed is None:
                return Repaired(cand, checked, rounds, tuple(calls), failed_check, error)
            calls += fixed.calls
            cand, rounds = fixed.candidate, rounds + 1

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

    # ---- finishing an iteration ----------------------------------------------------------------
    def _finish(self, ctx: ProposerContext, result: IterationResult) -> None:
        """Learn from the result, then write it: lesson, promotion, events, experiment row."""
        result, insight = self._reflect(ctx, result)
        experiment = result.experiment(
            self.run_id, self.proposer.name, self.inst, len(self.candles)
        )
        self.lessons.record(result.lesson(self.run_id, self.inst, self.regime, insight))
        if result.promoted:
            self._promote(result)
        self._publish_completed(result, experiment.family, insight)
        self.store.record(experiment, result.positions)
        self.finished.append(experiment)
        self._count(result.outcome, result.failed_check, result.cost_usd)
        self.on_progress(self.progress)

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
        why = f"{result.outcome}: {result.failed_check or ''} {result.error or ''}"
        return result, why.strip()[:300]

    def _promote(self, result: IterationResult) -> None:
        """Write the passing candidate as a paper candidate and publish it."""
        cand, report, checked = result.candidate, result.report, result.checked
        assert cand is not None and report is not None and checked is not None
        assert checked.meta is not None and checked.ref is not None
        promoted_path = write_paper_candidate(
            self.registry,
            self.run_id,
            result.experiment_id,
            cand,
            report,
            checked.meta.model_dump(),
            self.inst,
            self.candles,
        ).relative_to(self.registry.home.root)  # events are the same whichever home ran them
        self.publish(
            f"{result.iteration}/candidate",
            ResearchStrategyCandidate(
                experiment_id=result.experiment_id,
                name=report.strategy,
                path=str(promoted_path),
                stage="paper_candidate",
                trial_ids={k: v.trial_id for k, v in report.segments.items()},
            ),
            checked.ref.strategy_id,
        )

    def _publish_completed(self, result: IterationResult, family: str, insight: str) -> None:
        validation = result.metrics("validation")
        ref = result.ref
        self.publish(
            f"{result.iteration}/completed",
            ResearchExperimentCompleted(
                experiment_id=result.experiment_id,
                iteration=result.iteration,
                family=family,
                outcome=result.outcome,
                failed_check=result.failed_check,
                fix_rounds=result.fix_rounds,
                validation_sharpe=validation.sharpe if validation is not None else None,
                validation_trades=validation.trades if validation is not None else None,
                cost_usd=round(result.cost_usd, 10),
                insight=insight,
            ),
            ref.strategy_id if ref is not None else None,
        )


def _why_failed(checked: CheckedEvaluation) -> tuple[str | None, str | None]:
    """(failed check, error) of an evaluation the loop cannot go on with, else (None, None): the
    sandbox refused or the strategy raised, or a look-ahead check failed."""
    if checked.failed:
        return f"sandbox.{checked.sandbox_code}", checked.sandbox_error()
    bad = checked.lookahead_failure
    if bad is not None:
        return f"lookahead.{bad.name}", bad.detail
    return None, None
