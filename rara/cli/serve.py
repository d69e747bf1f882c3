"""`rara serve`: the gRPC server (`rara.server`) on a home's state DB without a daemon, read-only
(control calls are refused); and `rara server token`, where its bearer tokens are."""

from __future__ import annotations

import asyncio
import signal

import click

from rara.cli.output import emit, emit_lines
from rara.config import load_settings
from rara.errors import BadInput
from rara.home import Home


@click.command("serve")
@click.option("--host", default=None, help="address to bind (default: server.host, 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (default: server.port; 0: any free)")
@click.option(
    "--insecure", is_flag=True, help="serve a non-loopback address without TLS (a trusted network)"
)
def command(host: str | None, port: int | None, insecure: bool) -> None:
    """Serve rara.v1 read-only on this home's state DB (no daemon needed) until SIGTERM or
    Ctrl-C; prints one JSON line with the address once it listens."""
    from rara.server.app import RaraServer

    home = Home.from_env()
    settings = load_settings(home).with_overrides({"server.host": host, "server.port": port})
    server = RaraServer(home, settings.server, control=None, insecure=insecure)

    async def serve() -> None:
        port_bound = await server.start()
        emit_lines(
            [
                {
                    "serving": f"{settings.server.host}:{port_bound}",
                    "port": port_bound,
                    "tls": server.binding.tls,
                    "read_only": True,
                    "token_file": str(server.token_path),
                }
            ]
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await server.stop()

    asyncio.run(serve())


@click.command("token")
@click.option(
    "--show",
    metavar="NAME",
    default=None,
    help="also print this token's value (e.g. read or control); it is a secret",
)
def token(show: str | None) -> None:
    """Where the server's bearer tokens are, and their names and roles (the file is made at
    first use); a value only with --show NAME."""
    from rara.server.auth import ensure_tokens

    path, tokens = ensure_tokens(Home.from_env())
    out: dict[str, object] = {"token_file": str(path), "tokens": tokens.names}
    if show is not None:
        if show not in {t["name"] for t in tokens.names}:
            raise BadInput("unknown_token", f"no token named {show!r}", "see `rara server token`")
        out["token"] = tokens.get(show).value
    emit(out)
