"""What a daemon is started with: `rara run`'s options, the settings its components read (which
SIGHUP replaces), where a replay's paper trading starts, and what the gRPC server component
gets from the daemon (the server is an adapter at the edge: `rara run` hands in a factory)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rara.config import Settings, load_settings
from rara.daemon.control import DaemonControl
from rara.daemon.trading import PaperFeed
from rara.data.catalog import Catalog
from rara.domain.market import parse_utc
from rara.errors import RaraError
from rara.home import Home
from rara.supervision import Component


@dataclass(frozen=True)
class RunOptions:
    """`rara run`'s options."""

    paper_only: bool = False
    research: bool = True
    paper_feed: PaperFeed = "replay"
    speed: float | None = None  # None: max
    live: bool = False
    duration_s: float | None = None
    open_timeout_s: float = 300.0  # start-up's wait for every account to reconcile
    server: bool = True  # serve the gRPC API (when ``server.enabled``); --no-server: not

    def to_event(self) -> dict[str, str | int | float | bool | None]:
        return {
            "paper_only": self.paper_only,
            "research": self.research,
            "server": self.server,
            "feed": self.paper_feed,
            "speed": self.speed,
            "live": self.live,
            "duration_s": self.duration_s,
        }


@dataclass(frozen=True)
class DaemonParts:
    """What the gRPC server component gets from the daemon that runs it. The server is an
    adapter at the edge (`rara.server`): the daemon does not import it, `rara run` hands in a
    factory that builds it from these."""

    home: Home
    settings: Callable[[], Settings]  # read when the server (re)starts
    control: DaemonControl


ServerFactory = Callable[[DaemonParts], Component]


class SettingsRef:
    """The settings every component reads at its next turn; SIGHUP replaces them."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._current = load_settings(home)
        self._lock = threading.Lock()

    def __call__(self) -> Settings:
        with self._lock:
            return self._current

    def reload(self) -> tuple[bool, list[str], str]:
        """Read the config again: (applied, changed keys, detail)."""
        try:
            fresh = load_settings(self.home)
        except (RaraError, ValueError) as exc:
            return False, [], f"kept the running settings: {str(exc)[:500]}"
        with self._lock:
            old, self._current = self._current, fresh
        return True, _changed(old.model_dump(), fresh.model_dump()), ""


def _changed(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b)):
            out.extend(_changed(a.get(k), b.get(k), f"{prefix}{k}."))
        return out
    return [] if a == b else [prefix.rstrip(".")]


def replay_start_ms(home: Home, settings: Settings) -> int | None:
    """Where a replay's paper trading starts (research sees only the bars before it)."""
    d = settings.daemon
    if d.replay_from is not None:
        return parse_utc(d.replay_from)
    rs = d.research
    try:
        inst = Catalog(home.data_dir).resolve(rs.symbol, rs.timeframe, rs.exchange)
        ts = Catalog(home.data_dir).load(inst).ts
    except RaraError:
        return None  # no research market stored: replays start at their first bar
    return int(ts[int(len(ts) * (1 - d.replay_fraction))]) if len(ts) else None
