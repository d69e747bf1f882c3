"""Research's intake of retrain requests: feedback demoted a strategy and asked for a successor
on its market (``feedback_research_retrain_requested``); a research run takes one request up
and proposes with that strategy's lessons.

    for request in pending_retrains(store):            # oldest first, not yet taken
        cfg = retrain_config(request, base)             # the request's market
        ResearchSession(cfg, settings, home, retrain=request).run()

A run records the request it answers with ``research_retrain_started`` (event id deterministic
over the request), so a request is taken once, also after a crash: a resumed run finds its
request again from that event. The proposer's context is pinned with the strategy's lessons:
why it was demoted (as a lesson), the lesson of the experiment that produced it, then the other
lessons of the run that produced it. An ordinary run is untouched (its run hash stays).
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, ConfigDict

from rara.domain.events import (
    FeedbackResearchRetrainRequested,
    ResearchRetrainStarted,
    ResearchStrategyCandidate,
)
from rara.errors import Refused
from rara.events import Event, EventFilter, EventStore
from rara.research.memory import LessonStore
from rara.research.models import Lesson, Regime
from rara.research.run_setup import RunConfig

SOURCE = "research.retrain"
RUN_LESSONS = 4  # lessons of the producing run besides its experiment's own


class RetrainRequest(BaseModel):
    """One retrain request, as research takes it up."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    seq: int
    ts: str
    strategy_id: str
    stage: str
    reason: str
    exchange: str
    symbol: str
    timeframe: str


def _request(ev: Event) -> RetrainRequest | None:
    p = ev.typed()
    if not isinstance(p, FeedbackResearchRetrainRequested):
        return None
    return RetrainRequest(
        event_id=ev.event_id,
        seq=ev.seq,
        ts=ev.ts,
        strategy_id=p.strategy_id,
        stage=p.stage,
        reason=p.reason,
        exchange=p.exchange,
        symbol=p.symbol,
        timeframe=p.timeframe,
    )


def taken_id(request: RetrainRequest) -> str:
    """The event id of the run start that takes `request`: one per request."""
    return f"retrain-taken:{request.event_id}"


def pending_retrains(store: EventStore) -> list[RetrainRequest]:
    """Retrain requests no research run has taken up yet, oldest first."""
    taken: set[str] = set()
    for ev in store.iter_query(EventFilter(types=[ResearchRetrainStarted])):
        p = ev.typed()
        if isinstance(p, ResearchRetrainStarted):
            taken.add(p.request_event_id)
    out: list[RetrainRequest] = []
    for ev in store.iter_query(EventFilter(types=[FeedbackResearchRetrainRequested])):
        req = _request(ev)
        if req is not None and req.event_id not in taken:
            out.append(req)
    return out


def retrain_config(request: RetrainRequest, base: RunConfig) -> RunConfig:
    """`base` (proposer, iterations, limits) on the request's market."""
    return replace(
        base, exchange=request.exchange, symbol=request.symbol, timeframe=request.timeframe
    )


def ensure_untaken(store: EventStore, request: RetrainRequest) -> None:
    """`Refused` when another run took `request` already."""
    if store.has_event(taken_id(request)):
        raise Refused(
            "retrain_taken",
            f"the retrain request {request.event_id} for {request.strategy_id} was taken by "
            "another research run",
            "`pending_retrains` lists the requests still open",
        )


def take(store: EventStore, request: RetrainRequest, run_id: str) -> Event:
    """Record that run `run_id` answers `request` (once: a second taker is refused)."""
    ensure_untaken(store, request)
    return store.append(
        ResearchRetrainStarted(
            request_event_id=request.event_id,
            strategy_id=request.strategy_id,
            reason=request.reason,
        ),
        source=SOURCE,
        correlation_id=run_id,
        strategy_id=request.strategy_id,
        event_id=taken_id(request),
    )


def taken_by_run(store: EventStore, run_id: str) -> RetrainRequest | None:
    """The request run `run_id` took up, if any (a resumed run picks its lessons up again)."""
    for ev in store.query(EventFilter(types=[ResearchRetrainStarted], correlation_id=run_id)):
        p = ev.typed()
        if not isinstance(p, ResearchRetrainStarted):
            continue
        for req_ev in store.query(
            EventFilter(types=[FeedbackResearchRetrainRequested], strategy_id=p.strategy_id)
        ):
            if req_ev.event_id == p.request_event_id:
                return _request(req_ev)
    return None


def strategy_lessons(
    store: EventStore, lessons: LessonStore, request: RetrainRequest, regime: Regime
) -> list[Lesson]:
    """What a retrain's proposer is told about the strategy it replaces: why it was demoted
    first, then the lesson of the experiment that produced it and the other lessons of that
    experiment's run (none when it never came from research here)."""
    produced: list[Lesson] = []
    origin = _origin(store, request.strategy_id)
    name = request.strategy_id
    if origin is not None:
        experiment_id, run_id, name = origin
        of_run = lessons.of_run(run_id, limit=RUN_LESSONS + 1)
        own = [ls for ls in of_run if ls.experiment_id == experiment_id]
        rest = [ls for ls in of_run if ls.experiment_id != experiment_id][:RUN_LESSONS]
        produced = [*own, *rest]
    base = produced[0] if produced else None
    demoted = Lesson(
        experiment_id=f"demoted:{request.event_id}",
        run_id=base.run_id if base else "",
        iteration=base.iteration if base else 0,
        hypothesis=base.hypothesis if base else f"strategy {name}",
        family=base.family if base else "unknown",
        symbol=request.symbol,
        timeframe=request.timeframe,
        regime=base.regime if base else regime,
        outcome="rejected",
        failure=f"feedback.demoted_from_{request.stage}",
        validation_sharpe=None,
        validation_trades=None,
        insight=f"{name} passed the research gate but was demoted from {request.stage}: "
        f"{request.reason}",
        created_at=request.ts,
    )
    return [demoted, *produced]


def _origin(store: EventStore, strategy_id: str) -> tuple[str, str, str] | None:
    """(experiment id, run id, name) of the research candidate that is `strategy_id`."""
    for ev in store.query(
        EventFilter(types=[ResearchStrategyCandidate], strategy_id=strategy_id), limit=1
    ):
        p = ev.typed()
        if isinstance(p, ResearchStrategyCandidate):
            return p.experiment_id, ev.correlation_id or "", p.name
    return None
