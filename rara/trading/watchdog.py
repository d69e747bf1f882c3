"""rara's own dead man's switch for a venue without a server-side one (Binance spot): a process
beside the engine that cancels the account's open orders when the engine's heartbeat stops.

The engine (`rara.trading.deadman.WatchdogDeadman`) keeps a heartbeat file,
``$RARA_HOME/run/deadman-<account>.json`` (`Heartbeat`, atomically replaced on every re-arm):
when it expires, the engine's pid, the account's symbols and how to open the account's venue
(`VenueSpec`: a factory ``module:function`` inside ``rara``, called with the home and its args,
e.g. `paper_venue` for a paper account; the ccxt accounts plug their own). It starts::

    python -m rara.trading.watchdog --account NAME --engine-pid PID [--poll-s 0.5]

which polls the heartbeat. Past ``expires_ms`` (wall clock) it cancels every open order of the
account's symbols through its own venue connection and journals ``trading_deadman_fired``
(``detected_by="watchdog"``, event id ``deadman-fired:<account>:<expires_ms>``, the id the
engine uses when it wakes and finds the same firing, so the log says it once). A cancel that
gets no answer is tried again on the next poll. It keeps watching after firing (an engine that
wakes re-arms it), and exits when the engine disarms (heartbeat removed or ``stopped``), when
another engine took the account over (another pid in the heartbeat), or when the engine's
process is gone and nothing is open.

What it cannot cover: it runs on the engine's host. A host that dies, sleeps or loses its
network takes the watchdog with it, and the orders stay open; only an exchange's server-side
cancel-all-after survives that. A stalled or stopped engine (SIGSTOP, a hung loop) is covered.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rara.domain.events import TradingDeadmanFired
from rara.errors import BadInput
from rara.home import Home
from rara.trading.venue import Venue, VenueError

VenueFactory = Callable[[Home, Mapping[str, Any]], Venue]


class VenueSpec(BaseModel):
    """How the watchdog opens the account's venue on its own: ``factory`` names a function
    ``module:function`` in a ``rara`` module, called as ``factory(home, args)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    factory: str = Field(pattern=r"^rara(\.[A-Za-z_][A-Za-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*$")
    args: dict[str, Any] = Field(default_factory=dict)


class Heartbeat(BaseModel):
    """What the engine tells its watchdog, rewritten on every re-arm."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(min_length=1)
    exchange: str
    symbols: tuple[str, ...] = Field(min_length=1)
    venue: VenueSpec
    timeout_ms: int = Field(gt=0)
    expires_ms: int = Field(description="wall-clock ms: cancel everything after this")
    engine_pid: int
    watchdog_pid: int | None = None
    stopped: bool = False


def heartbeat_path(home: Home, account: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", account)
    return home.root / "run" / f"deadman-{safe}.json"


def write_heartbeat(path: Path, beat: Heartbeat) -> None:
    """Replace the heartbeat atomically: a reader sees the old one or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(beat.model_dump_json(), encoding="utf-8")
    os.replace(tmp, path)


def read_heartbeat(path: Path) -> Heartbeat | None:
    """The heartbeat, or None when there is none (the engine disarmed)."""
    try:
        return Heartbeat.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def open_venue(home: Home, spec: VenueSpec) -> Venue:
    """The venue `spec` names; BadInput if its factory cannot be found."""
    module_name, _, func = spec.factory.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), func)
    except (ImportError, AttributeError) as exc:
        raise BadInput(
            "watchdog_venue_factory",
            f"the watchdog cannot find the venue factory {spec.factory}: {exc}",
            "name a function module:function in a rara module",
        ) from exc
    venue: Venue = factory(home, spec.args)
    return venue


def paper_venue(home: Home, args: Mapping[str, Any]) -> Venue:
    """A paper account's venue, on the home's state DB (the fill model does not matter: the
    watchdog only cancels). Args: account, exchange, symbols."""
    from rara.trading.venues.paper import PaperVenue

    return PaperVenue(
        home.state_db,
        str(args["account"]),
        exchange=str(args["exchange"]),
        symbols=[str(s) for s in args["symbols"]],
        fee=0.0,
        slippage=0.0,
    )


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust the signal
    return stat.rpartition(")")[2].split()[0] != "Z"


def cancel_open(venue: Venue, symbols: Sequence[str]) -> tuple[list[str], bool]:
    """Cancel every open order of `symbols`: (client ids canceled, whether every query and
    cancel was answered)."""
    canceled: list[str] = []
    answered = True
    for symbol in symbols:
        try:
            orders = venue.open_orders(symbol)
        except VenueError:
            answered = False
            continue
        for order in orders:
            try:
                venue.cancel(order.client_order_id, symbol)
            except VenueError:
                answered = False
                continue
            canceled.append(order.client_order_id)
    return canceled, answered


def fired_event_id(account: str, expires_ms: int) -> str:
    return f"deadman-fired:{account}:{expires_ms}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def watch(home: Home, account: str, engine_pid: int, poll_s: float) -> str:
    """Poll the heartbeat until there is nothing left to guard; why it stopped."""
    from rara.events import open_event_store
    from rara.trading.reconcile_report import append_once

    path = heartbeat_path(home, account)
    venue: Venue | None = None
    fired_for: int | None = None  # the expiry already acted on
    canceled: list[str] = []
    try:
        while True:
            try:
                beat = read_heartbeat(path)
            except (ValidationError, OSError, json.JSONDecodeError):
                time.sleep(poll_s)  # never half-written (atomic replace); a disk hiccup
                continue
            if beat is None or beat.stopped:
                return "disarmed"
            if beat.engine_pid != engine_pid:
                return "another engine took the account over"
            engine_alive = pid_alive(engine_pid)
            if _now_ms() > beat.expires_ms and fired_for != beat.expires_ms:
                venue = venue or open_venue(home, beat.venue)
                done, answered = cancel_open(venue, beat.symbols)
                canceled += done
                if answered:
                    fired = TradingDeadmanFired(
                        account=account,
                        exchange=beat.exchange,
                        method="watchdog",
                        expired_ms=beat.expires_ms,
                        detected_by="watchdog",
                        canceled=canceled,
                    )
                    with open_event_store(home.state_db) as store:
                        append_once(
                            store, fired, fired_event_id(account, beat.expires_ms), "watchdog"
                        )
                    fired_for, canceled = beat.expires_ms, []
            if not engine_alive:
                venue = venue or open_venue(home, beat.venue)
                if fired_for == beat.expires_ms or not _anything_open(venue, beat.symbols):
                    return "the engine is gone and nothing is open"
            time.sleep(poll_s)
    finally:
        close = getattr(venue, "close", None)
        if callable(close):
            close()


def _anything_open(venue: Venue, symbols: Sequence[str]) -> bool:
    try:
        return any(venue.open_orders(s) for s in symbols)
    except VenueError:
        return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rara.trading.watchdog")
    parser.add_argument("--account", required=True)
    parser.add_argument("--engine-pid", type=int, required=True)
    parser.add_argument("--poll-s", type=float, default=0.5)
    args = parser.parse_args(argv)
    why = watch(Home.from_env(), args.account, args.engine_pid, args.poll_s)
    print(json.dumps({"account": args.account, "exited": why}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
