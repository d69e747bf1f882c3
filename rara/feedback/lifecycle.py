"""Each strategy's lifecycle stage, projected from the event log, and the writers that move it.

The projection is deterministic from the log: a strategy enters at the stage of its first event
(``research_strategy_candidate``: paper candidate; ``registry_strategy_installed``: the stage
it was installed at), and every ``feedback_strategy_promote |
demote | confirmed`` moves it when the move is allowed from the stage it is in. A move that is
not allowed from there (two writers raced: a person approved while feedback demoted) is kept in
``conflicts`` and changes nothing, so every reader of the same log sees the same stages::

    lifecycle = Lifecycle(store)
    rec = lifecycle.get(strategy_id)          # None: never a candidate
    move(store, lifecycle, strategy_id, "paper", reason="started paper trading", by="daemon")
    approve(store, lifecycle, strategy_id, account="main", reason="reviewed", by="ops")

`refresh()` reads only the events after the last one it applied (one indexed query), like
`rara.trading.control.Control`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rara.domain.events import (
    FeedbackStrategyConfirmed,
    FeedbackStrategyDemote,
    FeedbackStrategyHold,
    FeedbackStrategyPromote,
    RegistryStrategyInstalled,
    ResearchStrategyCandidate,
)
from rara.domain.lifecycle import Gate2Report, Stage, move_kind
from rara.errors import BadInput, Refused
from rara.events import Event, EventFilter, EventStore

SOURCE = "feedback"
LIFECYCLE_EVENTS = EventFilter(
    types=[
        ResearchStrategyCandidate,
        RegistryStrategyInstalled,
        FeedbackStrategyPromote,
        FeedbackStrategyDemote,
        FeedbackStrategyConfirmed,
        FeedbackStrategyHold,
    ]
)


@dataclass(frozen=True)
class Transition:
    """One applied move: the event that made it."""

    seq: int
    ts: str
    from_stage: Stage | None
    to_stage: Stage
    kind: str  # candidate, promote, demote, confirm, hold
    reason: str
    by: str


@dataclass
class StrategyRecord:
    """One strategy's place in the lifecycle."""

    strategy_id: str
    name: str
    path: str  # its directory, relative to $RARA_HOME
    stage: Stage
    since_seq: int
    account: str | None = None  # the account a person approved it for (live)
    # the account it last traded live on and the event that took it out of live, kept after a
    # demotion: what its wind-down (the sale of that position) needs
    live_account: str | None = None
    left_live_seq: int | None = None
    last_report: Gate2Report | None = None
    history: list[Transition] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy_id": self.strategy_id,
            "name": self.name,
            "path": self.path,
            "stage": self.stage,
            "since_seq": self.since_seq,
            "account": self.account,
            "last_report": None if self.last_report is None else self.last_report.model_dump(),
            "history": [t.__dict__ for t in self.history],
        }


