"""What the TUI tests share: a state DB written by the repo's own research and paper runs on the
planted-edge scenario (seeded, so its rows are the same every run), a real `RaraServer` over it
on a random loopback port, and helpers to wait on the app under Pilot."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from rara.tui.app import RaraApp
from rara.tui.client import ServerAddress
from tests.kit.paths import REPO

SIZE = (140, 40)
SCREENSHOTS = REPO / "docs" / "screenshots"
TABS = ("overview", "research", "trading", "strategies", "events")
TOKEN = "tui-test-token-not-a-secret"


@asynccontextmanager
async def serve(home: Path, port: int = 0, control: Any = None) -> AsyncIterator[ServerAddress]:
    """The server helper's `RaraServer` over `home`'s state DB (with `control`: the control
    calls reach it), on 127.0.0.1:`port` (0: a free one)."""
    from rara.daemon_settings import ServerSettings
    from rara.home import Home
    from rara.server.app import RaraServer
    from rara.server.auth import Token, Tokens

    tokens = Tokens([Token("tui-test", "control", TOKEN)])
    settings = ServerSettings(host="127.0.0.1", port=port, heartbeat_s=0.5, poll_s=0.02)
    server = RaraServer(Home(root=home), settings, control=control, tokens=tokens)
    bound = await server.start()
    try:
        yield ServerAddress(f"127.0.0.1:{bound}", TOKEN)
    finally:
        await server.stop()


async def until(pilot: Any, ok: Callable[[], bool], why: str, timeout_s: float = 120.0) -> None:
    """Let the app run until `ok()`; no wall-clock assertion, only a generous bound."""
    waited = 0.0
    while not ok():
        if not pilot.app.is_running:
            raise AssertionError(f"the app exited while waiting for {why}")
        if waited > timeout_s:
            raise AssertionError(f"gave up waiting for {why}")
        await pilot.pause(0.1)
        waited += 0.1


def connected(app: RaraApp, connects: int = 1) -> bool:
    return app.connection.state == "connected" and app.connection.connects >= connects


# Volatile text in a screen: times, event ids, hashes and ports differ run to run though the
# data does not (strategy, run and experiment ids are content hashes of seeded runs and stay).
# Each is replaced by a same-length run of '#' so the layout stays put.
_VOLATILE = [
    re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?"),
    re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
    re.compile(r"\b[0-9a-f]{64}\b"),
    re.compile(r"127\.0\.0\.1:\d+"),
]
_CELL_W = 12.2  # rich's SVG export: one terminal cell is 12.2 units wide
_TEXT = re.compile(r'<text[^>]*\bx="([\d.]+)"[^>]*\by="([\d.]+)"[^>]*>([^<]*)</text>')


def screen_text(svg: str) -> str:
    """The text of an exported screen, cell by cell, line by line, volatile parts masked: what
    a snapshot compares (the SVG's markup carries class names that change with any glyph)."""
    rows: dict[float, dict[int, str]] = {}
    for x, y, text in _TEXT.findall(svg):
        col = round(float(x) / _CELL_W)
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            rows.setdefault(float(y), {})[col + i] = ch
    lines = []
    for _, cells in sorted(rows.items()):
        width = max(cells) + 1
        lines.append("".join(cells.get(i, " ") for i in range(width)).rstrip())
    out = "\n".join(lines)
    for pattern in _VOLATILE:
        out = pattern.sub(lambda m: "#" * len(m.group(0)), out)
    return out + "\n"


class LogControl:
    """A `rara.server.control_port.Control` over the state DB: the kill switch and resume are
    the same functions `rara kill` and `rara resume` call (`rara.trading.control`), so the
    trading state the engines read before every order is what this writes. The research and
    lifecycle calls are the daemon's and are refused here."""

    def __init__(self, db: Path) -> None:
        self.db = db

    async def kill(self, *, flatten: bool, reason: str, by: str) -> int:
        from rara.events import open_event_store
        from rara.trading.control import kill

        def write() -> int:
            with open_event_store(self.db) as store:
                return kill(store, reason, flatten=flatten, by=by, source="server").seq

        return await asyncio.to_thread(write)

    async def resume(self, *, reason: str, by: str) -> int:
        from rara.events import open_event_store
        from rara.trading.control import resume

        def write() -> int:
            with open_event_store(self.db) as store:
                return resume(store, reason=reason, by=by, source="server").seq

        return await asyncio.to_thread(write)

    async def _refused(self) -> int:
        from rara.errors import Refused

        raise Refused("not_here", "only the daemon pauses research or moves strategies")

    async def pause_research(self, *, reason: str, by: str) -> int:
        return await self._refused()

    async def resume_research(self, *, by: str) -> int:
        return await self._refused()

    async def approve_strategy(self, *, strategy_id: str, account: str, by: str) -> int:
        return await self._refused()

    async def demote_strategy(self, *, strategy_id: str, reason: str, by: str) -> int:
        return await self._refused()
