"""The kill switch: K asks first (no answers no), yes calls Kill on the server, and trading is
HALTED in the log the engines read before every order; the badge shows it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from rara.events import open_event_store
from rara.trading.control import Control
from rara.tui.app import RaraApp
from rara.tui.dialogs import ConfirmScreen
from tests.tui.kit import SIZE, LogControl, connected, serve, until

pytestmark = pytest.mark.slow


def _trading_state(db: Path) -> str:
    with open_event_store(db, readonly=True) as store:
        return str(Control(store).state)


def test_kill_switch_dialog_halts_trading(planted_home: Path, tmp_path: Path) -> None:
    asyncio.run(_kill_switch_dialog_halts_trading(planted_home, tmp_path))


async def _kill_switch_dialog_halts_trading(planted_home: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(planted_home, home)
    db = home / "rara.db"
    assert _trading_state(db) == "ACTIVE"
    async with serve(home, control=LogControl(db)) as address:
        app = RaraApp(address, heartbeat_ms=200)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: connected(app), "the connection")

            await pilot.press("K")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
            await pilot.press("n")  # a no changes nothing
            await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "dismissed")
            await pilot.pause(0.5)
            assert _trading_state(db) == "ACTIVE"

            await pilot.press("K")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
            await pilot.press("y")
            await until(pilot, lambda: _trading_state(db) == "HALTED", "trading halted")
            await until(
                pilot, lambda: "HALTED" in str(app.query_one("#badge").render()), "the badge"
            )
