"""What one research run publishes per iteration: the hypothesis, the finished experiment and a
promoted candidate, each with the run's correlation id and an event id that is a function of
(run, iteration, step), so a resumed run publishes nothing twice."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

from rara.domain.events import (
    EventPayload,
    HypothesisForecast,
    ResearchExperimentCompleted,
    ResearchHypothesisCreated,
    ResearchStrategyCandidate,
    ValidationGateWeakened,
)
from rara.domain.gate import GateReport, WeakenedThreshold
from rara.events.store import EventStore
from rara.research.models import Candidate
from rara.research.record import IterationResult

EVENT_NAMESPACE = uuid.UUID("6f1c1d0e-6a51-4b8e-9a07-5e7a3c1f2b90")
SOURCE = "research.loop"


class RunEvents:
    """The event log as one run writes to it."""

    def __init__(self, events: EventStore, run_id: str) -> None:
        self.events, self.run_id = events, run_id

    def publish(self, key: str, payload: EventPayload, strategy_id: str | None = None) -> None:
        """Each event id is a function of (run, key): a resumed run publishes nothing twice."""
        event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{self.run_id}/{key}"))
        if not self.events.has_event(event_id):
            self.events.append(
                payload,
                source=SOURCE,
                correlation_id=self.run_id,
                strategy_id=strategy_id,
                event_id=event_id,
            )

    def weakened(self, thresholds: list[WeakenedThreshold]) -> None:
        """``validation_gate_weakened``: the run's gate has loosened thresholds (once per distinct
        set, so a resume with the same settings publishes nothing new)."""
        if not thresholds:
            return
        body = json.dumps([t.model_dump() for t in thresholds], sort_keys=True)
        key = "weakened/" + hashlib.sha256(body.encode()).hexdigest()[:16]
        self.publish(key, ValidationGateWeakened(gate="research", thresholds=thresholds))

    def hypothesis(self, iteration: int, experiment_id: str, cand: Candidate) -> None:
        """``research_hypothesis_created``: what the proposer means to try, before any code ran."""
        self.publish(
            f"{iteration}/hypothesis",
            ResearchHypothesisCreated(
                experiment_id=experiment_id,
                iteration=iteration,
                family=cand.hypothesis.family,
                hypothesis=cand.hypothesis.hypothesis,
                origin=cand.origin,
                forecast=HypothesisForecast.model_validate(cand.hypothesis.forecast.model_dump()),
            ),
        )

    def completed(self, result: IterationResult, family: str, insight: str) -> None:
        """``research_experiment_completed``: how the iteration ended (never a holdout figure)."""
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
                validation_sharpe=result.validation_sharpe,
                validation_trades=result.validation_trades,
                cost_usd=round(result.cost_usd, 10),
                insight=insight,
            ),
            ref.strategy_id if ref is not None else None,
        )

    def candidate(
        self, result: IterationResult, report: GateReport, path: Path, strategy_id: str
    ) -> None:
        """``research_strategy_candidate``: a passing candidate, written at `path` (relative to
        the home, so the event is the same whichever home ran it)."""
        self.publish(
            f"{result.iteration}/candidate",
            ResearchStrategyCandidate(
                experiment_id=result.experiment_id,
                name=report.strategy,
                path=str(path),
                stage="paper_candidate",
                trial_ids={k: v.trial_id for k, v in report.segments.items()},
            ),
            strategy_id,
        )
