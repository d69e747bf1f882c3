"""The trading state (ACTIVE, REDUCING, HALTED) and the locks, kept as events in the state DB so
they survive a restart and reach every process.

Writers append a ``trading_state_changed``, ``trading_lock_set`` or ``trading_lock_released``
event (`kill`, `resume`, `reduce`, `set_lock`, `release_lock`); `Control` is the projection the
engine holds. Its `refresh()` reads only the events after the last one it saw (one indexed query),
so the engine calls it before every submit and a ``rara kill`` from another process takes effect
before the next order::

    control = Control(store)               # store = open_event_store(home.state_db)
    control.refresh()
    verdict = judge(control.snapshot(now_ms), account, intent, settings.trading.risk)
    if control.kill_seq is not None: ...   # halted: cancel open orders, flatten if asked

A kill may land between the gate's look and the journal's write. So that no order is sent after
the kill's event seq, the engine asks again once its ``trading_order_submitted`` event has a seq::

    submitted = store.append(TradingOrderSubmitted(...), ...)
    if control.halted_before(submitted.seq, reason=intent.reason):
        ...  # journal it rejected (reason_code "trading_halted"), never send it

State persists until ``rara resume --confirm``: a new `Control` on the same DB sees what the
previous process left.
"""

from __future__ import annotations

import secrets

from rara.domain.events import (
    LockScope,
    TradingLockReleased,
    TradingLockSet,
    TradingState,
    TradingStateChanged,
)
from rara.errors import BadInput, Refused
from rara.events import Event, EventFilter, EventStore
from rara.trading.risk import ControlState, Lock

CONTROL_EVENTS = EventFilter(types=[TradingStateChanged, TradingLockSet, TradingLockReleased])


