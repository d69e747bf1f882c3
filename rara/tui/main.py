"""Running the cockpit: against a server, or against a state DB served in-process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rara.tui.app import RaraApp
from rara.tui.client import ServerAddress


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """The terminal is the app's while it runs: a log line on stderr would tear the screen (what
    goes wrong shows in the app: the connection line, a notification)."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def run_live(address: ServerAddress) -> None:
    with _quiet_logs():
        RaraApp(address).run()


def run_replay(db: Path) -> None:
    """Serve `db` read-only on a random loopback port in this process and show it."""
    with _quiet_logs():
        asyncio.run(_replay(db))


async def _replay(db: Path) -> None:
    from rara.tui.replay import replay_server

    async with replay_server(db) as address:
        await RaraApp(address, replay_label=f"replay of {db}").run_async()
