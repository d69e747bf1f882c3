"""What one iteration of the research loop ended with, and what it leaves behind: the experiment
row and the lesson.

`IterationResult` is the one typed value every path through an iteration ends in (a proposer
error, a budget stop, a sandbox or look-ahead failure after the fix rounds, a duplicate, a gate
verdict); the loop's finishing steps read it (see `ResearchLoop._finish`). Building the row and
the lesson from it is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rara.domain.gate import GateReport, Segment
from rara.domain.market import Instrument
from rara.domain.performance import Metrics
from rara.domain.strategy import StrategyRef, source_sha256
from rara.research.models import (
    NO_ORIGIN,
    Candidate,
    Forecast,
    Lesson,
    LlmCall,
    Outcome,
    Regime,
    gate_check_of,
    learnable_failure,
    learnable_outcome,
)
from rara.research.store import Experiment
from rara.validation.candidate import CheckedEvaluation


@dataclass(frozen=True)
class IterationResult:
    """How iteration `iteration` ended: the candidate (None when the proposer gave none), the
    outcome and why, the LLM calls it made, its checked evaluation, gate report and in-market
    series (each None when the iteration did not get that far)."""

    iteration: int
    experiment_id: str
    outcome: Outcome
    candidate: Candidate | None = None
    failed_check: str | None = None
    error: str | None = None
    fix_rounds: int = 0
    calls: tuple[LlmCall, ...] = ()
    checked: CheckedEvaluation | None = None
    report: GateReport | None = None
    positions: npt.NDArray[np.bool_] | None = field(default=None, compare=False)

    @property
    def ref(self) -> StrategyRef | None:
        """The candidate's identity, when its meta was read (computed once, at the evaluation)."""
        return self.checked.ref if self.checked is not None else None

    @property
    def cost_usd(self) -> float:
        return float(sum(c.cost_usd for c in self.calls))

    @property
    def promoted(self) -> bool:
        return self.report is not None and self.report.passed and self.candidate is not None

    def metrics(self, segment: Segment) -> Metrics | None:
        """A segment's metrics from the gate report (never the holdout's: callers ask for train
        and validation)."""
        if self.report is None or segment not in self.report.segments:
            return None
        return self.report.segments[segment].metrics

    @property
    def validation_sharpe(self) -> float | None:
        validation = self.metrics("validation")
        return validation.sharpe if validation is not None else None

    @property
    def validation_trades(self) -> int | None:
        validation = self.metrics("validation")
        return validation.trades if validation is not None else None

    def experiment(self, run_id: str, proposer: str, inst: Instrument, n_bars: int) -> Experiment:
        cand, ev = self.candidate, self.checked.evaluation if self.checked is not None else None
        source = cand.source if cand is not None else ""
        params = (ev.params if ev is not None and ev.params else None) or (
            cand.params if cand is not None else None
        )
        train = self.metrics("train")
        ref = self.ref
        return Experiment(
            experiment_id=self.experiment_id,
            run_id=run_id,
            iteration=self.iteration,
            proposer=proposer,
            origin=cand.origin if cand is not None else NO_ORIGIN,
            family=cand.hypothesis.family if cand is not None else "none",
            hypothesis=cand.hypothesis.model_dump(mode="json") if cand is not None else {},
            source=source,
            source_sha256=ref.source_sha256 if ref is not None else source_sha256(source),
            strategy_id=ref.strategy_id if ref is not None else None,
            # key order as the store keeps it (sorted JSON): a resumed run reads history back
            # from the store, and what the proposer learns from must not depend on which it got
            params=dict(sorted(params.items())) if params is not None else None,
            outcome=self.outcome,
            failed_check=self.failed_check,
            error=self.error,
            fix_rounds=self.fix_rounds,
            train_sharpe=train.sharpe if train is not None else None,
            validation_sharpe=self.validation_sharpe,
            validation_trades=self.validation_trades,
            forecast=cand.hypothesis.forecast if cand is not None else Forecast(),
            cost_usd=self.cost_usd,
            llm_calls=[c.model_dump(mode="json") for c in self.calls],
            report=self.report.model_dump(mode="json") if self.report is not None else None,
            n_bars=n_bars,
            exchange=inst.exchange,
            symbol=inst.symbol,
            timeframe=str(inst.timeframe),
        )

    def lesson(self, run_id: str, inst: Instrument, regime: Regime, insight: str) -> Lesson:
        cand = self.candidate
        return Lesson(
            experiment_id=self.experiment_id,
            run_id=run_id,
            iteration=self.iteration,
            hypothesis=cand.hypothesis.hypothesis if cand is not None else "(no proposal)",
            family=cand.hypothesis.family if cand is not None else "none",
            symbol=inst.symbol,
            timeframe=str(inst.timeframe),
            regime=regime,
            outcome=learnable_outcome(self.outcome, self.failed_check),
            failed_check=gate_check_of(self.failed_check),
            failure=learnable_failure(self.failed_check),
            validation_sharpe=self.validation_sharpe,
            validation_trades=self.validation_trades,
            insight=insight,
        )