class Control:
    """The trading state and the locks, projected from the event log and kept current by
    `refresh()`. Reads only; the module's functions write."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._seq = 0  # the last control event applied
        self._state = ControlState()
        self._locks: dict[str, Lock] = {}
        self.refresh()

    def refresh(self) -> bool:
        """Apply the control events written since the last refresh (by any process); whether
        anything changed."""
        events = self.store.query(CONTROL_EVENTS, after_seq=self._seq)
        for ev in events:
            self._apply(ev)
            self._seq = ev.seq
        return bool(events)

    def _apply(self, ev: Event) -> None:
        payload = ev.typed()
        if isinstance(payload, TradingStateChanged):
            self._state = ControlState(
                state=payload.state,
                flatten=payload.flatten and payload.state == "HALTED",
                reason=payload.reason,
                state_seq=ev.seq,
            )
        elif isinstance(payload, TradingLockSet):
            self._locks[payload.lock_id] = Lock(
                lock_id=payload.lock_id,
                scope=payload.scope,
                target=payload.target,
                until_ms=payload.until_ms,
                reason=payload.reason,
                set_by=payload.set_by,
                seq=ev.seq,
            )
        elif isinstance(payload, TradingLockReleased):
            self._locks.pop(payload.lock_id, None)

    @property
    def seq(self) -> int:
        """The seq of the last control event seen."""
        return self._seq

    @property
    def state(self) -> TradingState:
        return self._state.state

    @property
    def flatten(self) -> bool:
        """Halted by ``rara kill --flatten``: the engine closes positions through the gate."""
        return self._state.flatten

    @property
    def kill_seq(self) -> int | None:
        """The seq of the event that halted trading, while halted; None otherwise. No order may
        be sent after it."""
        return self._state.kill_seq

    def halted_before(self, seq: int, *, reason: str | None = None) -> bool:
        """Refresh, then whether a kill written before event `seq` is in force: an order
        journaled at `seq` must not be sent. The flatten orders a ``kill --flatten`` asked for
        (``reason`` "flatten") are the exception."""
        self.refresh()
        kill_seq = self.kill_seq
        if kill_seq is None or kill_seq > seq:
            return False
        return not (self.flatten and reason == "flatten")

    def locks(self, now_ms: int | None = None) -> tuple[Lock, ...]:
        """Locks not released, in the order they were set; with `now_ms`, only those that have
        not lapsed by then."""
        held = sorted(self._locks.values(), key=lambda lock: lock.seq)
        return tuple(lock for lock in held if now_ms is None or lock.active_at(now_ms))

    def snapshot(self, now_ms: int | None = None) -> ControlState:
        """What `judge` takes: the state, and the locks (active at `now_ms`, if given; the gate
        also drops those lapsed by the account's bar clock)."""
        state = self._state
        return ControlState(
            state=state.state,
            flatten=state.flatten,
            reason=state.reason,
            state_seq=state.state_seq,
            locks=self.locks(now_ms),
        )


# ---- writing -----------------------------------------------------------------------------------


def set_state(
    store: EventStore,
    state: TradingState,
    reason: str,
    *,
    by: str,
    flatten: bool = False,
    source: str = "cli",
) -> Event:
    """Record a change of the trading state (`kill`, `resume` and `reduce` say which)."""
    if not reason.strip():
        raise BadInput("trading_reason_missing", "a state change needs a reason", "say why")
    previous = Control(store).state
    change = TradingStateChanged(
        state=state,
        previous=previous,
        reason=reason,
        flatten=flatten and state == "HALTED",
        requested_by=by,
    )
    return store.append(change, source=source)


def kill(
    store: EventStore, reason: str, *, flatten: bool = False, by: str = "cli", source: str = "cli"
) -> Event:
    """HALT trading: nothing is sent after this event's seq; the running engine cancels open
    orders and, with `flatten`, closes positions through the gate's reduce path. Killing an
    already halted account records the new request (a later --flatten counts)."""
    return set_state(store, "HALTED", reason, by=by, flatten=flatten, source=source)


def reduce(store: EventStore, reason: str, *, by: str, source: str = "trading") -> Event:
    """REDUCING: only orders that shrink exposure pass until resumed. Refused while halted (a
    guard must not undo a person's kill)."""
    if Control(store).state == "HALTED":
        raise Refused(
            "trading_halted",
            "trading is halted; REDUCING would let orders through again",
            "resume with `rara resume --confirm` first",
        )
    return set_state(store, "REDUCING", reason, by=by, source=source)


def resume(
    store: EventStore, *, by: str = "cli", reason: str = "resumed", source: str = "cli"
) -> Event:
    """Back to ACTIVE from HALTED or REDUCING; refused when trading is already active."""
    if Control(store).state == "ACTIVE":
        raise Refused(
            "trading_not_halted",
            "trading is already ACTIVE; there is nothing to resume",
            "`rara locks` lists the locks that may still block orders",
        )
    return set_state(store, "ACTIVE", reason, by=by, source=source)


def set_lock(
    store: EventStore,
    scope: LockScope,
    target: str | None,
    *,
    until_ms: int | None,
    reason: str,
    by: str,
    lock_id: str | None = None,
    source: str = "cli",
) -> Lock:
    """Block new exposure in a scope (global, one strategy_id, one symbol) until `until_ms`
    (None: until released). Setting an existing `lock_id` again replaces that lock."""
    if (scope == "global") != (target is None):
        raise BadInput(
            "lock_bad_target",
            f"a {scope} lock {'takes no' if scope == 'global' else 'needs a'} target",
            "name a strategy_id or symbol for a strategy or symbol lock, nothing for global",
        )
    if not reason.strip():
        raise BadInput("trading_reason_missing", "a lock needs a reason", "say why")
    event = TradingLockSet(
        lock_id=lock_id or "lock-" + secrets.token_hex(4),
        scope=scope,
        target=target,
        until_ms=until_ms,
        reason=reason,
        set_by=by,
    )
    ev = store.append(event, source=source)
    return Lock(
        lock_id=event.lock_id,
        scope=scope,
        target=target,
        until_ms=until_ms,
        reason=reason,
        set_by=by,
        seq=ev.seq,
    )


def release_lock(
    store: EventStore, lock_id: str, *, reason: str, by: str, source: str = "cli"
) -> Event:
    """Lift a lock before it lapses; refused for a lock never set or already released."""
    held = {lock.lock_id for lock in Control(store).locks()}
    if lock_id not in held:
        raise Refused(
            "lock_not_found",
            f"no lock {lock_id!r} is held",
            "`rara locks --all` lists every lock not released, lapsed ones included",
        )
    return store.append(
        TradingLockReleased(lock_id=lock_id, reason=reason, released_by=by), source=source
    )
