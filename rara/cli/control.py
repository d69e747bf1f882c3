"""`rara kill`, `rara resume`, `rara locks` and `rara lock set|release`: the kill switch and the
locks of the trading wing (`rara.trading.control`), as events in the state DB of `$RARA_HOME`.

A running paper or live engine reads them before every order, from whatever process wrote them;
the state persists across restarts until `rara resume --confirm`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import click

from rara.cli.output import emit
from rara.cli.params import UTC_TIME
from rara.domain.events import LockScope
from rara.domain.market import ms_to_iso, normalize_symbol
from rara.errors import BadInput, Refused
from rara.events import Event, open_event_store
from rara.home import Home
from rara.trading.control import Control, kill, release_lock, resume, set_lock
from rara.trading.risk import Lock

_DURATION = re.compile(r"^(\d+)\s*(m|h|d)$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _event_json(ev: Event) -> dict[str, Any]:
    return {**ev.payload, "seq": ev.seq, "event_id": ev.event_id, "ts": ev.ts}


def _lock_json(lock: Lock, now_ms: int) -> dict[str, Any]:
    until = lock.until_ms
    return {
        **lock.model_dump(),
        "until": ms_to_iso(until) if until is not None else None,
        "active": lock.active_at(now_ms),
    }


@click.command("kill")
@click.option("--reason", required=True, help="Why trading stops (recorded in the event).")
@click.option(
    "--flatten", is_flag=True, help="Also close every position through the gate's reduce path."
)
def kill_cmd(reason: str, flatten: bool) -> None:
    """Halt trading: no order after this event; open orders are canceled (and, with --flatten,
    positions closed) by the running engine. Lasts until `rara resume --confirm`.

    Prints the trading_state_changed event's payload with its seq: no order is sent after it.
    """
    with open_event_store(Home.from_env().state_db) as store:
        ev = kill(store, reason, flatten=flatten, by="cli", source="cli")
    emit(_event_json(ev))


@click.command("resume")
@click.option("--confirm", is_flag=True, help="Confirm that trading may start again.")
@click.option("--reason", default="resumed by a person", show_default=True, help="Recorded.")
def resume_cmd(confirm: bool, reason: str) -> None:
    """Let trading start again after `rara kill` (or a guard's REDUCING); needs --confirm.

    Locks stay until they lapse or are released (`rara locks`).
    """
    if not confirm:
        raise Refused(
            "resume_unconfirmed",
            "resuming lets every deployed strategy trade again; it needs --confirm",
            "check why trading was halted (`rara locks` shows the state and its reason), then "
            "run `rara resume --confirm`",
        )
    with open_event_store(Home.from_env().state_db) as store:
        ev = resume(store, by="cli", reason=reason, source="cli")
    emit(_event_json(ev))


@click.command("locks")
@click.option("--all", "all_", is_flag=True, help="Lapsed locks too (not yet released).")
def locks_cmd(all_: bool) -> None:
    """The trading state and the active locks (JSON)."""
    path = Home.from_env().state_db
    now = _now_ms()
    state: dict[str, Any] = {"state": "ACTIVE", "reason": "", "flatten": False, "state_seq": None}
    locks: list[dict[str, Any]] = []
    if path.exists():  # nothing recorded yet: ACTIVE, no locks, and nothing created by a read
        with open_event_store(path, readonly=True) as store:
            control = Control(store)
            snap = control.snapshot()
            state = snap.model_dump(include={"state", "reason", "flatten", "state_seq"})
            locks = [_lock_json(lock, now) for lock in control.locks(None if all_ else now)]
    emit({**state, "locks": locks})


def _duration_ms(text: str) -> int:
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise BadInput("bad_duration", f"--for {text!r} is not a duration", "use 30m, 4h or 2d")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


@click.command("set")
@click.option(
    "--scope",
    type=click.Choice(["global", "strategy", "symbol", "account"]),
    required=True,
    help="Everything, one strategy_id, one symbol, or one account.",
)
@click.option("--target", help="The strategy_id, symbol or account (not for --scope global).")
@click.option("--reason", required=True, help="Why (recorded in the event).")
@click.option("--for", "for_", metavar="DURATION", help="Lapse after this long: 30m, 4h, 2d.")
@click.option("--until", type=UTC_TIME, help="Lapse at this UTC time (ISO 8601).")
@click.option(
    "--id", "lock_id", help="The lock's id (default: a new one); an existing one is replaced."
)
def lock_set(
    scope: LockScope,
    target: str | None,
    reason: str,
    for_: str | None,
    until: int | None,
    lock_id: str | None,
) -> None:
    """Block new exposure in a scope until --for/--until lapses, or until released."""
    if for_ is not None and until is not None:
        raise BadInput("lock_bad_until", "give --for or --until, not both", "drop one of them")
    until_ms = _now_ms() + _duration_ms(for_) if for_ is not None else until
    if scope == "symbol" and target is not None:
        try:
            target = normalize_symbol(target)
        except ValueError:
            raise BadInput(
                "bad_symbol", f"--target {target!r} is not a symbol", "e.g. BTC/USDT"
            ) from None
    with open_event_store(Home.from_env().state_db) as store:
        lock = set_lock(
            store, scope, target, until_ms=until_ms, reason=reason, by="cli", lock_id=lock_id
        )
    emit(_lock_json(lock, _now_ms()))


@click.command("release")
@click.argument("lock_id")
@click.option("--reason", default="released by a person", show_default=True, help="Recorded.")
def lock_release(lock_id: str, reason: str) -> None:
    """Lift the lock LOCK_ID before it lapses."""
    with open_event_store(Home.from_env().state_db) as store:
        ev = release_lock(store, lock_id, reason=reason, by="cli")
    emit(_event_json(ev))
