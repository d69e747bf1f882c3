"""Whether the daemon's research may start runs: ``research_paused`` and ``research_resumed``
events in the log, so a pause reaches the daemon from any process and survives its restart.

`ResearchPause` is the projection (like `rara.trading.control.Control`): its `refresh()` reads
only the events after the last one it saw, so the daemon's research asks it before every run and
every batch at the cost of one indexed query::

    pause = ResearchPause(store)
    if pause.refreshed().paused: ...      # wait, start nothing
    pause_research(store, by="ops", reason="reviewing the last run")
"""

from __future__ import annotations

from dataclasses import dataclass

from rara.domain.events import ResearchPaused, ResearchResumed
from rara.errors import BadInput, Refused
from rara.events import Event, EventFilter, EventStore

PAUSE_EVENTS = EventFilter(types=[ResearchPaused, ResearchResumed])


@dataclass(frozen=True)
class PauseState:
    """Research now: paused or not, by whom, why, and the event that said so (None: never)."""

    paused: bool = False
    by: str | None = None
    reason: str = ""
    seq: int | None = None
    ts: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "paused": self.paused,
            "by": self.by,
            "reason": self.reason,
            "seq": self.seq,
            "since": self.ts,
        }


class ResearchPause:
    """The research pause projected from the log, kept current by `refresh()`. Reads only."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._seq = 0
        self._state = PauseState()
        self.refresh()

    def refresh(self) -> bool:
        """Apply the pause events written since the last refresh; whether any applied."""
        events = self.store.query(PAUSE_EVENTS, after_seq=self._seq)
        for ev in events:
            payload = ev.typed()
            if isinstance(payload, ResearchPaused | ResearchResumed):
                self._state = PauseState(
                    paused=isinstance(payload, ResearchPaused),
                    by=payload.by,
                    reason=payload.reason,
                    seq=ev.seq,
                    ts=ev.ts,
                )
            self._seq = ev.seq
        return bool(events)

    @property
    def state(self) -> PauseState:
        return self._state

    @property
    def paused(self) -> bool:
        return self._state.paused

    def refreshed(self) -> PauseState:
        """Refresh, then the state."""
        self.refresh()
        return self._state


def pause_research(store: EventStore, *, by: str, reason: str, source: str = "control") -> Event:
    """Pause research: no new run starts, a run under way stops before its next batch (left
    resumable). Pausing again records the new reason."""
    if not reason.strip():
        raise BadInput("research_reason_missing", "a pause needs a reason", "say why")
    return store.append(ResearchPaused(by=by, reason=reason), source=source)


def resume_research(
    store: EventStore, *, by: str, reason: str = "resumed by a person", source: str = "control"
) -> Event:
    """Let research start runs again; refused when it is not paused."""
    if not ResearchPause(store).paused:
        raise Refused(
            "research_not_paused",
            "research is not paused; there is nothing to resume",
            "`rara status` shows whether research is paused",
        )
    return store.append(ResearchResumed(by=by, reason=reason), source=source)
