"""The stream worker across a server that dies and comes back on the same port: the app shows
the disconnected state with its retry count, then resumes from the last seq it saw, and the
events appended while it was away arrive once each, with no gap."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from rara.events import open_event_store
from rara.tui.app import RaraApp
from rara.tui.client import ServerAddress
from rara.tui.events import EventsPane
from tests.kit.daemon_process import last_seq
from tests.tui.kit import SIZE, TOKEN, connected, serve, until

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _append(home: Path, n: int) -> None:
    """`n` events through the real event store, as a daemon appends them."""
    from rara.trading.control import kill, resume

    with open_event_store(home / "rara.db") as store:
        for i in range(n):
            if i % 2 == 0:
                kill(store, f"reconnect test {i}", flatten=False, by="test", source="test")
            else:
                resume(store, reason=f"reconnect test {i}", by="test", source="test")


def test_restart_shows_disconnected_then_resumes_without_duplicates(
    planted_home: Path, tmp_path: Path
) -> None:
    asyncio.run(_restart_shows_disconnected_then_resumes_without_duplicates(planted_home, tmp_path))


async def _restart_shows_disconnected_then_resumes_without_duplicates(
    planted_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(planted_home, home)
    port = _free_port()
    app = RaraApp(ServerAddress(f"127.0.0.1:{port}", TOKEN), heartbeat_ms=200)
    async with app.run_test(size=SIZE) as pilot:
        async with serve(home, port=port):
            await until(pilot, lambda: connected(app), "the first connection")
            head = last_seq(home)
            await until(pilot, lambda: app.ledger.last_seq == head, "the log's head")
        # the server is gone: the app says so, and counts its retries
        await until(pilot, lambda: app.connection.state == "disconnected", "disconnected")
        await until(pilot, lambda: app.connection.retries >= 2, "two retries")
        status = str(app.query_one("#status-line").render())
        assert "disconnected" in status and "retry" in status
        _append(home, 6)  # what happened while the TUI was away
        async with serve(home, port=port):
            await until(pilot, lambda: connected(app, connects=2), "the second connection")
            await until(pilot, lambda: app.ledger.last_seq == head + 6, "the new events")
            await pilot.pause(1.0)  # a resume that repeated anything would show it by now
        seqs = app.query_one(EventsPane).shown_seqs()
        assert seqs == sorted(set(seqs)), "an event shown twice or out of order"
        assert seqs[-7:] == list(range(head, head + 7)), "a gap or a duplicate at the resume"
        assert app.ledger.duplicates_dropped == 0, "the server re-sent events the client had"
        assert app.ledger.received == head + 6
