"""What one finished iteration leaves behind: its experiment row and its lesson.

Pure construction from what the loop gathered; the loop decides when to write them (see
`ResearchLoop._finish`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rara.domain.gate import GateReport
from rara.domain.market import Instrument
from rara.domain.strategy import source_sha256
from rara.research.models import (
    Candidate,
    Forecast,
    Lesson,
    LlmCall,
    Outcome,
    Regime,
    gate_check_of,
    learnable_failure,
)
from rara.research.store import Experiment
from rara_sandbox.results import EvaluationResult


@dataclass(frozen=True)
class ExperimentRow:
    iteration: int
    experiment_id: str
    candidate: Candidate | None
    outcome: Outcome
    failed_check: str | None
    error: str | None
    fix_rounds: int
    calls: list[LlmCall]
    evaluation: EvaluationResult | None
    report: GateReport | None

    def experiment(
        self,
        run_id: str,
        proposer: str,
        inst: Instrument,
        n_bars: int,
        strategy_id: str | None,
        cost_usd: float,
        train: dict[str, Any],
        validation: dict[str, Any],
    ) -> Experiment:
        cand, ev = self.candidate, self.evaluation
        source = cand.source if cand is not None else ""
        params = (ev.params if ev is not None and ev.params else None) or (
            cand.params if cand is not None else None
        )
        # key order as the store keeps it (sorted JSON): a resumed run reads history back from
        # the store, and what the proposer learns from must not depend on which it got
        return Experiment(
            experiment_id=self.experiment_id, run_id=run_id, iteration=self.iteration,
            proposer=proposer, origin=cand.origin if cand is not None else "none",
            family=cand.hypothesis.family if cand is not None else "none",
            hypothesis=cand.hypothesis.model_dump(mode="json") if cand is not None else {},
            source=source, source_sha256=source_sha256(source), strategy_id=strategy_id,
            params=dict(sorted(params.items())) if params is not None else None,
            outcome=self.outcome, failed_check=self.failed_check, error=self.error,
            fix_rounds=self.fix_rounds, train_sharpe=train.get("sharpe"),
            validation_sharpe=validation.get("sharpe"),
            validation_trades=validation.get("trades"),
            forecast=cand.hypothesis.forecast if cand is not None else Forecast(),
            cost_usd=cost_usd, llm_calls=[c.model_dump(mode="json") for c in self.calls],
            report=self.report.model_dump(mode="json") if self.report is not None else None,
            n_bars=n_bars, exchange=inst.exchange, symbol=inst.symbol,
            timeframe=str(inst.timeframe), timings={},
        )  # fmt: skip

    def lesson(
        self,
        run_id: str,
        inst: Instrument,
        regime: Regime,
        validation: dict[str, Any],
        insight: str,
    ) -> Lesson:
        cand = self.candidate
        return Lesson(
            experiment_id=self.experiment_id, run_id=run_id, iteration=self.iteration,
            hypothesis=cand.hypothesis.hypothesis if cand is not None else "(no proposal)",
            family=cand.hypothesis.family if cand is not None else "none", symbol=inst.symbol,
            timeframe=str(inst.timeframe), regime=regime, outcome=self.outcome,
            failed_check=gate_check_of(self.failed_check),
            failure=learnable_failure(self.failed_check),
            validation_sharpe=validation.get("sharpe"),
            validation_trades=validation.get("trades"), insight=insight,
        )  # fmt: skip
