"""`rara tui`: the terminal cockpit (`rara.tui`) over a running server, or over a state DB.

With `--replay RARA_DB` the read-only server (`rara.server`) starts in this process on a random
loopback port over that DB, with a throwaway token, and the TUI connects to it: incident review
goes through the same code path as a live daemon, only without control.
"""

from __future__ import annotations

from pathlib import Path

import click

from rara.errors import BadInput
from rara.home import Home


@click.command("tui")
@click.option("--server", "target", default=None, help="HOST:PORT (default 127.0.0.1:50051).")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The server's token file (default $RARA_HOME/server/tokens.json) or a file holding "
    "just the token.",
)
@click.option(
    "--ca-cert",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The CA (PEM) that signed the server's certificate: connect with TLS.",
)
@click.option(
    "--replay",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A state DB to review: served read-only in this process, no daemon needed.",
)
def command(
    target: str | None, token_file: Path | None, ca_cert: Path | None, replay: Path | None
) -> None:
    """The terminal cockpit over a rara server (--server, --token-file) or, for incident
    review, over a state DB (--replay RARA_DB)."""
    from rara.tui.client import DEFAULT_SERVER, ServerAddress, read_token
    from rara.tui.main import run_live, run_replay

    if replay is not None:
        if target is not None:
            raise BadInput("usage", "--replay serves its own DB", "give --replay or --server")
        if not replay.is_file():
            raise BadInput("usage", f"{replay}: no such state DB", "give the path of a rara.db")
        run_replay(replay)
        return
    from rara.server.auth import token_file as server_token_file

    path = token_file or server_token_file(Home.from_env())
    if not path.is_file():
        raise BadInput("usage", f"{path}: no token file", "start the daemon or give --token-file")
    token = read_token(path)
    ca = ca_cert.read_bytes() if ca_cert is not None else None
    run_live(ServerAddress(target or DEFAULT_SERVER, token, ca))
