"""The Events tab's type filter, search and pause, and the Strategies tab's demote behind its
confirmation, against a real read-only server over the planted-edge DB (which refuses control:
the refusal shows, nothing moves)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, TabbedContent

from rara.tui.app import RaraApp
from rara.tui.client import RaraClient
from rara.tui.dialogs import ConfirmScreen
from rara.tui.events import EventsPane
from tests.tui.kit import SIZE, connected, serve, until

pytestmark = pytest.mark.slow


def test_events_filter_search_pause_and_a_refused_demote(planted_home: Path) -> None:
    asyncio.run(_events_and_demote(planted_home))


async def _events_and_demote(home: Path) -> None:
    async with serve(home) as address:
        async with RaraClient(address) as client:
            head = (await client.status()).head_seq
            before = {s.strategy_id: s.stage for s in await client.strategies()}
        app = RaraApp(address, heartbeat_ms=200)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: connected(app), "the connection")
            pane = app.query_one(EventsPane)
            await until(pilot, lambda: pane.shown_seqs()[-1:] == [head], "the tail")
            app.query_one(TabbedContent).active = "tab-events"
            await pilot.pause(0.3)

            def types() -> set[str]:
                table = pane.query_one("#tail", DataTable)
                return {str(table.get_row(k)[2]) for k in table.rows}

            pane.query_one("#type-filter", Input).value = "research_"
            await until(
                pilot,
                lambda: types() and all(t.startswith("research_") for t in types()),
                "the filter",
            )
            pane.query_one("#type-filter", Input).value = ""
            pane.query_one("#search", Input).value = "session_ended"
            await until(pilot, lambda: types() == {"trading_session_ended"}, "the search")
            pane.query_one("#search", Input).value = ""

            pane.query_one("#tail", DataTable).focus()
            await pilot.press("p")
            assert pane.paused and "PAUSED" in str(pane.query_one("#tail-state").render())
            await pilot.press("p")
            assert not pane.paused

            # demote asks first; the read-only server refuses, and the stage stays
            app.query_one(TabbedContent).active = "tab-strategies"
            await pilot.pause(0.3)
            app.query_one("#strategies", DataTable).focus()
            await pilot.press("d")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
            await pilot.press("y")
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dismissed")
            await pilot.pause(1.0)
        async with RaraClient(address) as client:
            after = {s.strategy_id: s.stage for s in await client.strategies()}
        assert after == before