class Lifecycle:
    """The stages of every strategy the log knows, kept current by `refresh()`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._seq = 0
        self._records: dict[str, StrategyRecord] = {}
        self.conflicts: list[Transition] = []  # moves not allowed from the stage they found
        self.refresh()

    def refresh(self) -> bool:
        """Apply the lifecycle events written since the last refresh; whether any applied."""
        changed = False
        for ev in self.store.query(LIFECYCLE_EVENTS, after_seq=self._seq):
            changed = self._apply(ev) or changed
            self._seq = ev.seq
        return changed

    @property
    def seq(self) -> int:
        """The last lifecycle event applied."""
        return self._seq

    def get(self, strategy_id: str) -> StrategyRecord | None:
        return self._records.get(strategy_id)

    def strategies(self, stage: Stage | None = None) -> list[StrategyRecord]:
        """Every strategy (or those at `stage`), in the order they entered."""
        return [r for r in self._records.values() if stage is None or r.stage == stage]

    def resolve(self, ident: str) -> StrategyRecord:
        """A strategy by id, unique id prefix, or name; `BadInput` naming the choices if not."""
        if ident in self._records:
            return self._records[ident]
        hits = [
            r for r in self._records.values() if r.strategy_id.startswith(ident) or r.name == ident
        ]
        if len(hits) == 1:
            return hits[0]
        known = ", ".join(f"{r.name} ({r.strategy_id})" for r in self._records.values()) or "none"
        raise BadInput(
            "unknown_strategy" if not hits else "ambiguous_strategy",
            f"{ident!r} is {'no strategy in the lifecycle' if not hits else 'ambiguous'}",
            f"give a strategy_id from `rara strategy list --stage ...`; known: {known}",
        )

    def _apply(self, ev: Event) -> bool:
        payload = ev.typed()
        if isinstance(payload, ResearchStrategyCandidate | RegistryStrategyInstalled):
            sid = ev.strategy_id or ""
            if not sid or sid in self._records:
                return False  # promoted again, or installed again: the first entry stands
            installed = isinstance(payload, RegistryStrategyInstalled)
            stage: Stage = payload.stage
            why = "gate 1" if stage == "paper_candidate" else "installed without gate 1"
            self._records[sid] = StrategyRecord(
                strategy_id=sid,
                name=payload.name,
                path=payload.path,
                stage=stage,
                since_seq=ev.seq,
                history=[
                    Transition(
                        ev.seq,
                        ev.ts,
                        None,
                        stage,
                        "installed" if installed else "candidate",
                        why,
                        ev.source,
                    )
                ],
            )
            return True
        if not isinstance(
            payload,
            FeedbackStrategyPromote
            | FeedbackStrategyDemote
            | FeedbackStrategyConfirmed
            | FeedbackStrategyHold,
        ):
            return False
        rec = self._records.get(payload.strategy_id)
        if isinstance(payload, FeedbackStrategyHold):
            if rec is not None and payload.report is not None:
                rec.last_report = payload.report
            return False
        kind = (
            "confirm"
            if isinstance(payload, FeedbackStrategyConfirmed)
            else "promote"
            if isinstance(payload, FeedbackStrategyPromote)
            else "demote"
        )
        t = Transition(
            ev.seq,
            ev.ts,
            rec.stage if rec else None,
            payload.to_stage,
            kind,
            payload.reason,
            payload.confirmed_by
            if isinstance(payload, FeedbackStrategyConfirmed)
            else payload.decided_by,
        )
        if rec is None or move_kind(rec.stage, payload.to_stage) != kind:
            self.conflicts.append(t)
            return False
        rec.stage = payload.to_stage
        rec.since_seq = ev.seq
        rec.history.append(t)
        if payload.report is not None:
            rec.last_report = payload.report
        if isinstance(payload, FeedbackStrategyConfirmed):
            rec.account = rec.live_account = payload.account
        elif t.from_stage == "live":
            rec.left_live_seq = ev.seq
        if kind == "demote":
            rec.account = None  # approval was for live; a demoted strategy needs a new one
        return True


def move(
    store: EventStore,
    lifecycle: Lifecycle,
    strategy_id: str,
    to_stage: Stage,
    *,
    reason: str,
    by: str,
    report: Gate2Report | None = None,
    account: str | None = None,
    event_id: str | None = None,
    source: str = SOURCE,
) -> Event:
    """Append the event that moves `strategy_id` to `to_stage`, after checking the move is
    allowed from its current stage (`Refused` naming the allowed ones if not). A move to live
    is a confirmation and needs `account`. `event_id` makes a retried move harmless."""
    lifecycle.refresh()
    rec = lifecycle.get(strategy_id)
    if rec is None:
        raise BadInput(
            "unknown_strategy",
            f"{strategy_id} is not in the lifecycle",
            "`rara strategy list` shows the strategies and their stages",
        )
    kind = move_kind(rec.stage, to_stage)
    if kind is None:
        raise Refused(
            "stage_move_refused",
            f"{rec.name} ({strategy_id}) is at stage {rec.stage}; it cannot move to {to_stage}",
            _allowed_from(rec.stage),
        )
    common: dict[str, Any] = {
        "strategy_id": strategy_id,
        "stage": rec.stage,
        "reason": reason,
        "report": report,
        "to_stage": to_stage,
    }
    payload: FeedbackStrategyPromote | FeedbackStrategyDemote | FeedbackStrategyConfirmed
    if kind == "confirm":
        if not account:
            raise BadInput(
                "account_required",
                f"moving {rec.name} to live needs the account it trades on",
                "give --account NAME (a [trading.accounts.NAME] section)",
            )
        payload = FeedbackStrategyConfirmed(
            **common, decided_by=by, confirmed_by=by, account=account
        )
    elif kind == "promote":
        payload = FeedbackStrategyPromote(**common, decided_by=by)
    else:
        payload = FeedbackStrategyDemote(**common, decided_by=by)
    ev = store.append(payload, source=source, strategy_id=strategy_id, event_id=event_id)
    lifecycle.refresh()
    return ev


def approve(
    store: EventStore,
    lifecycle: Lifecycle,
    ident: str,
    *,
    account: str,
    reason: str,
    by: str,
    source: str = SOURCE,
    fits_account: Callable[[StrategyRecord], None] | None = None,
) -> tuple[StrategyRecord, Event]:
    """A person's approval of the live candidate `ident` (id, prefix or name) for `account`:
    the ``feedback_strategy_confirmed`` that moves it to live. Refused for a strategy at any
    other stage; the caller checks that `account` is configured, and `fits_account` (raising)
    that it can trade the candidate's market."""
    rec = lifecycle.resolve(ident)
    if rec.stage != "live_candidate":
        raise Refused(
            "not_a_live_candidate",
            f"{rec.name} ({rec.strategy_id}) is at stage {rec.stage}; only a live candidate "
            "can be approved",
            "a strategy becomes a live candidate when its paper trading passes gate 2; "
            f"`rara strategy show {rec.strategy_id}` shows its last gate 2 report",
        )
    if fits_account is not None:
        fits_account(rec)
    ev = move(
        store,
        lifecycle,
        rec.strategy_id,
        "live",
        reason=reason,
        by=by,
        account=account,
        source=source,
    )
    return rec, ev


