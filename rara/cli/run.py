"""`rara run`: the daemon (`rara.daemon.app`): research, paper and live trading, feedback, the
sentinel and the gRPC server (`rara.server.component`) in one supervised process, until
SIGTERM."""

from __future__ import annotations

import click

from rara.cli.paper import parse_speed
from rara.config import load_settings
from rara.home import Home
from rara.research.run_setup import parse_duration


@click.command("run")
@click.option("--paper-only", is_flag=True, help="trade nothing live, whatever was approved")
@click.option("--no-research", is_flag=True, help="do not run research (trade and judge only)")
@click.option(
    "--feed",
    type=click.Choice(["replay", "exchange"]),
    default="replay",
    show_default=True,
    help="paper trading's bars: a replay of stored candles (offline), or closed bars polled "
    "from the exchange",
)
@click.option(
    "--speed",
    default="max",
    show_default=True,
    help="replay speed: max, or N times real time (3600 replays a 1h bar per second)",
)
@click.option(
    "--live", is_flag=True, help="the third opt-in for accounts whose mode is live (see README)"
)
@click.option("--duration", default=None, help="stop by itself after this long, e.g. 10m")
@click.option(
    "--no-server",
    is_flag=True,
    help="do not serve the gRPC API (the [server] settings; server.enabled = false does the same)",
)
def command(
    paper_only: bool,
    no_research: bool,
    feed: str,
    speed: str,
    live: bool,
    duration: str | None,
    no_server: bool,
) -> None:
    """Run the daemon: research, paper and live trading, feedback, the sentinel and the gRPC
    server, supervised, until SIGTERM (a clean stop) or --duration; what it does is in the
    event log and `rara status`."""
    from rara.daemon.app import run_daemon
    from rara.daemon.options import RunOptions, ServerFactory

    options = RunOptions(
        paper_only=paper_only,
        research=not no_research,
        paper_feed="replay" if feed == "replay" else "exchange",
        speed=parse_speed(speed),
        live=live,
        duration_s=parse_duration(duration),
        server=not no_server,
    )
    home = Home.from_env()
    server: ServerFactory | None = None
    settings = load_settings(home)
    if not no_server and settings.server.enabled:  # grpc loads only to serve
        from rara.server.bind import binding
        from rara.server.component import ServerComponent

        binding(settings.server)  # no TLS off loopback: refused before anything
        server = ServerComponent
    code = run_daemon(home, options, server)
    if code:
        raise SystemExit(code)
