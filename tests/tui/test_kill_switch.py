"""The kill switch: K asks first (no answers no), yes calls Kill on the server, and trading is
HALTED in the log the engines read before every order; the badge shows it. Once over a server
whose control port writes the kill switch as `rara kill` does, once against a real daemon."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from rara.events import open_event_store
from rara.trading.control import Control
from rara.tui.app import RaraApp
from rara.tui.client import ServerAddress, read_token
from rara.tui.dialogs import ConfirmScreen
from tests.kit.cli import CliResult
from tests.kit.daemon import planted_edge_home
from tests.kit.daemon_process import DaemonProcess
from tests.kit.live import wait_for
from tests.tui.kit import SIZE, LogControl, connected, serve, until

pytestmark = pytest.mark.slow


def _badge(app: RaraApp) -> str:
    return str(app.query_one("#badge").render())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def test_kill_switch_dialog_halts_the_daemons_trading(
    cli: Callable[..., CliResult], rara_home: Path
) -> None:
    """The same dialog against a real daemon (`rara run --feed replay --speed max`) serving
    rara.v1 with its own control token: the daemon records the halt, naming the token."""
    planted_edge_home(rara_home, cli)
    port = _free_port()
    env = {"RARA_SERVER__PORT": str(port)}
    with DaemonProcess(rara_home, "--feed", "replay", "--speed", "max", env=env) as d:
        d.wait_ready()
        tokens = rara_home / "server" / "tokens.json"
        wait_for(tokens.exists, 120, every_s=0.2, why="the server's token file")
        address = ServerAddress(f"127.0.0.1:{port}", read_token(tokens))
        asyncio.run(_kill_through_the_dialog(address, d))
        (halt,) = [e for e in d.events("trading_state_changed") if e.source == "server"]
        assert halt.payload["state"] == "HALTED" and halt.payload["requested_by"] == "control"


async def _kill_through_the_dialog(address: ServerAddress, d: DaemonProcess) -> None:
    def halted() -> bool:
        return any(e.payload["state"] == "HALTED" for e in d.events("trading_state_changed"))

    app = RaraApp(address, heartbeat_ms=200)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: connected(app), "the connection", timeout_s=180)
        await until(pilot, lambda: "ACTIVE" in _badge(app), "trading ACTIVE")
        await pilot.press("K")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the dialog")
        await pilot.press("y")
        await until(pilot, halted, "the daemon's halt")
        await until(pilot, lambda: "HALTED" in _badge(app), "the badge")
