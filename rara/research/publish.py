"""What one research run publishes per iteration: the hypothesis, the finished experiment and a
promoted candidate, each with the run's correlation id and an event id that is a function of
(run, iteration, step), so a resumed run publishes nothing twice.

The finished experiment's event is written in the transaction of its experiment row
(`RunEvents.record_completed`), and a batch of iterations anchors the log once
(`RunEvents.anchored_once`): what reaches the log is the same, in the same order, in fewer
syncs."""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import AbstractContextManager
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
from rara.events.anchor import anchoring_deferred
from rara.events.model import EventDraft
from rara.events.store import EventStore
from rara.research.models import Candidate
from rara.research.record import IterationResult
from rara.research.store import Experiment, ResearchStore

EVENT_NAMESPACE = uuid.UUID("6f1c1d0e-6a51-4b8e-9a07-5e7a3c1f2b90")
SOURCE = "research.loop"


class RunEvents:
    """The event log as one run writes to it."""

    def __init__(self, events: EventStore, run_id: str) -> None:
        self.events, self.run_id = events, run_id

    def anchored_once(self) -> AbstractContextManager[None]:
        """A scope (one batch of iterations) whose appends to the state DB, from any of its
        stores, are anchored once, at its end: the anchor's syncs are paid per batch, not per
        row, in a background thread that the next batch's end waits for (`rara.events.anchor`),
        so they overlap that batch's work."""
        return anchoring_deferred(self.events.path, in_background=True)

    def draft(self, key: str, payload: EventPayload, strategy_id: str | None = None) -> EventDraft:
        """The run's event under `key`: its id is a function of (run, key), so a resumed run
        publishes nothing twice."""
        return EventDraft(
            payload=payload,
            source=SOURCE,
            correlation_id=self.run_id,
            strategy_id=strategy_id,
            event_id=str(uuid.uuid5(EVENT_NAMESPACE, f"{self.run_id}/{key}")),
        )

    def publish(self, key: str, payload: EventPayload, strategy_id: str | None = None) -> None:
        """Append the run's event under `key`, unless a resumed run already did."""
        self._send(self.draft(key, payload, strategy_id))

    def _send(self, draft: EventDraft) -> None:
        assert draft.event_id is not None  # every draft of a run has its deterministic id
        if not self.events.has_event(draft.event_id):
            self.events.append_many([draft])

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

    def record_completed(
        self, store: ResearchStore, experiment: Experiment, result: IterationResult, insight: str
    ) -> None:
        """Write the iteration's experiment row and publish ``research_experiment_completed``,
        in one transaction of the state DB when the store and the log share it (as a session's
        do): the row and its event exist together or not at all, and cost one commit."""
        completed = self.completed(result, experiment.family, insight)
        if store.path == self.events.path:
            store.record(experiment, result.positions, [completed])
            return
        self._send(completed)  # another DB: the event first, as before
        store.record(experiment, result.positions)

    def completed(self, result: IterationResult, family: str, insight: str) -> EventDraft:
        """``research_experiment_completed``: how the iteration ended (never a holdout figure)."""
        ref = result.ref
        return self.draft(
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
