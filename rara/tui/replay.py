"""`rara tui --replay RARA_DB`: the read-only server (`rara serve`'s) over a state DB, in this
process, on a random loopback port, with a token made up for this session only (never written
or shown). The TUI then reads the DB through the same calls as a live daemon's."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from rara.home import Home
from rara.tui.client import ServerAddress


@asynccontextmanager
async def replay_server(db: Path) -> AsyncIterator[ServerAddress]:
    # the server is another adapter at the edge; imported here so a live `rara tui` never loads it
    from rara.daemon_settings import ServerSettings
    from rara.server.app import RaraServer
    from rara.server.auth import Token, Tokens

    token = secrets.token_urlsafe(32)
    tokens = Tokens([Token("replay", "read", token)])
    settings = ServerSettings(host="127.0.0.1", port=0)
    db = db.resolve()
    with tempfile.TemporaryDirectory(prefix="rara-replay-") as tmp:
        root = db.parent
        if db.name != Home(root=root).state_db.name:  # the server reads <home>/rara.db
            root = Path(tmp)
            (root / Home(root=root).state_db.name).symlink_to(db)
        server = RaraServer(Home(root=root), settings, control=None, tokens=tokens)
        port = await server.start()
        try:
            yield ServerAddress(f"127.0.0.1:{port}", token)
        finally:
            await server.stop()
