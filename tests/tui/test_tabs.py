"""Each tab of the cockpit against a real server over the planted-edge state DB: the rows the
tab shows are the rows the server (and so the DB) holds. Their screens are compared with the
committed snapshots and written to docs/screenshots/ for the README."""

from __future__ import annotations

import asyncio
import difflib
import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from rara.tui.app import RaraApp
from rara.tui.client import RaraClient
from rara.tui.events import EventsPane
from tests.tui.kit import SCREENSHOTS, SIZE, TABS, connected, screen_text, serve, until

pytestmark = pytest.mark.slow
# read at import: the suite's autouse fixture clears RARA_* variables before each test
UPDATE = bool(os.environ.get("RARA_UPDATE_SNAPSHOTS"))


def _rows(app: RaraApp, table_id: str) -> list[list[str]]:
    table = app.query_one(f"#{table_id}", DataTable)
    return [[str(c) for c in table.get_row(key)] for key in table.rows]


def test_each_tab_shows_the_servers_rows(planted_home: Path) -> None:
    asyncio.run(_each_tab_shows_the_servers_rows(planted_home))


async def _each_tab_shows_the_servers_rows(planted_home: Path) -> None:
    async with serve(planted_home) as address:
        async with RaraClient(address) as client:
            status = await client.status()
            experiments = await client.experiments(limit=200)
            strategies = await client.strategies()
            orders = await client.orders(limit=200)
            positions = await client.positions()
        assert experiments.experiments and strategies and orders, "the DB holds the scenario"

        app = RaraApp(address, heartbeat_ms=200)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: connected(app), "the first connection")
            events = app.query_one(EventsPane)
            await until(pilot, lambda: events.shown_seqs()[-1:] == [status.head_seq], "the tail")

            # Overview: the badge, the research line and the equity marks
            assert "ACTIVE" in str(app.query_one("#badge").render())
            research = _rows(app, "candidates")
            assert [r[0] for r in research] == [str(x.iteration) for x in experiments.experiments]
            # Research: every candidate with its outcome and the check that failed it
            outcomes = {(r[1], r[2], r[3]) for r in research}
            assert outcomes == {
                (x.family, x.outcome, x.failed_check or "-") for x in experiments.experiments
            }
            assert any(r[2] == "rejected" and r[3] != "-" for r in research)
            # Strategies: every strategy by stage
            shown = _rows(app, "strategies")
            assert sorted(r[2] for r in shown) == sorted(s.strategy_id[:12] for s in strategies)
            # Trading: orders (with the guard column), positions, the paper account
            assert len(_rows(app, "orders")) == len(orders)
            assert len(_rows(app, "positions")) == len(positions)
            assert {r[0] for r in _rows(app, "accounts")} == {p.account for p in positions}
            # Events: the whole log, in order, once each
            assert events.shown_seqs() == list(
                range(status.head_seq - len(events.shown_seqs()) + 1, status.head_seq + 1)
            )
            assert app.ledger.duplicates_dropped == 0

            tabs = app.query_one(TabbedContent)
            mismatches: list[str] = []
            for tab in TABS:
                tabs.active = f"tab-{tab}"
                await pilot.pause(0.5)
                # the tab underline slides over: a loaded machine may not have finished it
                await pilot.wait_for_scheduled_animations()
                if tab == "research":
                    await until(
                        pilot,
                        lambda: "gate 1" in str(app.query_one("#gate").render()),
                        "gate report",
                    )
                if tab == "strategies":
                    await until(
                        pilot,
                        lambda: "gate 1" in str(app.query_one("#reports").render()),
                        "reports",
                    )
                mismatch = _compare_snapshot(tab, app.export_screenshot(title=f"rara tui: {tab}"))
                if mismatch:
                    mismatches.append(mismatch)
            assert not mismatches, "\n".join(mismatches)


def _compare_snapshot(tab: str, svg: str) -> str | None:
    """Compare the tab's screen with its committed SVG in docs/screenshots/ (the README shows
    them): their text, times, ids, hashes and ports masked, must be equal. A missing one, or
    any with RARA_UPDATE_SNAPSHOTS=1, is (re)written from this run. The mismatch, if any."""
    committed = SCREENSHOTS / f"tui-{tab}.svg"
    if UPDATE or not committed.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        committed.write_text(svg, encoding="utf-8")
        return None if UPDATE else f"{committed}: new, commit it"
    want = screen_text(committed.read_text(encoding="utf-8"))
    got = screen_text(svg)
    if got == want:
        return None
    actual = committed.with_suffix(".actual.svg")
    actual.write_text(svg, encoding="utf-8")
    diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "committed", "now", n=1)
    return f"{tab} differs from {committed} (this run: {actual}):\n" + "\n".join(diff)
