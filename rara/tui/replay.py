"""`rara tui --replay RARA_DB`: the read-only server over a state DB, in this process, on a
random loopback port, with a token made up for this session only (never written or shown)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from rara.tui.client import ServerAddress


@asynccontextmanager
async def replay_server(db: Path) -> AsyncIterator[ServerAddress]:
    # the server is another adapter at the edge; imported here so a live `rara tui` never loads it
    from rara.server import RaraServer
    from rara.server.auth import Token, Tokens

    token = secrets.token_urlsafe(32)
    server = RaraServer.read_only(
        db, host="127.0.0.1", port=0, tokens=Tokens([Token("replay", "read", token)])
    )
    port = await server.start()
    try:
        yield ServerAddress(f"127.0.0.1:{port}", token)
    finally:
        await server.stop()
