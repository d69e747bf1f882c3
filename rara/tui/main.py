"""Running the cockpit: against a server, or against a state DB served in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rara.tui.app import RaraApp
from rara.tui.client import ServerAddress


def run_live(address: ServerAddress) -> None:
    RaraApp(address).run()


def run_replay(db: Path) -> None:
    """Serve `db` read-only on a random loopback port in this process and show it."""
    asyncio.run(_replay(db))


async def _replay(db: Path) -> None:
    from rara.tui.replay import replay_server

    async with replay_server(db) as address:
        await RaraApp(address, replay_label=f"replay of {db}").run_async()
