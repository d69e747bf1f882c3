"""`rara status`: what the daemon is doing, from the state DB alone (it works whether a daemon
runs or not, and on a fresh home): the daemon process and its components (`rara.daemon.status`),
the strategies by lifecycle stage, the trading state and locks, whether research is paused
(`rara.research.pause`), the positions, the last events. It only reads: a home with no state DB
stays untouched.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from rara.cli.output import emit
from rara.domain.lifecycle import STAGES
from rara.domain.market import ms_to_iso
from rara.errors import BadInput
from rara.events import EventStore
from rara.home import Home


def _age_s(ts: str | None) -> float | None:
    if not ts:
        return None
    then = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return round((datetime.now(UTC) - then).total_seconds(), 3)


def _daemon(home: Home, process: dict[str, Any] | None) -> dict[str, Any]:
    from rara.daemon.instance import running_daemon

    pid = running_daemon(home)
    if pid is None:
        return {"running": False, "last": process}
    out: dict[str, Any] = {"running": True, "pid": pid}
    if process is not None and process["pid"] == pid:
        out.update(
            daemon_id=process["daemon_id"],
            started=process["started_ts"],
            ready=process["ready_ts"],
            heartbeat_age_s=_age_s(process["heartbeat_ts"]),
            options=process["options"],
        )
    return out


def _strategies(store: EventStore) -> dict[str, list[dict[str, Any]]]:
    from rara.feedback.lifecycle import Lifecycle

    by_stage: dict[str, list[dict[str, Any]]] = {stage: [] for stage in STAGES}
    for rec in Lifecycle(store).strategies():
        by_stage[rec.stage].append(
            {
                "strategy_id": rec.strategy_id,
                "name": rec.name,
                "since": rec.history[-1].ts if rec.history else None,
                "since_seq": rec.since_seq,
                "account": rec.account,
            }
        )
    return by_stage


def _control(store: EventStore) -> dict[str, Any]:
    from rara.trading.control import Control

    now = time.time_ns() // 1_000_000
    control = Control(store)
    snap = control.snapshot()
    return {
        "trading_state": snap.model_dump(include={"state", "reason", "flatten", "state_seq"}),
        "locks": [
            {
                **lock.model_dump(),
                "until": None if lock.until_ms is None else ms_to_iso(lock.until_ms),
                "active": lock.active_at(now),
            }
            for lock in control.locks(now)
        ],
    }


def _wind_downs(store: EventStore) -> list[dict[str, Any]]:
    """Strategies that left stage live and are not wound down yet (`rara.daemon.wind_down`):
    the daemon sells their positions, unless started with --paper-only."""
    from rara.daemon.wind_down import WindDowns
    from rara.feedback.lifecycle import Lifecycle

    return [
        {"strategy_id": p.strategy_id, "account": p.account, "since_seq": p.demotion_seq,
         "why": p.why}
        for p in WindDowns(store).pending(Lifecycle(store).strategies())
    ]  # fmt: skip


def _last_events(store: EventStore, n: int) -> list[dict[str, Any]]:
    after = max(0, store.last_seq() - n)
    return [
        {"seq": ev.seq, "ts": ev.ts, "type": ev.type, "strategy_id": ev.strategy_id}
        for ev in store.query(after_seq=after, limit=n)
    ]


@click.command("status")
@click.option("--events", "n_events", type=int, default=20, show_default=True, help="Last events.")
def command(n_events: int) -> None:
    """The daemon's state: its components, strategies by stage, trading state and locks,
    positions, wind-downs pending (strategies out of live not yet flat) and the last events
    (JSON).

    Read from the state DB, so it works with or without a running daemon (and on a fresh home:
    everything empty). `daemon.running` comes from the home's instance lock.
    """
    from rara.daemon.status import read_status
    from rara.research.pause import PauseState, ResearchPause
    from rara.trading.views import positions

    if n_events < 1:
        raise BadInput("bad_events", f"--events must be at least 1, got {n_events}", "e.g. 20")
    home = Home.from_env()
    daemon_rows = read_status(home)
    out: dict[str, Any] = {
        "daemon": _daemon(home, daemon_rows["process"]),
        "components": daemon_rows["components"],
        "strategies": {stage: [] for stage in STAGES},
        "trading_state": {"state": "ACTIVE", "reason": "", "flatten": False, "state_seq": None},
        "research": PauseState().to_json(),
        "locks": [],
        "positions": [],
        "wind_downs_pending": [],
        "last_events": [],
    }
    if home.state_db.exists():
        with EventStore(home.state_db, readonly=True) as store:
            out["strategies"] = _strategies(store)
            out.update(_control(store))
            out["research"] = ResearchPause(store).state.to_json()
            out["wind_downs_pending"] = _wind_downs(store)
            out["last_events"] = _last_events(store, n_events)
        out["positions"] = list(positions(home, None))
    emit(out)