# the stage a person's plain "demote" sends a strategy to: one down (`rara strategy demote --to`
# chooses among the others)
DEMOTE_ONE: dict[Stage, Stage] = {
    "live": "paper",
    "live_candidate": "paper",
    "paper": "paper_candidate",
}


def demote_one(
    store: EventStore,
    lifecycle: Lifecycle,
    ident: str,
    *,
    reason: str,
    by: str,
    source: str = SOURCE,
) -> tuple[StrategyRecord, Event]:
    """A person's demotion of `ident` one stage down (`DEMOTE_ONE`): the
    ``feedback_strategy_demote`` event. Refused for a strategy not trading or about to."""
    rec = lifecycle.resolve(ident)
    to_stage = DEMOTE_ONE.get(rec.stage)
    if to_stage is None:
        raise Refused(
            "stage_move_refused",
            f"{rec.name} ({rec.strategy_id}) is at stage {rec.stage}; there is no stage below "
            "it to demote it to",
            "`rara strategy retire` retires a strategy for good",
        )
    return rec, move(
        store, lifecycle, rec.strategy_id, to_stage, reason=reason, by=by, source=source
    )


def hold(
    store: EventStore,
    lifecycle: Lifecycle,
    strategy_id: str,
    *,
    reason: str,
    by: str,
    report: Gate2Report | None = None,
    source: str = SOURCE,
) -> Event:
    """Record that `by` judged `strategy_id` and kept it where it is (with gate 2's report)."""
    lifecycle.refresh()
    rec = lifecycle.get(strategy_id)
    if rec is None:
        raise BadInput("unknown_strategy", f"{strategy_id} is not in the lifecycle", "")
    payload = FeedbackStrategyHold(
        strategy_id=strategy_id, stage=rec.stage, reason=reason, decided_by=by, report=report
    )
    ev = store.append(payload, source=source, strategy_id=strategy_id)
    lifecycle.refresh()
    return ev


def _allowed_from(stage: Stage) -> str:
    from rara.domain.lifecycle import MOVES

    targets = [to for (frm, to) in MOVES if frm == stage]
    if not targets:
        return f"nothing moves a strategy out of {stage}"
    return f"from {stage} it can move to: {', '.join(targets)}"
